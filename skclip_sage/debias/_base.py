"""What the image-side debiasing transformers share: the model, its texts, validation and output."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._model_parameters import MODEL_FORMS, TEXT_MODEL_CONSTRAINTS
from ..encoders import load_encoder
from ..utils._nan_rows import ON_NAN, finite_rows
from ._texts import encode_texts

__all__ = ["MODEL_PARAMETERS", "ConceptTransformer"]

MODEL_PARAMETERS = f"""model : str or TextImageEncoder, default="ViT-B-32"
        As :class:`~skclip_sage.SageZeroShotClassifier`'s ``model``, the same model
        as the classifier's, so that a pipeline loads it once: a model string in one
        of the forms of the table of backends
        (:func:`~skclip_sage.encoders.model_forms`):

        {MODEL_FORMS}

        or an object with ``encode_text``, ``embedding_dim`` and ``logit_scale``.
    pretrained : str or None, default="laion2b_s34b_b79k"
        Weights tag or local checkpoint file for a model name.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where the text encoder runs.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast precision of the text encoder.
    batch_size : int, default=256
        Texts encoded per forward pass.
    truncate : bool, default=False
        Allow texts longer than the text context (cut, with a warning).
    cache_dir : str or path-like, default=None
        Where weights and encoded texts are kept (shared with the classifier's text banks).
    on_nan : {"raise", "propagate"}, default="raise"
        Rows of ``X`` holding NaN or infinity (images that could not be embedded):
        ``"raise"`` refuses them; ``"propagate"`` leaves them out of ``fit`` and
        passes them through ``transform`` unchanged, with one
        :class:`~skclip_sage.exceptions.NonFiniteRowsWarning`, for a classifier
        with ``on_nan="propagate"`` downstream."""


class ConceptTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Base of the transformers that encode texts in ``fit`` and move image embeddings.

    Subclasses set their own parameters and implement ``_fit_texts(encoder, X)`` and
    ``_transform(X)`` (float64 unit rows in, out).
    """

    _parameter_constraints: dict = {**TEXT_MODEL_CONSTRAINTS, "on_nan": [StrOptions(set(ON_NAN))]}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X``, encode the texts with the model and fit the transform.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings, e.g. from :class:`~skclip_sage.ClipImageEmbedder`.
        y : None
            Ignored: no labels are used.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=(np.float64, np.float32), ensure_all_finite=False)
        finite = self._finite_rows(X, "fit")
        X = X if finite is None else X[finite]
        self._check_texts()
        encoder = self._load_encoder()
        width = int(encoder.embedding_dim)
        if width != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {width} features as input "
                f"(the width of the {self._model_name()!r} text embeddings). Embed the images with the same model."
            )
        self._fit_texts(encoder, X)
        return self

    def transform(self, X):
        """Move each image embedding; rows come back unit-norm (or zero), float32.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), float32
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32), ensure_all_finite=False)
        finite = self._finite_rows(X, "transform")
        if finite is None:
            return self._transform(X).astype(np.float32)
        output = X.astype(np.float32)  # the NaN rows pass through as they came
        output[finite] = self._transform(X[finite])
        return output

    def _finite_rows(self, X, method):
        """Positions of the finite rows when some are not (None if all are), per ``on_nan``."""
        non_finite = np.flatnonzero(~np.isfinite(X).all(axis=1))
        return finite_rows(
            non_finite, len(X), on_nan=self.on_nan, owner=type(self).__name__, method=method, stacklevel=4
        )

    def _load_encoder(self):
        """The text encoder for ``model`` (a seam for tests: called after ``n_features_in_`` is set)."""
        return load_encoder(
            self.model, self.pretrained, device=self.device, precision=self.precision, cache_dir=self.cache_dir
        )

    def _encode(self, encoder, texts):
        return encode_texts(
            encoder, texts, batch_size=self.batch_size, truncate=self.truncate, cache_dir=self.cache_dir
        )

    def _model_name(self):
        return self.model if isinstance(self.model, str) else type(self.model).__name__

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
