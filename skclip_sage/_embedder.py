"""ClipImageEmbedder: images in, unit-norm CLIP embeddings out, as a scikit-learn transformer."""

from __future__ import annotations

import os
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .encoders import PRECISIONS, load_encoder
from .exceptions import NotFittedError, SkippedImagesWarning, UnreadableImagesError
from .io import describe_image_source
from .io._cache import image_source_key, producer_of
from .io._checked_cache import CheckedCache
from .io._sources import as_image_sources

ON_ERROR = ("raise", "warn")
"""What :class:`ClipImageEmbedder` does with images it cannot read."""

FAILURES_SHOWN = 5
IMAGE_CACHE = "image_embeddings"  # the folder under cache_dir, also part of each key


class ClipImageEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Embed images with a CLIP image encoder.

    Images are decoded and preprocessed in a torch DataLoader (in worker
    processes when ``num_workers > 0``) and encoded in ``torch.inference_mode``
    with the model in eval mode; embeddings are L2-normalised float32.

    Parameters
    ----------
    model : str or TextImageEncoder, default="ViT-B-32"
        An open_clip model name, ``"local-dir:/path"`` (offline), ``"hf-hub:org/repo"``,
        ``"transformers:org/repo"`` or ``"transformers:/path"`` (Hugging Face CLIP,
        SigLIP, ALIGN, AltCLIP; see :func:`~skclip_sage.encoders.available_models`),
        or an object with ``preprocess``, ``encode_images`` and ``embedding_dim``.
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
        Keep embeddings on disk, keyed by the model (identity, precision, device
        kind) and by file path, size and modification time (or pixel hash for
        in-memory images), so a second transform of the same files does not run
        the model. Written as each batch finishes: an interrupted transform loses
        at most the batch in flight. Entries are checked on read (model, dtype,
        width, finite, unit norm); a bad one is recomputed with one
        :class:`~skclip_sage.exceptions.InvalidCacheEntryWarning`. A folder that
        cannot be written gives one :class:`~skclip_sage.exceptions.CacheWriteWarning`
        and every embedding is still returned.
    on_error : {"raise", "warn"}, default="raise"
        Unreadable images: ``"raise"`` lists them all in one error; ``"warn"``
        embeds the rest, returns NaN rows for them and emits one
        :class:`~skclip_sage.exceptions.SkippedImagesWarning`.
    verbose : bool, default=False
        Show a progress bar.

    Attributes
    ----------
    embedding_dim_ : int
        Width of the embeddings (the number of output features).
    n_features_in_ : int
        Always 1: one image per row.
    feature_names_in_ : ndarray of shape (1,)
        The path column's name, when fitted on a DataFrame.

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
    """

    _parameter_constraints: dict = {
        "model": [str, HasMethods(["encode_images", "preprocess"])],
        "pretrained": [str, os.PathLike, None],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "num_workers": [Interval(Integral, 0, None, closed="left")],
        "cache_dir": [str, os.PathLike, None],
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
        self.on_error = on_error
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Load the model; the images themselves are not read.

        Parameters
        ----------
        X : sequence of images, ndarray or one-column DataFrame, default=None
            Checked for shape only.
        y : None
            Ignored.

        Returns
        -------
        self : ClipImageEmbedder
        """
        if X is not None:
            sources = as_image_sources(X)
            if sources.column is not None and isinstance(sources.column, str) and hasattr(X, "columns"):
                self.feature_names_in_ = np.asarray([sources.column], dtype=object)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        encoder = self._encoder()
        self.embedding_dim_ = int(encoder.embedding_dim)
        self.n_features_in_ = 1
        return self

    @property
    def _n_features_out(self):
        return self.embedding_dim_

    def transform(self, X):
        """Embed images.

        Parameters
        ----------
        X : sequence of images, ndarray or one-column DataFrame
            Paths (str or path-like), encoded bytes, PIL images or uint8 arrays;
            a uint8 array of shape (n, H, W, 3); or one column of paths.

        Returns
        -------
        embeddings : ndarray of shape (n_images, embedding_dim_), float32
            Unit-norm rows in input order; NaN rows for unreadable images when
            ``on_error="warn"``.
        """
        if not hasattr(self, "embedding_dim_"):
            raise NotFittedError("This ClipImageEmbedder instance is not fitted yet. Call 'fit' before 'transform'.")
        check_is_fitted(self)
        items = as_image_sources(X).items
        encoder = self._encoder()
        output = np.full((len(items), self.embedding_dim_), np.nan, dtype=np.float32)
        cache, keys = self._cache(encoder, items)
        pending = []
        for position, key in enumerate(keys):
            label = describe_image_source(items[position], position)
            cached = None if key is None else cache.read(key, (self.embedding_dim_,), label)
            if cached is None:
                pending.append(position)
            else:
                output[position] = cached

        def keep(positions):
            # Called as each batch finishes, so an interrupt loses at most the batch
            # in flight. Only rows the model produced get here: under on_error="raise"
            # the rows after a failure are never embedded and must not be cached as NaN.
            for position in positions:
                if keys[position] is not None:
                    cache.write(keys[position], output[position])

        failures = self._embed(encoder, items, pending, output, None if cache is None else keep)
        if cache is not None:
            cache.warn(stacklevel=2)
        self._report(failures, len(items))
        return output

    def _embed(self, encoder, items, positions, output, on_batch=None):
        """Fill ``output`` rows at ``positions``, calling ``on_batch(positions)`` as each batch is done.

        Returns
        -------
        failures : list of (int, str, str)
            ``(position, source, reason)`` of each unreadable image.
        """
        import torch

        from .encoders._batching import OutOfMemoryBackoff
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
        )
        if self.verbose:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=-(-len(positions) // self.batch_size), desc="Embedding images", unit="batch")
        backoff = OutOfMemoryBackoff(self.batch_size, str(device))
        failures = []
        for batch in batches:
            failures.extend(batch.failures)
            # Under on_error="raise" a failure ends model work, but decoding goes on
            # so the error can list every unreadable image at once.
            if batch.pixels is None or (failures and self.on_error == "raise"):
                continue
            # inference_mode here too: an injected encoder may not set it itself.
            with torch.inference_mode():
                embeddings = torch.as_tensor(backoff(encoder.encode_images, batch.pixels)).float()
                embeddings = embeddings / embeddings.norm(dim=-1, keepdim=True).clamp_min(1e-12)
                output[batch.positions] = embeddings.cpu().numpy()
            if on_batch is not None:
                on_batch(batch.positions)
        return failures

    def _report(self, failures, n_images):
        if not failures:
            return
        listing = ", ".join(f"{source!r} ({reason})" for _, source, reason in failures[:FAILURES_SHOWN])
        more = ", ..." if len(failures) > FAILURES_SHOWN else ""
        summary = f"ClipImageEmbedder could not read {len(failures)} of {n_images} images: {listing}{more}."
        if self.on_error == "raise":
            raise UnreadableImagesError(
                f"{summary} Pass on_error='warn' to embed the rest and get NaN rows for these.", failures
            )
        warnings.warn(
            SkippedImagesWarning(
                f"{summary} Their rows are NaN; drop them before classifying, e.g. X[np.isfinite(X).all(axis=1)].",
                failures,
            ),
            stacklevel=3,
        )

    def _cache(self, encoder, items):
        """The checked image cache of this call and each item's key (None: not cacheable)."""
        if self.cache_dir is None:
            return None, [None] * len(items)
        producer = producer_of(encoder)
        if producer is None:
            raise ValueError(
                f"ClipImageEmbedder(cache_dir=...) keys cached embeddings by the model's identity, but "
                f"{type(encoder).__name__} has no 'identity' attribute. Give it one (a string naming the "
                "model and weights) or pass cache_dir=None."
            )
        cache = CheckedCache(self.cache_dir, IMAGE_CACHE, producer, owner="ClipImageEmbedder")
        source_keys = [image_source_key(item) for item in items]
        return cache, [None if key is None else cache.key(key) for key in source_keys]

    def _encoder(self):
        # The embedder needs only the image side of the TextImageEncoder protocol.
        return load_encoder(
            self.model,
            self.pretrained,
            device=self.device,
            precision=self.precision,
            cache_dir=self.cache_dir,
            needs_text=False,
            needs_images=True,
            owner="ClipImageEmbedder's model",
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
