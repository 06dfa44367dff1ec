"""zero_shot: images and candidate labels in, ranked ``{"label", "score"}`` answers out, in one call.

The shapes of Hugging Face's ``pipeline("zero-shot-image-classification")``, over
:class:`ClipImageEmbedder` and :class:`SageZeroShotClassifier`. Nothing is kept
here: the loaded model, the image-embedding store and the text-bank cache are the
process-wide ones the estimators already share, so a second call on the same
images with new labels runs only the text encoder.
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np
from PIL import Image

# Chosen by zero_shot for its own estimators: the classes are the candidate labels,
# and a NaN row (an unreadable image under on_error="warn") becomes an empty answer.
_FIXED = ("class_names", "on_nan", "nan_label")
_ONE_IMAGE_TYPES = (str, os.PathLike, bytes, bytearray, memoryview, Image.Image)


def zero_shot(
    images,
    candidate_labels,
    *,
    model="ViT-B-32",
    pretrained="laion2b_s34b_b79k",
    templates="openai_imagenet",
    selection="sage",
    k=1,
    top_k=None,
    **options,
):
    """Classify images among candidate labels zero-shot, in one call.

    Embeds ``images`` with :class:`ClipImageEmbedder`, fits a
    :class:`SageZeroShotClassifier` on ``candidate_labels`` and ranks the labels of
    each image, as Hugging Face's ``pipeline("zero-shot-image-classification")``
    answers. The model loads once per process, and image embeddings and text banks
    are kept in memory between calls: a second call on the same images with other
    labels costs only the encoding of the new prompts.

    Parameters
    ----------
    images : image or iterable of images
        One image (a path, a PIL image, encoded bytes or a uint8 array of shape
        (height, width[, 3])) or any iterable of them, as
        :meth:`ClipImageEmbedder.transform` takes them.
    candidate_labels : list of str
        The labels to choose from, each used as the class name in the prompts.
    model : str or TextImageEncoder, default="ViT-B-32"
        As :class:`SageZeroShotClassifier`: an open_clip name, a model folder, a
        prefixed string or an encoder object with both the text and the image side.
    pretrained : str or None, default="laion2b_s34b_b79k"
        Weights tag or checkpoint file for an open_clip name; ignored otherwise.
    templates : str, path-like or list of str, default="openai_imagenet"
        A built-in set name, a template file (one per line, ``#`` comments) or
        templates each with one ``{}``.
    selection : str, default="sage"
        How templates are chosen or weighted (see
        :func:`~skclip_sage.selection.describe_selections`); ``"single"`` with one
        template is the plain CLIP classifier.
    k : int, default=1
        Templates kept per image by the selections that use ``k``.
    top_k : int or None, default=None
        How many labels each answer has, the most probable first; None gives all.
    **options
        Any other parameter of :class:`ClipImageEmbedder` (``on_error``,
        ``cache_dir``, ``num_workers``...) or of :class:`SageZeroShotClassifier`
        (``temperature``, ``autoclip_beta``...); ``device``, ``precision``,
        ``batch_size``, ``cache_dir`` and ``verbose`` go to both.

    Returns
    -------
    answer : list of dict, or list of lists of dict
        For one image, ``[{"label": str, "score": float}, ...]`` sorted by score
        (ties in the order of ``candidate_labels``); for an iterable, one such list
        per image, in input order. An image that could not be read under
        ``on_error="warn"`` gets an empty list (and the embedder's warning names it).

    Raises
    ------
    UnreadableImagesError
        Under the default ``on_error="raise"``, naming every image that could not be read.
    TypeError
        An option that neither estimator takes.

    See Also
    --------
    ClipImageEmbedder : The image side, as a scikit-learn transformer.
    SageZeroShotClassifier : The text side and the scoring, as a scikit-learn classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage import zero_shot
    >>> class ToyEncoder:  # a stand-in for a CLIP model: red images look like "apple"
    ...     identity, embedding_dim, logit_scale = "toy-zero-shot", 2, 10.0
    ...     def preprocess(self, image):
    ...         import torch
    ...         return torch.tensor(np.asarray(image, dtype=np.float32).mean(axis=(0, 1))[:2])
    ...     def encode_images(self, pixels):
    ...         return pixels
    ...     def encode_text(self, texts):
    ...         return np.array([[1.0, 0.0] if "apple" in t else [0.0, 1.0] for t in texts])
    >>> red = np.zeros((4, 4, 3), dtype=np.uint8); red[..., 0] = 255
    >>> answer = zero_shot(red, ["apple", "leaf"], model=ToyEncoder(), templates=["a photo of a {}."])
    >>> [(item["label"], round(item["score"], 3)) for item in answer]
    [('apple', 1.0), ('leaf', 0.0)]
    """
    from ._classifier import SageZeroShotClassifier
    from ._embedder import ClipImageEmbedder

    labels = _check_labels(candidate_labels)
    if top_k is not None and (not isinstance(top_k, Integral) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"top_k must be a positive int or None (every label); got {top_k!r}.")
    one = _is_one_image(images)
    embedder_options, classifier_options = _split_options(options, ClipImageEmbedder, SageZeroShotClassifier)
    embedder = ClipImageEmbedder(model, pretrained=pretrained, **embedder_options)
    X = embedder.fit_transform([images] if one else images)
    # The classes are positions into candidate_labels: classes_ keeps the caller's
    # order (a dict's keys are sorted, and 0 < 1 < ...), so ties go to the earlier label.
    classifier = SageZeroShotClassifier(
        model,
        pretrained=pretrained,
        templates=templates,
        class_names=dict(enumerate(labels)),
        selection=selection,
        k=k,
        on_nan="propagate",
        **classifier_options,
    )
    readable = np.isfinite(X).all(axis=1)
    # Only the methods that learn from unlabelled images read X in fit; the rest check its width.
    classifier.fit(X[readable] if readable.any() else None)
    answers = [[] for _ in range(len(X))]
    if readable.any():
        ranking, scores = classifier.predict_top_k(X[readable], min(top_k or len(labels), len(labels)))
        for position, row_labels, row_scores in zip(np.flatnonzero(readable), ranking, scores):
            answers[position] = [
                {"label": labels[index], "score": float(score)} for index, score in zip(row_labels, row_scores)
            ]
    return answers[0] if one else answers


def _check_labels(candidate_labels) -> list[str]:
    if isinstance(candidate_labels, str):
        raise ValueError(
            f"candidate_labels must be a list of labels; got the single string {candidate_labels!r}. "
            f"Wrap it in a list, or split it: {candidate_labels.split(',')!r}."
        )
    labels = list(candidate_labels)
    if len(labels) < 2:
        raise ValueError(f"zero_shot needs at least two candidate_labels to choose from; got {labels!r}.")
    if not all(isinstance(label, str) and label.strip() for label in labels):
        raise ValueError(f"candidate_labels must be non-empty strings; got {labels!r}.")
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"candidate_labels names {repeated} more than once; give each label once.")
    return labels


def _is_one_image(images) -> bool:
    """A path, bytes, a PIL image or one uint8 (H, W[, C]) array, rather than a collection of them."""
    if isinstance(images, _ONE_IMAGE_TYPES):
        return True
    return isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim in (2, 3)


def _split_options(options, embedder_class, classifier_class):
    """``options`` as (embedder keyword arguments, classifier keyword arguments)."""
    embedder_names = set(embedder_class().get_params()) - {"model", "pretrained"}
    classifier_names = set(classifier_class().get_params()) - {"model", "pretrained", "templates", "selection", "k"}
    fixed = sorted(set(options) & set(_FIXED))
    if fixed:
        raise TypeError(f"zero_shot sets {fixed} itself (the classes are candidate_labels); leave them out.")
    unknown = sorted(set(options) - embedder_names - classifier_names)
    if unknown:
        known = sorted((embedder_names | classifier_names) - set(_FIXED))
        raise TypeError(f"zero_shot got unexpected options {unknown}; it passes on these: {known}.")
    return (
        {name: value for name, value in options.items() if name in embedder_names},
        {name: value for name, value in options.items() if name in classifier_names},
    )
