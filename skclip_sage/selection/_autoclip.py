"""AutoCLIP: per-image template weights from one gradient step, as pure array math.

Metzen, Saranrittichai, Mummadi. "AutoCLIP: Auto-tuning Zero-Shot Classifiers for
Vision-Language Models", TMLR 2024. For one image with raw cosine similarities
``S[c, t]`` (class ``c``, template ``t``) the class logits are ``l_c = sum_t w_t S[c, t]``
with template weights ``w = softmax(rho)``. Starting from ``rho = 0`` (uniform weights),
AutoCLIP takes one gradient-ascent step on ``logsumexp_c l_c``; at ``rho = 0`` that
gradient is::

    g_t = w_t (sbar_t - sum_j w_j sbar_j),   sbar_t = sum_c p_c S[c, t],   p = softmax_c(l)

and the step size ``alpha >= 0`` is chosen so that the entropy of ``softmax(alpha g)``,
in bits, is ``beta * log2(T)``. The class scores are ``sum_t w_t S[c, t]`` with those
weights: a per-image weighted mean of the template similarities.

The step size is found per image without a Python loop: the entropy of
``softmax(alpha g)`` falls monotonically with ``alpha`` (its slope is ``-alpha`` times the
variance of ``g`` under the weights), so a safeguarded Newton iteration vectorised over
images finds its root. The released code instead runs SciPy's ``bisect`` on
``[0, 1e7]`` with absolute and relative tolerance ``1e-2`` and uses the midpoint where
that search stops; since the search path is decided by which side of the root each
midpoint falls, that midpoint is replayed here from the root, on ``(n,)`` vectors, so the
weights equal the released code's (not the exact root, which lies within about 1 %).
"""

from __future__ import annotations

import math

import numpy as np

from . import _arrays as arrays
from ._arrays import Array

__all__ = ["autoclip_scores", "autoclip_step_sizes", "autoclip_weights"]

# The released code's line search: scipy.optimize.bisect(f, 0, 1e7, xtol=1e-2, rtol=1e-2, maxiter=100).
SEARCH_UPPER = 1e7
SEARCH_TOLERANCE = 1e-2
SEARCH_HALVINGS = 100
# Newton's iterations stop when the entropy is within its rounding error of the target,
# or a step changes alpha by less than this fraction.
ENTROPY_TOLERANCE = 1e-6
NEWTON_RELATIVE_STEP = 1e-7
NEWTON_ITERATIONS = 30


def autoclip_gradient(by_class: Array) -> Array:
    """The gradient of ``logsumexp_c l_c`` with respect to the weight logits at uniform weights.

    Parameters
    ----------
    by_class : array of shape (n, C, T)
        Raw cosine similarities of each image to each class under each template.

    Returns
    -------
    gradient : array of shape (n, T)
    """
    n_templates = by_class.shape[2]
    logits = arrays.total(by_class, axis=2) / n_templates  # uniform weights 1/T
    class_weights = arrays.softmax(logits, axis=1)  # p, shape (n, C)
    mean_over_classes = arrays.batched_vecmat(class_weights, by_class)  # sbar, shape (n, T)
    centre = arrays.total(mean_over_classes, axis=1, keepdims=True) / n_templates
    return (mean_over_classes - centre) / n_templates


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


def _entropy_roots(gradient: Array, target: float) -> np.ndarray:
    """For each row, the ``alpha`` at which the entropy of ``softmax(alpha g)`` is ``target`` nats.

    Rows whose entropy cannot fall to ``target`` (``m`` templates tie for the largest
    gradient and ``log m > target``: the weights can only concentrate on those) get
    ``inf``; rows with a constant gradient, or a target at or above ``log T``, get 0.
    """
    n_rows, n_templates = gradient.shape
    gap = math.log(n_templates) - target
    roots = np.zeros(n_rows)
    if gap <= 0:
        return roots
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
        return roots
    if len(active) < n_rows:
        shifted = shifted[arrays.as_indices(active, shifted)]
    # Start from the quadratic expansion H(alpha) ~ log T - alpha^2 Var(g) / 2, then Newton's
    # steps kept inside the bracket [lower, upper] that every evaluation narrows.
    alpha = np.sqrt(2.0 * gap / variance[active])
    lower, upper = np.zeros(len(active)), np.full(len(active), SEARCH_UPPER)
    pending = np.arange(len(active))  # rows still iterating, as positions in ``active``
    rows = shifted
    for _ in range(NEWTON_ITERATIONS):
        current = alpha[pending]
        entropy, slope = _entropy_and_slope(rows, arrays.as_values(current[:, None], like=rows))
        excess = arrays.to_numpy(entropy).astype(np.float64) - target
        slope = arrays.to_numpy(slope).astype(np.float64)
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
    roots[active] = alpha
    return roots


def _replay_bisection(roots: np.ndarray) -> np.ndarray:
    """The midpoint where ``bisect(f, 0, SEARCH_UPPER, xtol, rtol)`` stops, for a decreasing ``f`` with these roots.

    SciPy halves the step ``dm`` from ``xa = 0``, moves ``xa`` to the midpoint ``xm``
    whenever ``f(xm)`` has the sign of ``f(0)`` (``xm`` at or below the root), and
    returns ``xm`` once ``dm < xtol + rtol * xm``.
    """
    result = np.zeros_like(roots)
    searched = roots > 0
    start = np.zeros(int(searched.sum()))
    root = roots[searched]
    found = np.full(len(root), np.nan)
    step = SEARCH_UPPER
    open_rows = np.ones(len(root), dtype=bool)
    for _ in range(SEARCH_HALVINGS):
        step *= 0.5
        midpoint = start + step
        start = np.where(midpoint <= root, midpoint, start)
        stops = open_rows & (step < SEARCH_TOLERANCE + SEARCH_TOLERANCE * np.abs(midpoint))
        found[stops] = midpoint[stops]
        open_rows &= ~stops
        if not open_rows.any():
            break
    found[open_rows] = midpoint[open_rows]
    result[searched] = found
    return result


def autoclip_step_sizes(gradient: Array, beta: float) -> np.ndarray:
    """Step size of each image: entropy of the weights ``beta * log2(T)`` bits, at the released search's precision.

    Parameters
    ----------
    gradient : array of shape (n, T)
        From ``autoclip_gradient`` (the gradient at uniform weights).
    beta : float
        Target entropy as a fraction of the uniform weights' entropy, in ``[0, 1]``.

    Returns
    -------
    alpha : ndarray of shape (n,), float64
        0 (uniform weights) when ``beta == 1``, ``T == 1`` or all of a row's gradient
        entries are equal.
    """
    n_templates = gradient.shape[1]
    target = beta * math.log(n_templates)  # nats; the same equation as beta * log2(T) bits
    return _replay_bisection(_entropy_roots(gradient, target))


def autoclip_weights(similarities: Array, beta: float = 0.85) -> Array:
    """AutoCLIP's template weights of each image.

    Parameters
    ----------
    similarities : array of shape (n, T, C)
        Raw cosine similarities (as :func:`template_similarities` returns them).
    beta : float, default=0.85
        Target entropy of the weights as a fraction of ``log2(T)``.

    Returns
    -------
    weights : array of shape (n, T)
        Non-negative, each row summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> similarities = np.array([[[0.30, 0.10], [0.20, 0.20], [0.25, 0.15]]])  # 3 templates, 2 classes
    >>> weights = autoclip_weights(similarities, beta=0.85)
    >>> weights.round(3).tolist(), bool(weights[0, 0] > weights[0, 2] > weights[0, 1])
    ([[0.59, 0.132, 0.279]], True)
    """
    by_class = _class_major(similarities)
    gradient = autoclip_gradient(by_class)
    alpha = arrays.as_values(autoclip_step_sizes(gradient, beta)[:, None], like=gradient)
    return arrays.softmax(alpha * gradient, axis=1)


def autoclip_scores(similarities: Array, beta: float = 0.85) -> Array:
    """AutoCLIP class scores: each image's template similarities averaged with its own weights.

    Parameters
    ----------
    similarities : array of shape (n, T, C)
        Raw cosine similarities.
    beta : float, default=0.85
        Target entropy of the weights as a fraction of ``log2(T)``; 1 gives uniform
        weights (the mean of the similarities), smaller values sharper ones.

    Returns
    -------
    scores : array of shape (n, C)
        ``sum_t w_t S[c, t]``, on the cosine scale.
    """
    return arrays.batched_matvec(_class_major(similarities), autoclip_weights(similarities, beta))


def _class_major(similarities: Array) -> Array:
    """``(n, T, C)`` similarities as ``(n, C, T)``: a view, contiguous when they came from ``template_similarities``."""
    return similarities.transpose(1, 2) if arrays.is_torch(similarities) else similarities.transpose(0, 2, 1)
