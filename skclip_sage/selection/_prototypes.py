"""Class prototypes averaged over selected templates, scored without forming them.

Arrays in, arrays out (NumPy or torch, any device). The score of an image ``v``
against the prototype ``normalize(sum_{t in S} U[t, c])`` of a template set ``S``
is ``sum_{t in S} s[t, c] / sqrt(sum_{t, t' in S} G[c, t, t'])`` with the class Gram
matrices ``G[c] = U[:, c] @ U[:, c].T``: it comes from the image's similarities and
small Gram lookups, never from an ``(n, C, D)`` tensor of per-image prototypes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
from ._norms import row_scaling


def l2_normalize(vectors: Array) -> tuple[Array, Array]:
    """Scale rows to unit length, leaving zero rows at zero; finite rows never overflow.

    Each row's norm comes from ``row_scaling`` (largest entry first, only where needed),
    so a float32 row scaled by ``1e20`` gives the same unit vector as the row itself.

    Parameters
    ----------
    vectors : array of shape (..., D)

    Returns
    -------
    normalized : array of the same shape and kind
        Unit vectors; zero vectors stay zero, rows holding NaN or infinity become NaN.
    is_zero : boolean array of shape (...,)
        True where the input vector had zero norm.

    Examples
    --------
    >>> import numpy as np
    >>> unit, is_zero = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    >>> unit.tolist(), is_zero.tolist()
    ([[0.6, 0.8], [0.0, 0.0]], [False, True])
    """
    rows, norms, _ = row_scaling(vectors)
    is_zero = norms == 0
    divisors = norms.masked_fill(is_zero, 1.0) if arrays.is_torch(norms) else np.where(is_zero, 1.0, norms)
    return rows / divisors[..., None], is_zero


def class_gram_matrices(text_bank: Array) -> Array:
    """Per-class Gram matrices of the template embeddings.

    Parameters
    ----------
    text_bank : array of shape (T, C, D)

    Returns
    -------
    gram : array of shape (C, T, T)
        ``gram[c, t, u] = <text_bank[t, c], text_bank[u, c]>``.
    """
    return arrays.einsum("tcd,ucd->ctu", text_bank, text_bank)


class GramTables(NamedTuple):
    """The class Gram matrices laid out for the two ways of summing their entries.

    Attributes
    ----------
    pairs : array of shape (C, T*T)
        ``pairs[c, t * T + u] = gram[c, t, u]``: gathered at each image's template
        pairs when few templates are kept.
    rows : array of shape (T, C*T)
        ``rows[t, c * T + u] = gram[c, t, u]``: multiplied by a 0/1 template mask
        when many templates are kept.
    """

    pairs: Array
    rows: Array


def gram_tables(gram: Array) -> GramTables:
    """Lay out class Gram matrices for :func:`prototype_scores`, once per call.

    Parameters
    ----------
    gram : array of shape (C, T, T)
        From :func:`class_gram_matrices`.

    Returns
    -------
    tables : GramTables
    """
    n_classes, n_templates, _ = gram.shape
    pairs = gram.reshape(n_classes, n_templates * n_templates)
    rows = arrays.contiguous_transpose(gram, (1, 0, 2)).reshape(n_templates, n_classes * n_templates)
    return GramTables(pairs, rows)


def prototype_scores(similarities: Array, selected: Array, gram: Array, *, tables: GramTables | None = None) -> Array:
    """Score each image against prototypes averaged over its own selected templates.

    Parameters
    ----------
    similarities : array of shape (n, T, C)
        Image-to-text cosine similarities.
    selected : integer array of shape (n, K)
        Templates chosen for each image. A template repeated within a row weighs as
        many times as it appears, as in ``mean(U[selected[i], c])``.
    gram : array of shape (C, T, T)
        Class Gram matrices from :func:`class_gram_matrices`.
    tables : GramTables, default=None
        ``gram_tables`` of ``gram``, to reuse across chunks.

    Returns
    -------
    scores : array of shape (n, C)
        ``<v, normalize(sum_{t in selected} U[t, c])>`` for each image and class.
    """
    n_templates = similarities.shape[1]
    k = selected.shape[1]
    tables = gram_tables(gram) if tables is None else tables
    if k == 1:
        # One template: its similarity over its own norm, no sum at all.
        numerator = arrays.take_along_axis(similarities, selected[:, :, None], axis=1)[:, 0]
        return numerator / arrays.sqrt_clamped(tables.pairs[:, selected[:, 0] * (n_templates + 1)].T)
    # A template-count mask (0/1 when a row has no repeats) turns the gather-and-sum
    # of K similarities into one small batched product, several times faster than
    # fancy indexing over (n, K, C); counts keep repeated templates at their weight.
    mask = arrays.count_rows(selected, n_templates, like=similarities)
    numerator = arrays.masked_sum(similarities, mask)
    if k * k <= n_templates:
        # Few templates: sum each image's K x K Gram block over its diagonal and the
        # pairs above it, counted twice (the block is symmetric): one gather of
        # (C, n, pairs) entries and one product with the 1/2 weights. Pairs are of
        # positions, not templates, so repeats count by multiplicity here too.
        first, second, weights = _symmetric_pairs(k)
        first, second = arrays.as_indices(first, selected), arrays.as_indices(second, selected)
        pair_positions = selected[:, first] * n_templates + selected[:, second]
        gathered = arrays.take_columns(tables.pairs, pair_positions)
        squared_norm = (gathered @ arrays.as_values(weights, like=similarities)).T
    else:
        # Many templates: counts^T G_c counts for every class from one matrix product.
        products = (mask @ tables.rows).reshape(mask.shape[0], -1, n_templates)
        squared_norm = arrays.masked_sum(
            products.transpose(1, 2) if arrays.is_torch(products) else products.transpose(0, 2, 1), mask
        )
    return numerator / arrays.sqrt_clamped(squared_norm)


def _symmetric_pairs(k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(a, b)`` with ``a <= b`` in a K x K block, and their weights 1 (diagonal) or 2."""
    first, second = np.triu_indices(k)
    return first, second, np.where(first == second, 1.0, 2.0)


def fixed_prototypes(text_bank: Array, template_indices: Array) -> Array:
    """Class prototypes averaged over one template set shared by all images.

    Parameters
    ----------
    text_bank : array of shape (T, C, D)
    template_indices : integer array of shape (K,)

    Returns
    -------
    prototypes : array of shape (C, D)
        ``normalize(sum_{t in template_indices} text_bank[t, c])``.
    """
    chosen = text_bank[arrays.as_indices(template_indices, text_bank)]
    prototypes, _ = l2_normalize(chosen.sum(axis=0))
    return prototypes
