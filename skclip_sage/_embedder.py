"""ClipImageEmbedder: images in, unit-norm CLIP embeddings out, as a scikit-learn transformer."""

from __future__ import annotations

import logging
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._model_parameters import MODEL_CONSTRAINTS, fill_model_forms
from .encoders import absolute_model, load_encoder
from .exceptions import (
    NON_FINITE_REASON,
    ModelLoadError,
    NotFittedError,
    SkippedImagesWarning,
    UnreadableImagesError,
)
from .io import (
    DEFAULT_MEMORY_CACHE_BYTES,
    TieredCache,
    as_image_sources,
    describe_image_source,
    image_key_parts,
    is_one_shot_iterator,
    producer_of,
)
from .utils._eval_mode import evaluating

ON_ERROR = ("raise", "warn")
"""What :class:`ClipImageEmbedder` does with images it cannot read."""

FAILURES_SHOWN = 5
IMAGE_CACHE = "image_embeddings"  # the folder under cache_dir, also part of each key
LOGGER = logging.getLogger("skclip_sage")


@fill_model_forms
class ClipImageEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Embed images with a CLIP image encoder.

    Images are decoded and preprocessed in a torch DataLoader (in worker
    processes when ``num_workers > 0``) and encoded in ``torch.inference_mode``
    with the model in eval mode; embeddings are L2-normalised float32.

    ``fit`` reads no image: it loads the model and learns its width. Embeddings
    are kept in memory (``memory_cache``), so in a ``Pipeline``, ``fit`` and
    ``predict`` on the same images, and every fold and candidate of
    ``cross_validate`` or ``GridSearchCV``, run the model once per image.

    Parameters
    ----------
    model : str or TextImageEncoder, default="ViT-B-32"
        A model string in one of the forms of the table of backends
        (:func:`~skclip_sage.encoders.model_forms`; :func:`~skclip_sage.encoders.available_models`
        also lists the paper's backbones):

        %(model_forms)s

        or an object with ``preprocess``, ``encode_images`` and ``embedding_dim``
        (a ``torch.nn.Module`` is run in eval mode, its training flag restored after).
        A relative ``local-dir:`` or ``transformers:`` folder is resolved against the
        working directory at ``fit`` (``resolved_model_``), so a fitted and pickled
        embedder loads anywhere that folder still is.
    pretrained : str or None, default="laion2b_s34b_b79k"
        Weights tag or local checkpoint file for a model name; ignored otherwise.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        ``"auto"`` uses CUDA when present.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast precision; ``"auto"`` is bf16 (or fp16) on GPU, fp32 on CPU.
    batch_size : int, default=64
        Images per forward pass; halved automatically on GPU out-of-memory.
    num_workers : int, default=0
        DataLoader worker processes decoding images; 0 decodes in this process.
    cache_dir : str or path-like, default=None
        Keep embeddings on disk, across processes and runs, under the keys of
        ``memory_cache``, so a second transform of the same files does not run
        the model. Written as each batch finishes: an interrupted transform loses
        at most the batch in flight. Entries are checked on read (model, dtype,
        width, finite, unit norm); a bad one is recomputed with one
        :class:`~skclip_sage.exceptions.InvalidCacheEntryWarning`. A folder that
        cannot be written gives one :class:`~skclip_sage.exceptions.CacheWriteWarning`
        and every embedding is still returned.
    memory_cache : int, default=268435456
        Bytes of embeddings kept in this process's memory (256 MiB: about 120,000
        rows of 512 floats); 0 keeps none (this embedder neither reads nor writes
        the store); a boolean is refused (``True`` is not a size). The process has
        one store, shared by every embedder and text bank; its bound is the largest
        asked for since it was cleared, so a smaller value never forgets another's
        rows. Rows are keyed by the model (identity, precision, device kind),
        ``jpeg_draft`` and the image: a file by its absolute path, inode, size,
        modification and status-change times (an edited or replaced file is
        embedded again, even with its size and modification time kept; its contents
        are not read to key it), an in-memory image by what is converted to RGB
        (pixels, palette, transparency, EXIF orientation). The store forgets the
        least recently used rows first; an encoder object without an ``identity``
        is never cached. :func:`skclip_sage.io.clear_memory_caches` empties it.
    jpeg_draft : bool, default=True
        Let the JPEG decoder downscale by 1/2, 1/4 or 1/8 while both sides stay at
        least the model's input size (the preprocessing shrinks them anyway):
        about twice as fast to decode a 1024x768 photo, with embeddings that differ
        from a full decode by resampling noise. False decodes every pixel, as
        open_clip's and transformers' own preprocessing do. Other formats, and
        encoder objects without an ``image_size``, are always decoded in full.
    on_error : {"raise", "warn"}, default="raise"
        Images that cannot be read, or whose embedding comes out NaN or infinite:
        ``"raise"`` lists them all in one error; ``"warn"`` embeds the rest,
        returns NaN rows for them and emits one
        :class:`~skclip_sage.exceptions.SkippedImagesWarning` (a classifier with
        ``on_nan="propagate"`` carries such rows through a pipeline).
    verbose : bool, default=False
        Show a progress bar counting images (cleared when done).

    Attributes
    ----------
    embedding_dim_ : int
        Width of the embeddings (the number of output features).
    n_features_in_ : int
        Always 1: one image per row.
    feature_names_in_ : ndarray of shape (1,)
        The path column's name, when fitted on a DataFrame.
    resolved_model_ : str
        ``model`` with a relative ``local-dir:`` or ``transformers:`` folder made
        absolute at ``fit``; only when ``model`` is a string.

    See Also
    --------
    SageZeroShotClassifier : Classifies these embeddings zero-shot.

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage import ClipImageEmbedder
    >>> class ToyEncoder:  # a stand-in for a CLIP model
    ...     identity, embedding_dim, logit_scale = "toy", 3, 100.0
    ...     def preprocess(self, image):
    ...         import torch
    ...         return torch.tensor(np.asarray(image, dtype=np.float32).mean(axis=(0, 1)))
    ...     def encode_images(self, pixels):
    ...         return pixels + 1.0
    >>> images = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    >>> ClipImageEmbedder(ToyEncoder()).fit_transform(images).round(3)
    array([[0.577, 0.577, 0.577],
           [0.577, 0.577, 0.577]], dtype=float32)
    >>> ClipImageEmbedder(ToyEncoder()).fit_transform(image for image in images).shape  # any iterable
    (2, 3)
    """

    _parameter_constraints: dict = {
        "model": [str, HasMethods(["encode_images", "preprocess"])],
        **MODEL_CONSTRAINTS,
        "num_workers": [Interval(Integral, 0, None, closed="left")],
        "memory_cache": [Interval(Integral, 0, None, closed="left")],
        "jpeg_draft": ["boolean"],
        "on_error": [StrOptions(set(ON_ERROR))],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model="ViT-B-32",
        *,
        pretrained="laion2b_s34b_b79k",
        device="auto",
        precision="auto",
        batch_size=64,
        num_workers=0,
        cache_dir=None,
        memory_cache=DEFAULT_MEMORY_CACHE_BYTES,
        jpeg_draft=True,
        on_error="raise",
        verbose=False,
    ):
        self.model = model
        self.pretrained = pretrained
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.cache_dir = cache_dir
        self.memory_cache = memory_cache
        self.jpeg_draft = jpeg_draft
        self.on_error = on_error
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Load the model; the images themselves are not read.

        Parameters
        ----------
        X : iterable of images, ndarray or one-column DataFrame, default=None
            Checked for shape only. A one-shot iterator (a generator, ``map``,
            ``Path.glob``) is not consumed: pass the same kind of input to
            ``fit_transform``, which reads it once.
        y : None
            Ignored.

        Returns
        -------
        self : ClipImageEmbedder
        """
        self._fit(None if X is None or is_one_shot_iterator(X) else as_image_sources(X), X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Load the model and embed ``X``, reading it once (so any iterable works).

        Parameters
        ----------
        X : iterable of images, ndarray or one-column DataFrame
            As :meth:`transform`.
        y : None
            Ignored.

        Returns
        -------
        embeddings : ndarray of shape (n_images, embedding_dim_), float32
            As :meth:`transform`.
        """
        sources = as_image_sources(X)  # once: a generator is empty the second time
        self._fit(sources, X)
        return self._transform_sources(sources)

    def _fit(self, sources, X):
        if isinstance(self.memory_cache, bool):
            # bool is an int to Python: True would silently mean a store of 1 byte.
            raise InvalidParameterError(
                f"The 'memory_cache' parameter of ClipImageEmbedder is a number of bytes, not a boolean; got "
                f"{self.memory_cache!r}. Pass a size such as {DEFAULT_MEMORY_CACHE_BYTES} (the default, 256 MiB) "
                "to keep embeddings in memory, or 0 to keep none."
            )
        if (
            sources is not None
            and sources.column is not None
            and isinstance(sources.column, str)
            and hasattr(X, "columns")
        ):
            self.feature_names_in_ = np.asarray([sources.column], dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if isinstance(self.model, str):
            self.resolved_model_ = absolute_model(self.model)
            self._resolved_from = self.model
        elif hasattr(self, "resolved_model_"):
            del self.resolved_model_
        encoder = self._encoder(fitting=True)
        self.embedding_dim_ = int(encoder.embedding_dim)
        self.n_features_in_ = 1

    @property
    def _n_features_out(self):
        return self.embedding_dim_

    def transform(self, X):
        """Embed images.

        Parameters
        ----------
        X : iterable of images, ndarray or one-column DataFrame
            Paths (str or path-like), encoded bytes, PIL images or uint8 arrays, in
            any iterable (list, generator, ``map``, ``Path.rglob``); a uint8 array of
            shape (n, H, W, 3); a pandas Series or one column of paths.

        Returns
        -------
        embeddings : ndarray of shape (n_images, embedding_dim_), float32
            Unit-norm rows in input order, one per input item; NaN rows for images
            that could not be embedded when ``on_error="warn"``.
        """
        if not hasattr(self, "embedding_dim_"):
            raise NotFittedError("This ClipImageEmbedder instance is not fitted yet. Call 'fit' before 'transform'.")
        check_is_fitted(self)
        return self._transform_sources(as_image_sources(X))

    def _transform_sources(self, sources):
        items = sources.items
        encoder = self._encoder()
        self._check_width(int(encoder.embedding_dim), "declares")
        output = np.full((len(items), self.embedding_dim_), np.nan, dtype=np.float32)
        draft_size = jpeg_draft_size(self, encoder)
        cache = image_cache(
            self, IMAGE_CACHE, memory_bytes=self.memory_cache, cache_dir=self.cache_dir, encoder=encoder
        )
        keys = [None] * len(items)
        if cache.enabled:
            draft = f"jpeg_draft={draft_size}"
            keys = [None if parts is None else cache.key(*parts, draft) for parts in map(image_key_parts, items)]
        pending = []
        shape = (self.embedding_dim_,)
        for position, key in enumerate(keys):
            row = cache.get(key, shape, describe_image_source(items[position], position)) if key else None
            if row is None:
                pending.append(position)
            else:
                output[position] = row

        def keep(positions):
            # Called as each batch finishes, so an interrupt loses at most the batch
            # in flight. Only rows the model produced get here: under on_error="raise"
            # the rows after a failure are never embedded and must not be cached as NaN.
            for position in positions:
                cache.put(keys[position], output[position])

        failures = self._embed(encoder, items, pending, output, keep, draft_size)
        LOGGER.info(
            "ClipImageEmbedder: %d images, %d from memory, %d from cache_dir, %d through the model, %d failed",
            len(items),
            cache.from_memory,
            cache.from_disk,
            len(pending),
            len(failures),
        )
        cache.warn(stacklevel=3)
        self._report(failures, len(items))
        return output

    def _embed(self, encoder, items, positions, output, on_batch, draft_size):
        """Fill ``output`` rows at ``positions``, calling ``on_batch(positions)`` as each batch is done.

        Returns
        -------
        failures : list of (int, str, str)
            ``(position, source, reason)`` of each image that could not be read or
            whose embedding was not finite, in input order.
        """
        import torch

        from .encoders import OutOfMemoryBackoff
        from .encoders._image_batches import iterate_image_batches

        if not positions:
            return []
        device = getattr(encoder, "device", "cpu")
        batches = iterate_image_batches(
            [items[position] for position in positions],
            positions,
            encoder.preprocess,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=str(device).startswith("cuda"),
            draft_size=draft_size,
        )
        backoff = OutOfMemoryBackoff(self.batch_size, str(device))
        failures = []
        with _progress(len(positions), self.verbose) as progress, evaluating(encoder):
            for batch in batches:
                failures.extend(batch.failures)
                progress.update(len(batch.positions) + len(batch.failures))
                # Under on_error="raise" a failure ends model work, but decoding goes on
                # so the error can list every unreadable image at once.
                if batch.pixels is None or (failures and self.on_error == "raise"):
                    continue
                # inference_mode here too: an injected encoder may not set it itself.
                with torch.inference_mode():
                    embeddings = torch.as_tensor(backoff(encoder.encode_images, batch.pixels)).float()
                    finite = torch.isfinite(embeddings).all(dim=1).cpu().numpy()
                    embeddings = embeddings / embeddings.norm(dim=-1, keepdim=True).clamp_min(1e-12)
                    rows = embeddings.cpu().numpy()
                self._check_width(rows.shape[1], "returned")
                done = np.asarray(batch.positions)[finite]
                output[done] = rows[finite]
                # A readable image the model could not embed is a failure like an unreadable one.
                failures.extend(
                    (position, describe_image_source(items[position], position), NON_FINITE_REASON)
                    for position in np.asarray(batch.positions)[~finite].tolist()
                )
                on_batch(done.tolist())
        return sorted(failures)

    def _check_width(self, width, verb):
        """Refuse a model whose width is no longer the one learned at ``fit`` (it changed on disk)."""
        if width == self.embedding_dim_:
            return
        model = self.model if isinstance(self.model, str) else type(self.model).__name__
        raise ValueError(
            f"The model {model!r} {verb} {width}-wide embeddings, but this ClipImageEmbedder was fitted when it gave "
            f"{self.embedding_dim_}: the model changed since fit (its files were replaced, or the encoder object "
            "changed). Fit the embedder again, and everything fitted on its embeddings."
        )

    def _report(self, failures, n_images):
        if not failures:
            return
        summary = f"ClipImageEmbedder {describe_failures(failures, n_images)}."
        if self.on_error == "raise":
            # Every file is decoded, so every unreadable one is listed; but the model stops at
            # the first failure, so images after it are not known to embed well or not.
            non_finite = any(reason == NON_FINITE_REASON for _, _, reason in failures)
            untried = " The model stopped at the first failure, so later images were not tried." if non_finite else ""
            raise UnreadableImagesError(
                f"{summary}{untried} Pass on_error='warn' to embed the rest and get NaN rows for these.", failures
            )
        warnings.warn(
            SkippedImagesWarning(
                f"{summary} Their rows are NaN; drop them before classifying, e.g. X[np.isfinite(X).all(axis=1)], "
                "or classify with SageZeroShotClassifier(on_nan='propagate').",
                failures,
            ),
            stacklevel=4,
        )

    def _encoder(self, fitting=False):
        # The embedder needs only the image side of the TextImageEncoder protocol.
        model = self.model
        if isinstance(model, str) and getattr(self, "_resolved_from", None) == model:
            model = self.resolved_model_  # what fit resolved, wherever this process runs now
        try:
            return load_encoder(
                model,
                self.pretrained,
                device=self.device,
                precision=self.precision,
                cache_dir=self.cache_dir,
                needs_text=False,
                needs_images=True,
                owner="ClipImageEmbedder's model",
            )
        except ModelLoadError as err:
            if model == self.model or fitting:
                raise  # resolved just now: the folder was never there, and the error says where it looked
            raise ModelLoadError(
                f"{err} (model={self.model!r} was resolved to {model!r} against the working directory when this "
                "embedder was fitted; move the folder back, or set an absolute path and fit again.)"
            ) from err

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags


def describe_failures(failures, n_images):
    """``"could not read 2 of 10 images: 'a.jpg' (reason), ..."`` ("embed" when one was read but not embedded).

    Parameters
    ----------
    failures : list of (int, str, str)
        ``(position, source, reason)``, as :class:`ClipImageEmbedder` reports them.
    n_images : int
        How many images were given.

    Returns
    -------
    text : str
    """
    listing = ", ".join(f"{source!r} ({reason})" for _, source, reason in failures[:FAILURES_SHOWN])
    more = ", ..." if len(failures) > FAILURES_SHOWN else ""
    verb = "embed" if any(reason == NON_FINITE_REASON for _, _, reason in failures) else "read"
    return f"could not {verb} {len(failures)} of {n_images} images: {listing}{more}"


def image_cache(embedder, kind, *, memory_bytes, cache_dir, encoder=None, owner=None):
    """The :class:`~skclip_sage.io.TieredCache` of one ``kind`` of rows computed by a fitted ``embedder``'s model.

    ``memory_bytes=0`` or ``cache_dir=None`` leave that tier out; ``encoder`` is the loaded model when the
    caller has it; ``owner`` names who caches in warnings (the embedder's class by default). A model without
    an ``identity`` caches nothing, and with ``cache_dir`` set is a ``ValueError``.
    """
    encoder = embedder._encoder() if encoder is None else encoder
    producer = producer_of(encoder)
    if producer is None and cache_dir is not None:
        raise ValueError(
            f"{type(embedder).__name__}(cache_dir=...) keys cached embeddings by the model's identity, but "
            f"{type(encoder).__name__} has no 'identity' attribute. Give it one (a string naming the "
            "model and weights) or pass cache_dir=None."
        )
    owner = owner or type(embedder).__name__
    return TieredCache(producer, kind, memory_bytes=memory_bytes, cache_dir=cache_dir, owner=owner)


def jpeg_draft_size(embedder, encoder=None):
    """The smallest side JPEGs may be draft-decoded to for ``embedder`` (None: decoded in full); part of the keys."""
    encoder = embedder._encoder() if encoder is None else encoder
    return getattr(encoder, "image_size", None) if embedder.jpeg_draft else None


def _progress(total, verbose):
    """A bar counting images, cleared when done (``leave=False``), or a silent stand-in."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Embedding images", unit="image", disable=not verbose, leave=False)
