"""The estimators behind the commands: embed images once, fit classifiers on class names.

The commands build :class:`~skclip_sage.ClipImageEmbedder` and
:class:`~skclip_sage.SageZeroShotClassifier` from the same options, so the model
loads once per process (the encoder registry shares it between them).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..exceptions import NON_FINITE_REASON
from ..selection import SELECTION_METHODS, SELECTIONS
from ..selection import check_k as table_check_k
from ._errors import InputError, UsageError
from ._runtime import LOGGER, show_progress


@dataclass
class EmbeddedImages:
    """The outcome of :func:`embed_images`.

    Attributes
    ----------
    embeddings : ndarray of shape (n_readable, n_features), float32
        Embeddings of the images that could be read, in input order.
    kept : ndarray of shape (n_readable,)
        Input positions of those images.
    failures : list of (str, str)
        ``(path, reason)`` of each image that could not be read, or whose embedding
        was not finite, in input order.
    """

    embeddings: np.ndarray
    kept: np.ndarray
    failures: list

    def require_some(self, n_images, task):
        """Raise an ``InputError`` saying why when no image gave an embedding.

        Parameters
        ----------
        n_images : int
            How many images were given.
        task : str
            What the embeddings were for (``"classify"``), for the message.
        """
        if len(self.kept):
            return
        non_finite = sum(reason == NON_FINITE_REASON for _, reason in self.failures)
        if not non_finite:
            raise InputError(f"none of the {n_images} image(s) could be read; nothing to {task}.")
        unread = n_images - non_finite
        raise InputError(
            f"none of the {n_images} image(s) gave an embedding: {non_finite} were read but the model returned "
            f"a non-finite embedding (NaN or infinity) for them, {unread} could not be read; nothing to {task}. "
            "Check the model (its weights may hold NaN) or try --precision fp32."
        )


def model_options(args):
    """The keyword arguments both estimators take from the command line."""
    return {
        "pretrained": args.pretrained,
        "device": args.device,
        "precision": args.precision,
        "batch_size": args.batch_size,
        "cache_dir": args.cache_dir,
        "verbose": show_progress(args.quiet),
    }


def embed_images(images, args):
    """Embed every image of ``images`` (an ``ImageList``) under ``--on-error``.

    With ``--on-error raise`` one unreadable image stops the command (after every
    unreadable file has been named on stderr); with ``skip`` the others are embedded
    and the failures come back in the result.

    Parameters
    ----------
    images : ImageList
        Paths to name in messages and locations to read.
    args : argparse.Namespace
        The parsed command line (model options, ``num_workers``, ``on_error``).

    Returns
    -------
    result : EmbeddedImages
    """
    from .._embedder import ClipImageEmbedder
    from ..exceptions import SkippedImagesWarning, UnreadableImagesError

    embedder = ClipImageEmbedder(
        args.model,
        num_workers=args.num_workers,
        on_error="warn" if args.on_error == "skip" else "raise",
        **model_options(args),
    )
    LOGGER.info("loading model %s", args.model)
    embedder.fit()
    LOGGER.info("embedding %d image(s)", len(images.locations))
    repeated = len(images.paths) - len(set(images.paths))
    if repeated:
        # Kept, not dropped: every input gets its row, but overlapping folders and
        # globs are usually a mistake worth a note.
        LOGGER.info("%d image path(s) were given more than once; each occurrence gets its own row", repeated)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SkippedImagesWarning)
            embeddings = embedder.transform(images.locations)
    except UnreadableImagesError as err:
        _stop(err.failures, images, err)
    failures = []
    for record in caught:
        if issubclass(record.category, SkippedImagesWarning):
            failures.extend(record.message.failures)
        else:
            # Back through the active filters: logged, or raised under --strict.
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
    failures.sort()
    for position, _, reason in failures:
        LOGGER.warning("could not %s %r: %s", _verb(reason), images.paths[position], reason)
    if failures:
        LOGGER.warning("skipped %d of %d image(s) that gave no embedding", len(failures), len(images.paths))
    kept = np.flatnonzero(np.isfinite(embeddings).all(axis=1))
    return EmbeddedImages(
        embeddings[kept], kept, [(images.paths[position], reason) for position, _, reason in failures]
    )


def _verb(reason):
    """``"embed"`` for an image that was read but gave a non-finite embedding, else ``"read"``."""
    return "embed" if reason == NON_FINITE_REASON else "read"


def _stop(failures, images, cause=None):
    """Under ``--on-error raise``: name every image that gave no embedding on stderr, then raise."""
    for position, _, reason in failures:
        LOGGER.error("could not %s %r: %s", _verb(reason), images.paths[position], reason)
    non_finite = sum(_verb(reason) == "embed" for _, _, reason in failures)
    what = "could not be read"
    if non_finite:
        what = (
            f"gave no embedding ({len(failures) - non_finite} could not be read, {non_finite} were read but the "
            "model returned a non-finite embedding (NaN or infinity) for them)"
        )
    raise InputError(
        f"{len(failures)} of {len(images.paths)} image(s) {what}, listed above; nothing was written. Pass "
        "--on-error skip to process the others and list these in a failures file."
    ) from cause


def fixed_selection(selection):
    """Whether ``selection`` gives every image the same templates (chosen once, in ``fit``).

    Outputs then list that template set once instead of on every row.
    """
    from ..selection import SELECTION_METHODS

    return not SELECTION_METHODS[selection].per_image


def parse_selections(text):
    """Split ``--compare sage,ensemble`` into checked selection names, in order, without repeats."""

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SELECTIONS]
    if unknown or not names:
        raise UsageError(f"--compare {text!r}: choose from {', '.join(SELECTIONS)}, separated by commas.")
    return list(dict.fromkeys(names))


def check_k(k_values, n_templates, selections):
    """Fail before any model work when a ``--k`` cannot be used with the templates given.

    The rule is the method table's (:func:`skclip_sage.selection.check_k`), the one the
    classifier applies.
    """
    for selection in selections:
        for k in k_values:
            try:
                table_check_k(SELECTION_METHODS[selection], k, n_templates, "templates given")
            except ValueError as err:
                raise UsageError(f"--k {k}: {err}") from err


def resolve_seed(seed, selections):
    """The seed for the random selections: ``--seed``, or a fresh one that is logged.

    A fixed seed also makes the predictions and the reported templates come from
    the same random draw.
    """
    if seed is not None or not any(SELECTION_METHODS[name].random for name in selections):
        return seed
    seed = int(np.random.SeedSequence().entropy % 2**32)
    LOGGER.info("random selection seeded with %d; pass --seed %d to repeat this run", seed, seed)
    return seed


def check_prompts(args, *, labels, prompt_names, templates):
    """Fail before any image is embedded when the classes or the prompts cannot be used.

    A classifier is fitted on the class names alone, with every template (a
    selection that learns from images, ``zpe``, could not be fitted yet); its text
    bank stays in memory, so the fits after embedding encode nothing again.

    Parameters
    ----------
    args : argparse.Namespace
        Model options.
    labels, prompt_names, templates
        As :func:`fit_classifier`.

    Returns
    -------
    width : int
        The width of the model's text embeddings, which the images' must equal
        (:func:`check_width`).
    """
    return _classifier(args, labels, prompt_names, templates, "ensemble", 1, None).fit().n_features_in_


def fit_classifier(args, *, labels, prompt_names, templates, selection, k, seed, images):
    """A :class:`~skclip_sage.SageZeroShotClassifier` fitted on the class names (and, for ZPE, the images).

    Parameters
    ----------
    args : argparse.Namespace
        Model options.
    labels : list
        One label per class (the values ``predict`` returns).
    prompt_names : list of (str or list of str)
        The text, or texts, of each class in prompts, aligned with ``labels``.
    templates : list of str
        Checked templates.
    selection : str
        The selection mode.
    k : int
        Templates per image for the modes that use it.
    seed : int or None
        Seeds ``selection="random"``.
    images : ndarray of shape (n_images, n_features)
        The embeddings being classified, of the width :func:`check_width` checked:
        a selection that learns from unlabelled images (``zpe``) is fitted on them;
        the others ignore them.

    Returns
    -------
    classifier : SageZeroShotClassifier
        Fitted from the class names alone (plus the unlabelled images for ``zpe``);
        ``classes_`` holds the sorted labels.
    """
    classifier = _classifier(args, labels, prompt_names, templates, selection, k, seed)
    if SELECTION_METHODS[selection].learns_from_images:
        return classifier.fit(images)  # transductive: the unlabelled embeddings being classified, no labels
    return classifier.fit()  # the names are the task: no X, no y


def _classifier(args, labels, prompt_names, templates, selection, k, seed):
    from .._classifier import SageZeroShotClassifier

    return SageZeroShotClassifier(
        args.model,
        templates=templates,
        class_names=dict(zip(labels, prompt_names)),
        selection=selection,
        k=k,
        random_state=seed,
        truncate=args.truncate,
        **model_options(args),
    )


def check_width(width, n_features, model):
    """The images and the prompts were embedded by models of one width, or an ``InputError``.

    Parameters
    ----------
    width : int
        The text embeddings' width (:func:`check_prompts`).
    n_features : int
        The image embeddings' width.
    model : str
        The model option, for the message.
    """
    if width != n_features:
        raise InputError(
            f"The images were embedded with {n_features} features but the text embeddings of {model!r} "
            f"have {width}; embed and classify with the same model."
        )
