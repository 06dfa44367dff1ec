"""ZPE: prompt weights learned from unlabelled images, as pure array math.

Allingham, Ren, Dusenberry, Gu, Cui, Tran, Liu, Lakshminarayanan. "A Simple Zero-shot
Prompt Weighting Technique to Improve Prompt Ensembling in Text-Image Models", ICML 2023.
With logits ``l[n, t, c] = logit_scale * <x_n, U[t, c]>`` over ``n`` unlabelled images:

1. subtract, per template and class, the mean logit over the images (and, when a generic
   reference sample of images is given, average that mean with the reference's), so a
   template that scores every image high for some class gains nothing from it;
2. score each template by the mean over images of its largest corrected logit;
3. weight the templates by the softmax of their scores; optionally keep only the
   templates whose robust z-score ``(score - median) / MAD`` exceeds a threshold.

Class scores are the weighted mean of the template similarities, linear in the image:
prediction is one ``(n, D) @ (D, C)`` product. The logit scale matters: the scores are in
logit units, and without it the softmax weights are nearly uniform.
"""

from __future__ import annotations

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
from ._chunks import CHUNK_BYTES, class_major, template_similarities, twin_rows

__all__ = ["zpe_keep", "zpe_template_scores", "zpe_weights"]


def zpe_template_scores(
    image_embeddings: Array,
    text_bank: Array,
    logit_scale: float,
    *,
    reference_embeddings: Array | None = None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Each template's ZPE score on unlabelled images.

    Parameters
    ----------
    image_embeddings : array of shape (n, D)
        Unit-norm embeddings of the unlabelled images (``n >= 1``).
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings.
    logit_scale : float
        The model's similarity-to-logit multiplier (100 for CLIP).
    reference_embeddings : array of shape (m, D), default=None
        Unit-norm embeddings of a generic image sample (e.g. pretraining-like
        images): the official ``'both'`` mode. None is its ``'test'`` mode.
    chunk_size : int, default=None
        Images per chunk; bounds memory.

    Returns
    -------
    scores : ndarray of shape (T,), float64
        ``mean_n max_c (l[n, t, c] - centre[t, c])``.
    """
    n_templates, n_classes, _ = text_bank.shape
    n_images = image_embeddings.shape[0]
    # The mean of the logits over images is the logit of the mean image: one small product.
    flat_bank = class_major(text_bank)
    centre = _mean_logits(image_embeddings, flat_bank, logit_scale, n_templates, n_classes)
    if reference_embeddings is not None:
        reference = _mean_logits(reference_embeddings, flat_bank, logit_scale, n_templates, n_classes)
        centre = 0.5 * (centre + reference)
    if chunk_size is None:
        chunk_size = max(1, CHUNK_BYTES // (2 * n_templates * n_classes * image_embeddings.dtype.itemsize))
    total = np.zeros(n_templates)
    twins = twin_rows(flat_bank)
    for start in range(0, n_images, chunk_size):
        similarities = template_similarities(
            image_embeddings[start : start + chunk_size], text_bank, flat_bank=flat_bank, twins=twins
        )
        corrected = logit_scale * similarities - centre[None]
        best = arrays.amax(corrected, axis=2)  # (chunk, T)
        total += arrays.to_numpy(arrays.total(best, axis=0)).astype(np.float64)
    return total / n_images


def _mean_logits(embeddings: Array, flat_bank: Array, logit_scale: float, n_templates: int, n_classes: int) -> Array:
    """``mean_n logit_scale * <x_n, U[t, c]>`` as a ``(T, C)`` array of the embeddings' kind."""
    mean_image = arrays.total(embeddings, axis=0) / embeddings.shape[0]
    by_class = (flat_bank @ mean_image).reshape(n_classes, n_templates)
    return logit_scale * by_class.T


def zpe_keep(scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """Templates kept by ZPE's selection: robust z-score above ``threshold``.

    Parameters
    ----------
    scores : ndarray of shape (T,)
        From :func:`zpe_template_scores`.
    threshold : float or None
        Keep templates with ``(score - median) / MAD > threshold`` (MAD: the median
        absolute deviation, unscaled); None keeps every template. With a MAD of 0
        the templates scoring above the median are kept, as the official division
        by zero does.

    Returns
    -------
    kept : ndarray of shape (K,)
        Template indices in increasing order; may be empty.

    Examples
    --------
    >>> zpe_keep(np.array([1.0, 2.0, 3.0, 10.0]), threshold=2.0).tolist()
    [3]
    >>> zpe_keep(np.array([1.0, 2.0]), threshold=None).tolist()
    [0, 1]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if threshold is None:
        return np.arange(len(scores))
    median = np.median(scores)
    spread = np.median(np.abs(scores - median))
    if spread == 0:
        return np.flatnonzero(scores > median)
    return np.flatnonzero((scores - median) / spread > threshold)


def zpe_weights(scores: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Softmax of the kept templates' scores; 0 for the others.

    Parameters
    ----------
    scores : ndarray of shape (T,)
    kept : integer ndarray of shape (K,)

    Returns
    -------
    weights : ndarray of shape (T,), float64
        Summing to 1 over ``kept``.

    Examples
    --------
    >>> zpe_weights(np.array([0.0, np.log(3.0), 5.0]), np.array([0, 1])).round(2).tolist()
    [0.25, 0.75, 0.0]
    """
    scores = np.asarray(scores, dtype=np.float64)
    weights = np.zeros(len(scores))
    chosen = scores[kept]
    exponentials = np.exp(chosen - chosen.max())
    weights[kept] = exponentials / exponentials.sum()
    return weights
