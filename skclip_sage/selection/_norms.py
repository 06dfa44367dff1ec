"""Row norms that cannot overflow, with the finiteness check, in one pass over the rows.

A float32 embedding scaled by ``1e20`` is finite, but the sum of its squares is not:
the naive norm overflows to ``inf`` and the row comes out as zeros. Dividing a row
by its largest absolute entry first keeps every square in ``[0, 1]``. Doing that for
every row would cost two extra passes over ``X``; instead one pass computes the sum
of squares, which also proves the row finite and its norm exact whenever it lies in
the normal range. Only the rows outside it (overflow, underflow, zero, NaN, inf:
rare) are rescaled or flagged, one by one.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _arrays as arrays
from ._arrays import Array


class RowScaling(NamedTuple):
    """What :func:`row_scaling` found, ready to turn rows into unit vectors.

    Attributes
    ----------
    rows : array of shape (..., D)
        The input itself, or a copy in which the rows of extreme magnitude are
        divided by their largest absolute entry.
    norms : array of shape (...,)
        ``||rows[i]||``, so ``rows / norms[..., None]`` are unit rows (after
        rescaling these are at most ``sqrt(D)``); 0 for zero rows and NaN for rows
        holding NaN or infinity.
    non_finite : integer ndarray of shape (n_bad,)
        Flat indices of the rows holding NaN or infinity (always NumPy).
    """

    rows: Array
    norms: Array
    non_finite: np.ndarray


def row_scaling(vectors: Array) -> RowScaling:
    """Row norms, overflow- and underflow-free, and the rows that are not finite.

    Parameters
    ----------
    vectors : array of shape (..., D)
        NumPy array or torch tensor, float32 or float64.

    Returns
    -------
    scaling : RowScaling

    Examples
    --------
    >>> import numpy as np
    >>> scaling = row_scaling(np.array([[3e200, 4e200], [0.0, 0.0], [np.nan, 1.0]]))  # 9e400 overflows
    >>> (scaling.rows[0] / scaling.norms[0]).tolist(), float(scaling.norms[1]), scaling.non_finite.tolist()
    ([0.6, 0.8], 0.0, [2])
    """
    if arrays.is_torch(vectors):
        return _torch_row_scaling(vectors)
    vectors = np.asarray(vectors)
    if vectors.dtype.kind != "f":
        vectors = vectors.astype(np.float64)  # integer squares could wrap around silently
    flat = vectors.reshape(-1, vectors.shape[-1]) if vectors.ndim != 2 else vectors
    information = np.finfo(flat.dtype)
    # einsum reads each row once and allocates only the (n,) result.
    squared = np.einsum("ij,ij->i", flat, flat)
    # Inside [tiny / eps^2, max] the sum is finite (so is every entry) and no square
    # lost precision to underflow; outside it the row needs a closer look.
    in_range = (squared >= information.tiny / information.eps**2) & (squared <= information.max)
    norms = np.sqrt(np.where(in_range, squared, 1.0))
    suspects = np.flatnonzero(~in_range)
    non_finite = np.empty(0, dtype=np.intp)
    copied = False
    if len(suspects):
        largest = np.max(np.abs(flat[suspects]), axis=1)  # NaN and inf propagate
        finite = np.isfinite(largest)
        non_finite = suspects[~finite]
        norms[non_finite] = np.nan
        norms[suspects[largest == 0]] = 0.0
        scalable = finite & (largest > 0)
        if scalable.any():
            flat, copied = flat.copy(), True  # the caller's array is never written to
            rescaled = flat[suspects[scalable]] / largest[scalable][:, None]
            flat[suspects[scalable]] = rescaled
            norms[suspects[scalable]] = np.sqrt(np.einsum("ij,ij->i", rescaled, rescaled))
    norms = norms.astype(flat.dtype, copy=False)
    rows = flat.reshape(vectors.shape) if copied else vectors
    return RowScaling(rows, norms.reshape(vectors.shape[:-1]), non_finite)


def _torch_row_scaling(vectors) -> RowScaling:
    """The same for torch tensors: every row scaled by its largest entry (the GPU has bandwidth to spare)."""
    largest = vectors.abs().amax(dim=-1, keepdim=True)
    bad = ~largest.isfinite()
    usable = largest.masked_fill(bad | (largest == 0), 1.0)
    rows = vectors / usable
    norms = rows.norm(dim=-1).masked_fill(bad.squeeze(-1), float("nan"))
    non_finite = np.flatnonzero(arrays.to_numpy(bad.reshape(-1)))
    return RowScaling(rows, norms, non_finite)
