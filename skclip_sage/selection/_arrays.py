"""The few array operations whose NumPy and torch spellings differ.

The numeric core calls these so one implementation serves NumPy arrays and torch
tensors on any device; torch is imported only when a tensor is actually passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any  # numpy.ndarray or torch.Tensor; outputs follow the input kind.


def is_torch(array: Array) -> bool:
    """True for a torch tensor, checked without importing torch."""
    return type(array).__module__.startswith("torch")


def to_numpy(array: Array) -> np.ndarray:
    """A NumPy view or copy of ``array`` on the host."""
    if is_torch(array):
        return array.detach().cpu().numpy()
    return np.asarray(array)


def as_indices(indices: Array, like: Array) -> Array:
    """Integer indices of the same kind (and device) as ``like``."""
    if is_torch(like):
        import torch

        return torch.as_tensor(indices, device=like.device)
    return np.asarray(indices)


def as_values(values: np.ndarray, *, like: Array) -> Array:
    """``values`` as an array of the kind, dtype and device of ``like``."""
    if is_torch(like):
        import torch

        return torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


def amax_minus_amin(values: Array, axis: int) -> Array:
    """Range of ``values`` along ``axis``."""
    if is_torch(values):
        return values.amax(dim=axis) - values.amin(dim=axis)
    return values.max(axis=axis) - values.min(axis=axis)


def argmax_keepdims(values: Array, axis: int) -> Array:
    """Index of the first maximum along ``axis``, keeping that axis (length 1)."""
    if is_torch(values):
        return values.argmax(dim=axis, keepdim=True)
    return values.argmax(axis=axis, keepdims=True)


def argsort_descending_stable(values: Array, axis: int = -1) -> Array:
    """Indices from largest to smallest; equal values keep their original order."""
    if is_torch(values):
        import torch

        return torch.argsort(values, dim=axis, descending=True, stable=True)
    return np.argsort(-values, axis=axis, kind="stable")


def take_along_axis(values: Array, indices: Array, axis: int) -> Array:
    """``values`` gathered at ``indices`` along ``axis`` (NumPy semantics)."""
    if is_torch(values):
        import torch

        return torch.take_along_dim(values, indices, dim=axis)
    return np.take_along_axis(values, indices, axis=axis)


def einsum(subscripts: str, *operands: Array) -> Array:
    """Einstein summation, routed through BLAS on both backends."""
    if is_torch(operands[0]):
        import torch

        return torch.einsum(subscripts, *operands)
    return np.einsum(subscripts, *operands, optimize=True)


def contiguous_transpose(values: Array, axes: tuple[int, ...]) -> Array:
    """A C-contiguous copy of ``values`` with its axes permuted."""
    if is_torch(values):
        return values.permute(*axes).contiguous()
    return np.ascontiguousarray(np.transpose(values, axes))


def masked_sum(values: Array, mask: Array) -> Array:
    """``sum_t mask[n, t] * values[n, t, c]``: shape ``(n, T, C)`` and ``(n, T)`` to ``(n, C)``.

    Each row is reduced on its own (no mixing across ``n``), so results do not depend
    on how the rows were chunked.
    """
    if is_torch(values):
        import torch

        return torch.einsum("ntc,nt->nc", values, mask)
    # Plain einsum (no optimize): a batched contraction has no BLAS route, and the
    # planner's overhead is wasted on it.
    return np.einsum("ntc,nt->nc", values, mask)


def sqrt_clamped(values: Array, floor: float = 1e-12) -> Array:
    """Square root of ``max(values, floor)``, so degenerate zeros stay finite."""
    if is_torch(values):
        return values.clamp_min(floor).sqrt()
    return np.sqrt(np.maximum(values, floor))


def fill_along_axis(values: Array, indices: Array, fill_value: float, axis: int) -> None:
    """Set ``values`` at ``indices`` along ``axis`` to ``fill_value``, in place."""
    if is_torch(values):
        values.scatter_(axis, indices, fill_value)
    elif values.ndim == 2 and axis in (-1, 1) and values.flags.c_contiguous:
        # Flat positions: several times faster than put_along_axis's index broadcasting.
        rows, width = values.shape
        flat_positions = np.arange(rows)[:, None] * width + indices
        values.reshape(-1)[flat_positions.reshape(-1)] = fill_value
    else:
        np.put_along_axis(values, indices, fill_value, axis=axis)


def count_rows(indices: Array, width: int, *, like: Array) -> Array:
    """Shape ``(n, width)``: how many times each column appears in each row of ``indices``.

    A 0/1 mask when a row's indices are distinct; a repeated index counts as often
    as it appears, so sums weighted by this matrix weigh repeats by multiplicity.
    """
    n_rows = indices.shape[0]
    if is_torch(like):
        import torch

        counts = torch.zeros((n_rows, width), dtype=like.dtype, device=like.device)
        return counts.scatter_add_(1, indices, torch.ones(indices.shape, dtype=like.dtype, device=like.device))
    # Fast path first: a 0/1 fill, several times cheaper than counting; only rows whose
    # mask falls short of K ones (a repeated index) are then counted properly.
    counts = np.zeros((n_rows, width), dtype=like.dtype)
    fill_along_axis(counts, indices, 1.0, axis=1)
    if np.count_nonzero(counts) == counts.shape[0] * indices.shape[1]:
        return counts
    repeated = np.flatnonzero(np.count_nonzero(counts, axis=1) != indices.shape[1])
    flat = (np.asarray(indices)[repeated] + (np.arange(len(repeated)) * width)[:, None]).ravel()
    counts[repeated] = np.bincount(flat, minlength=len(repeated) * width).reshape(len(repeated), width)
    return counts


def take_columns(table: Array, indices: Array) -> Array:
    """``table[:, indices]`` for a 2-D table and an integer index array of any shape."""
    if is_torch(table):
        return table[:, indices]
    # np.take is several times faster than fancy indexing for this gather.
    return np.take(table, indices, axis=1)


def concatenate_columns(parts: list) -> Array:
    """Stack ``(n, 1)`` columns side by side into ``(n, len(parts))``."""
    if is_torch(parts[0]):
        import torch

        return torch.cat(parts, dim=1)
    return np.concatenate(parts, axis=1)


def concatenate(parts: list, *, empty_shape: tuple[int, ...], like: Array, integer: bool = False) -> Array:
    """Concatenate chunks along the first axis; an empty list gives an empty array."""
    if is_torch(like):
        import torch

        if not parts:
            dtype = torch.int64 if integer else like.dtype
            return torch.zeros(empty_shape, dtype=dtype, device=like.device)
        return torch.cat(parts)
    if not parts:
        return np.zeros(empty_shape, dtype=np.intp if integer else like.dtype)
    return np.concatenate(parts)


class RowWriter:
    """Chunks of rows written into one preallocated array, instead of a list concatenated at the end.

    A list of chunks plus their concatenation holds the result twice; this holds it
    once. The array takes the dtype, device and trailing shape of the first chunk, so
    the result is what concatenating the chunks gave.
    """

    def __init__(self, n_rows: int, *, empty_shape: tuple[int, ...], like: Array, integer: bool = False):
        self.n_rows, self.empty_shape, self.like, self.integer = n_rows, empty_shape, like, integer
        self.rows: Array | None = None

    def write(self, start: int, chunk: Array) -> None:
        """Put ``chunk`` at rows ``start:start + len(chunk)``."""
        if self.rows is None:
            shape = (self.n_rows, *chunk.shape[1:])
            if is_torch(chunk):
                import torch

                self.rows = torch.empty(shape, dtype=chunk.dtype, device=chunk.device)
            else:
                self.rows = np.empty(shape, dtype=chunk.dtype)
        self.rows[start : start + chunk.shape[0]] = chunk

    def result(self) -> Array:
        """The filled array (an empty one, as :func:`concatenate` gives, when nothing was written)."""
        if self.rows is None:
            return concatenate([], empty_shape=self.empty_shape, like=self.like, integer=self.integer)
        return self.rows


def divide_rows(values: Array, divisors: Array) -> Array:
    """``values / divisors[:, None]`` in place (the same numbers, without a second ``(n, C)`` array)."""
    if is_torch(values):
        import torch

        if torch.result_type(values, divisors) != values.dtype:
            return values / divisors[:, None]
        return values.div_(divisors[:, None])
    if np.result_type(values, divisors) != values.dtype:
        return values / divisors[:, None]  # a wider result: out of place, as before
    np.divide(values, divisors[:, None], out=values)
    return values


def exp(values: Array) -> Array:
    """Element-wise exponential."""
    return values.exp() if is_torch(values) else np.exp(values)


def log(values: Array) -> Array:
    """Element-wise natural logarithm."""
    return values.log() if is_torch(values) else np.log(values)


def amax(values: Array, axis: int, keepdims: bool = False) -> Array:
    """Largest entry along ``axis``."""
    if is_torch(values):
        return values.amax(dim=axis, keepdim=keepdims)
    return values.max(axis=axis, keepdims=keepdims)


def total(values: Array, axis: int, keepdims: bool = False) -> Array:
    """Sum along ``axis``."""
    if is_torch(values):
        return values.sum(dim=axis, keepdim=keepdims)
    return values.sum(axis=axis, keepdims=keepdims)


def logsumexp(values: Array, axis: int, keepdims: bool = False) -> Array:
    """``log(sum(exp(values)))`` along ``axis``, shifted by the maximum so it never overflows."""
    if is_torch(values):
        import torch

        return torch.logsumexp(values, dim=axis, keepdim=keepdims)
    # A row of -inf would give -inf - -inf = NaN after the shift; its maximum is replaced by 0.
    highest = values.max(axis=axis, keepdims=True)
    highest = np.where(np.isfinite(highest), highest, 0.0).astype(values.dtype, copy=False)
    summed = np.log(np.exp(values - highest).sum(axis=axis, keepdims=True)) + highest
    return summed if keepdims else np.squeeze(summed, axis=axis)


def softmax(values: Array, axis: int) -> Array:
    """Softmax along ``axis``, in the dtype of ``values``."""
    if is_torch(values):
        return values.softmax(dim=axis)
    shifted = np.exp(values - values.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def batched_matvec(matrices: Array, vectors: Array) -> Array:
    """``out[n, i] = sum_j matrices[n, i, j] * vectors[n, j]``: shapes ``(n, I, J)``, ``(n, J)`` to ``(n, I)``."""
    return (matrices @ vectors[:, :, None])[:, :, 0]


def batched_vecmat(vectors: Array, matrices: Array) -> Array:
    """``out[n, j] = sum_i vectors[n, i] * matrices[n, i, j]``: shapes ``(n, I)``, ``(n, I, J)`` to ``(n, J)``."""
    return (vectors[:, None, :] @ matrices)[:, 0, :]
