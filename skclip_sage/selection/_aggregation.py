"""Class scores from all of an image's per-template similarities, not from one chosen set.

The selection table's second kind of method: instead of choosing templates and scoring a
prototype averaged over them, a method may combine the ``(T, C)`` similarities of each
image into its ``C`` class scores directly. It does so in one of two ways:

- a **linear head**: the scores are ``X @ head.T`` for a ``(C, D)`` matrix fixed in
  ``fit`` (a weighted mean of the template similarities is linear in the image), so
  predicting costs less than the similarity product itself;
- a **chunk aggregator**: ``aggregate(similarities) -> scores`` on the ``(n, T, C)``
  similarities of a chunk of images, for rules that depend on the image (AutoCLIP's
  per-image weights, PerceptionCLIP's mixture). Images are processed in chunks, so no
  ``(n, T, C)`` tensor is ever built for the whole input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import _arrays as arrays
from ._arrays import Array
from ._chunks import CHUNK_BYTES, class_major, template_similarities, twin_rows

__all__ = ["Scoring", "aggregate_in_chunks", "mean_similarity_head", "weighted_similarity_head"]

# Working copies per chunk an aggregator may hold besides the similarities themselves.
AGGREGATOR_COPIES = 4


class Scoring(NamedTuple):
    """How a method turns embeddings into class scores (exactly one field is set).

    Attributes
    ----------
    head : array of shape (C, D) or None
        Scores are ``X @ head.T`` for unit rows ``X``.
    aggregate : callable or None
        ``aggregate(similarities)`` maps ``(n, T, C)`` cosine similarities to
        ``(n, C)`` scores, row by row.
    """

    head: Array | None = None
    aggregate: Callable[[Array], Array] | None = None


def weighted_similarity_head(text_bank: Array, weights: Array) -> Array:
    """``sum_t weights[t] * U[t]``: the head whose scores are the weighted mean of template similarities.

    Parameters
    ----------
    text_bank : array of shape (T, C, D)
    weights : array of shape (T,)
        Summing to 1 for a weighted mean.

    Returns
    -------
    head : array of shape (C, D)
        Not normalised: ``<x, head[c]> = sum_t weights[t] <x, U[t, c]>``.
    """
    weights = arrays.as_values(arrays.to_numpy(weights), like=text_bank)
    return arrays.einsum("t,tcd->cd", weights, text_bank)


def mean_similarity_head(text_bank: Array) -> Array:
    """The head of the plain mean of the template similarities (each class's mean text embedding)."""
    return arrays.total(text_bank, axis=0) / text_bank.shape[0]


def aggregate_in_chunks(
    image_embeddings: Array,
    text_bank: Array,
    aggregate: Callable[[Array], Array],
    *,
    norms: Array | None = None,
    chunk_size: int | None = None,
) -> Array:
    """Scores of every image from its per-template similarities, a chunk of images at a time.

    Parameters
    ----------
    image_embeddings : array of shape (n, D)
        Image embeddings: unit rows, or rows to divide by ``norms``.
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings of the same kind, device and dtype.
    aggregate : callable
        ``(chunk, T, C)`` cosine similarities to ``(chunk, C)`` scores, each row on
        its own.
    norms : array of shape (n,), default=None
        Row norms (no zeros): each chunk of rows is divided by its norms before the
        product, so the aggregator sees cosines and no normalised copy of the whole
        input is made. None when the rows are unit vectors already.
    chunk_size : int, default=None
        Images per chunk; by default sized to keep working memory near 64 MiB.

    Returns
    -------
    scores : array of shape (n, C)
        The same whatever the chunk size.
    """
    n_templates, n_classes, _ = text_bank.shape
    flat_bank = class_major(text_bank)
    twins = twin_rows(flat_bank)
    if chunk_size is None:
        bytes_per_image = AGGREGATOR_COPIES * n_templates * n_classes * image_embeddings.dtype.itemsize
        chunk_size = max(1, CHUNK_BYTES // bytes_per_image)
    # Normalise whichever is narrower: the chunk's rows (D wide) or its similarities (T * C wide).
    scale_similarities = norms is not None and n_templates * n_classes <= image_embeddings.shape[1]
    scores = arrays.RowWriter(image_embeddings.shape[0], empty_shape=(0, n_classes), like=image_embeddings)
    for start in range(0, image_embeddings.shape[0], chunk_size):
        rows = image_embeddings[start : start + chunk_size]
        if norms is not None and not scale_similarities:
            rows = rows / norms[start : start + chunk_size, None]
        similarities = template_similarities(rows, text_bank, flat_bank=flat_bank, twins=twins)
        if scale_similarities:
            similarities = similarities / norms[start : start + chunk_size, None, None]
        scores.write(start, aggregate(similarities))
    return scores.result()
