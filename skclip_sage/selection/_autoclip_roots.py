"""The step size at which AutoCLIP's weights reach their target entropy, for every image at once.

The entropy of ``softmax(alpha g)`` falls monotonically with ``alpha`` (its slope is
``-alpha`` times the variance of ``g`` under the weights), so a safeguarded Newton
iteration vectorised over images finds each row's root. With the roots come margins:
how close to a root the released code's float32 entropy may still fall on the other
side of its target, which ``_autoclip_search`` uses to decide where the root alone
cannot replay the released search.
"""

from __future__ import annotations

import math

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
from ._autoclip_search import SEARCH_UPPER

__all__ = ["FLOAT32_EPS", "entropy_roots"]

# Newton's iterations stop when the entropy is within its rounding error of the target,
# or a step changes alpha by less than this fraction.
ENTROPY_TOLERANCE = 1e-6
NEWTON_RELATIVE_STEP = 1e-7
NEWTON_ITERATIONS = 30
# How many float32 roundings of each entropy term the released code's f may carry
# (generous: a wider band only means a few more float32 evaluations).
FLOAT32_ROUNDINGS = 16
FLOAT32_EPS = float(np.finfo(np.float32).eps)


def _entropy_and_slope(shifted_gradient: Array, alpha: Array) -> tuple[Array, Array]:
    """Entropy (nats) of ``softmax(alpha g)`` and its derivative in ``alpha``, per row.

    ``shifted_gradient`` is ``g - max_t g`` (every entry <= 0, so nothing overflows);
    ``alpha`` has shape ``(n, 1)``.
    """
    if arrays.is_torch(shifted_gradient):
        exponentials = arrays.exp(alpha * shifted_gradient)
        partition = arrays.total(exponentials, axis=1)
        weighted = exponentials * shifted_gradient
    else:
        # In place: this runs a few times over every (image, template) pair, and allocating
        # its (n, T) temporaries costs as much as the arithmetic.
        weighted = np.multiply(shifted_gradient, alpha)
        np.exp(weighted, out=weighted)
        partition = weighted.sum(axis=1)
        np.multiply(weighted, shifted_gradient, out=weighted)
    first = arrays.total(weighted, axis=1) / partition
    second = arrays.einsum("nt,nt->n", weighted, shifted_gradient) / partition
    entropy = arrays.log(partition) - alpha[:, 0] * first
    variance = second - first * first
    variance = variance.clamp_min(0.0) if arrays.is_torch(variance) else np.maximum(variance, 0.0)
    return entropy, -alpha[:, 0] * variance


def entropy_roots(gradient: Array, target: float) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the ``alpha`` at which the entropy of ``softmax(alpha g)`` is ``target`` nats.

    Rows whose entropy cannot fall to ``target`` (``m`` templates tie for the largest
    gradient and ``log m >= target``: the weights can only concentrate on those) get
    ``inf``; rows with a constant gradient, or a target at or above ``log T``, get 0.
    Also returns each row's ``alpha`` scale of float32 rounding: how far from the root
    the released code's float32 entropy may still fall on the wrong side of its target
    (0 where the root is 0 or ``inf``).
    """
    n_rows, n_templates = gradient.shape
    gap = math.log(n_templates) - target
    roots, margins = np.zeros(n_rows), np.zeros(n_rows)
    if gap <= 0:
        return roots, margins
    highest = arrays.amax(gradient, axis=1, keepdims=True)
    shifted = gradient - highest
    # The variance does not change with the shift: E[u^2] - E[u]^2 from the shifted rows, in float64.
    mean = arrays.to_numpy(arrays.total(shifted, axis=1)).astype(np.float64) / n_templates
    mean_square = arrays.to_numpy(arrays.einsum("nt,nt->n", shifted, shifted)).astype(np.float64) / n_templates
    variance = np.maximum(mean_square - mean * mean, 0.0)
    # The entropy falls towards log(number of tied maxima) as alpha grows.
    n_maxima = arrays.to_numpy(arrays.total(shifted == 0, axis=1))
    reachable = np.log(n_maxima) < target
    roots[(variance > 0) & ~reachable] = np.inf
    active = np.flatnonzero((variance > 0) & reachable)
    if len(active) == 0:
        return roots, margins
    if len(active) < n_rows:
        shifted = shifted[arrays.as_indices(active, shifted)]
    # Start from the quadratic expansion H(alpha) ~ log T - alpha^2 Var(g) / 2, then
    # safeguarded Newton steps in the input's dtype.
    alpha = np.sqrt(2.0 * gap / variance[active])
    alpha, slope = _newton(shifted, alpha, target)
    roots[active] = alpha
    # How far the root may be from where the released code's float32 entropy crosses its
    # target: our entropy's tolerance and rounding, and a few float32 roundings of each of
    # the released code's terms (``alpha g`` up to alpha times the gradient's range, the
    # target, the sum over T). Midpoints that close are decided by the released arithmetic.
    spread = arrays.to_numpy(arrays.amax_minus_amin(shifted, axis=1)).astype(np.float64)
    rounding = FLOAT32_ROUNDINGS * FLOAT32_EPS * (1.0 + alpha * spread) * (math.log(n_templates) + 2.0)
    steepness = np.maximum(-slope, np.finfo(np.float64).tiny)
    # Our gradient and the released one differ by float32 roundings (|S| <= 1): a relative
    # change of the root of that order, against the gradient's range.
    gradient_rounding = FLOAT32_ROUNDINGS * FLOAT32_EPS / (n_templates * spread)
    margins[active] = (ENTROPY_TOLERANCE + rounding) / steepness + (
        4 * NEWTON_RELATIVE_STEP + gradient_rounding
    ) * alpha
    return roots, margins


def _newton(rows: Array, alpha: np.ndarray, target: float) -> tuple[np.ndarray, np.ndarray]:
    """Safeguarded Newton iteration for ``entropy(softmax(alpha * rows)) == target``, per row.

    ``rows`` are the shifted gradients (every entry <= 0); each iteration keeps ``alpha``
    inside the bracket that the evaluations so far have narrowed. Returns ``alpha`` and
    the entropy's derivative there (from each row's last evaluation).
    """
    alpha = alpha.copy()
    slope_at = np.zeros(len(alpha))
    lower, upper = np.zeros(len(alpha)), np.full(len(alpha), SEARCH_UPPER)
    pending = np.arange(len(alpha))  # rows still iterating
    for _ in range(NEWTON_ITERATIONS):
        current = alpha[pending]
        entropy, slope = _entropy_and_slope(rows, arrays.as_values(current[:, None], like=rows))
        excess = arrays.to_numpy(entropy).astype(np.float64) - target
        slope = arrays.to_numpy(slope).astype(np.float64)
        slope_at[pending] = slope
        above = excess > 0  # entropy still too high: the root lies beyond alpha
        low = lower[pending] = np.where(above, current, lower[pending])
        high = upper[pending] = np.where(above, upper[pending], current)
        with np.errstate(divide="ignore", invalid="ignore"):
            proposal = current - excess / slope
        # Inclusive bounds: at an exact root the proposal is alpha itself, which just became a bound.
        outside = ~np.isfinite(proposal) | (proposal < low) | (proposal > high)
        proposal = np.where(outside, 0.5 * (low + high), proposal)
        # A row whose entropy is the target to its rounding error stops where it is.
        on_target = np.abs(excess) <= ENTROPY_TOLERANCE
        alpha[pending] = np.where(on_target, current, proposal)
        moving = ~on_target & (np.abs(proposal - current) > NEWTON_RELATIVE_STEP * proposal)
        if not moving.any():
            break
        if moving.mean() < 0.5:
            # Most rows have converged: iterate on the others only (one gather of the few).
            # Otherwise every pending row is recomputed, cheaper than gathering most of them;
            # a converged row's Newton step then leaves it where it is.
            rows = rows[arrays.as_indices(np.flatnonzero(moving), rows)]
            pending = pending[moving]
    return alpha, slope_at
