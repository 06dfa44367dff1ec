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
``[0, 1e7]`` with absolute and relative tolerance ``1e-2``, deciding each midpoint by
its float32 entropy, and uses the midpoint where that search stops; the search is
replayed here on ``(n,)`` vectors (``_autoclip_search``): from the root where a midpoint
is clearly on one side, and by the released code's own float32 arithmetic where a
midpoint lies within its rounding of the root. Rows whose float32 gradient is mostly
rounding (near-equal templates) or whose step multiplies that rounding (small ``beta``)
take the released float32 gradient. So the weights equal the released code's run per
image (to 1e-6 in the scores on every row compared, benchmarks/README.md), not the
exact root's, which lies within about 1 %. Those checks import torch (a dependency)
at the first row that needs them.
"""

from __future__ import annotations

import math

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
from ._autoclip_roots import FLOAT32_EPS, entropy_roots
from ._autoclip_search import SEARCH_UPPER, released_excess, released_gradient, released_target, replay_bisection

__all__ = ["autoclip_scores", "autoclip_step_sizes", "autoclip_weights"]

# A gradient whose float32 rounding (relative to its range) exceeds this is taken from the
# released arithmetic itself.
GRADIENT_RELATIVE_ROUNDING = 1e-5
# Steps that spread the weight logits over more than this take the released gradient too.
SHARP_LOGIT_RANGE = 64.0
# The largest contiguous copy of similarities the weighted mean makes.
COPY_BYTES = 4 * 2**20
# Below this distance from 1, beta may round so that the released f(0) is not positive.
BETA_NEAR_ONE = 1e-4


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


def autoclip_step_sizes(gradient: Array, beta: float) -> np.ndarray:
    """Step size of each image: the released search's, for entropy ``beta * log2(T)`` bits.

    The released code bisects ``[0, 1e7]`` until the step is within 1 % of the
    midpoint, deciding each midpoint by its float32 entropy. The search is replayed
    from the exact root (float64); a midpoint within float32 rounding of the root is
    decided by that float32 entropy, computed as the released code computes it (here
    from ``float32(gradient)``; :func:`autoclip_weights` uses the released code's own
    float32 gradient of the similarities).

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
        entries are equal; ``1e7`` (the search's upper end) where the target entropy
        cannot be reached (several templates tie for the largest gradient, or
        ``beta == 0``).
    """
    return _step_sizes(gradient, beta, lambda rows: arrays.to_numpy(gradient[rows]).astype(np.float32))


def _step_sizes(gradient: Array, beta: float, gradient_of_rows) -> np.ndarray:
    """``autoclip_step_sizes``; ``gradient_of_rows(rows)`` gives those rows' released float32 gradient."""
    n_templates = gradient.shape[1]
    target = beta * math.log(n_templates)  # nats; the same equation as beta * log2(T) bits
    roots, margins = entropy_roots(gradient, target)
    unreachable = np.isinf(roots)
    if not (roots > 0).any():
        return roots
    released = {}  # the released target, computed (with torch) at the first midpoint that needs it

    def decide(rows, midpoints):
        if not released:
            released["target"] = released_target(n_templates, beta)[0]
        return released_excess(gradient_of_rows(arrays.as_indices(rows, gradient)), midpoints, released["target"])

    if beta > 1 - BETA_NEAR_ONE and released_target(n_templates, beta)[1] <= 0:
        # beta within float32 rounding of 1: the released f(0) <= 0, so it stops at 0 (or cannot bracket).
        return np.zeros(len(roots))
    alpha = replay_bisection(np.where(unreachable, 0.0, roots), margins, decide)
    # Unreachable: the released f(1e7) is 0 (one-hot weights) and it returns 1e7, or it raises.
    alpha[unreachable] = SEARCH_UPPER
    return alpha


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
    n_templates = gradient.shape[1]
    # Where the templates barely differ, the gradient is a difference of nearly equal float32
    # numbers and its rounding is a visible part of it: such rows take the released code's
    # own float32 gradient, so its step and weights are the released ones (rare rows only:
    # it costs several times our gradient).
    spread = arrays.to_numpy(arrays.amax_minus_amin(gradient, axis=1)).astype(np.float64)
    fragile = np.flatnonzero((spread > 0) & (spread * n_templates * GRADIENT_RELATIVE_ROUNDING < FLOAT32_EPS))
    if len(fragile):
        rows = arrays.as_indices(fragile, gradient)
        gradient[rows] = arrays.as_values(released_gradient(arrays.to_numpy(by_class[rows])), like=gradient)
    steps = _step_sizes(gradient, beta, lambda rows: released_gradient(arrays.to_numpy(by_class[rows])))
    # A long step (sharp weights, small beta) multiplies the gradient's rounding: those rows'
    # weights also come from the released float32 gradient.
    sharp = np.flatnonzero(np.isfinite(steps) & (steps * spread > SHARP_LOGIT_RANGE))
    sharp = np.setdiff1d(sharp, fragile, assume_unique=True)
    if len(sharp):
        rows = arrays.as_indices(sharp, gradient)
        gradient[rows] = arrays.as_values(released_gradient(arrays.to_numpy(by_class[rows])), like=gradient)
    alpha = arrays.as_values(steps[:, None], like=gradient)
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
    return _weighted_mean(similarities, autoclip_weights(similarities, beta))


def _weighted_mean(similarities: Array, weights: Array) -> Array:
    """``sum_t weights[n, t] * similarities[n, t, c]``, the same operations for every class.

    Every class gets the same sequence of rounded operations, so bitwise-equal classes
    get bitwise-equal scores (a batched matrix product rounds a class by where it sits
    in the kernel's tiles: twin classes came out 1e-16 apart). Torch's vectorised sums
    also depend on position, so there it is one multiply and one add per template.
    """
    if not arrays.is_torch(similarities):
        # With the templates contiguous, einsum takes one dot product per (image, class),
        # all through the same kernel (given another layout it may vectorise across classes).
        by_class = _class_major(similarities)
        if by_class.flags.c_contiguous:
            return np.einsum("nct,nt->nc", by_class, weights)
        # Another layout (similarities given image x template x class): a contiguous copy
        # of a block of rows at a time, so the copy stays small.
        scores = np.empty(by_class.shape[:2], dtype=np.result_type(by_class, weights))
        block = max(1, COPY_BYTES // max(1, by_class[0].nbytes))
        for start in range(0, len(by_class), block):
            rows = slice(start, start + block)
            scores[rows] = np.einsum("nct,nt->nc", np.ascontiguousarray(by_class[rows]), weights[rows])
        return scores
    scores = similarities[:, 0, :] * weights[:, :1]
    for template in range(1, similarities.shape[1]):
        scores += similarities[:, template, :] * weights[:, template : template + 1]
    return scores


def _class_major(similarities: Array) -> Array:
    """``(n, T, C)`` similarities as ``(n, C, T)``: a view, contiguous when they came from ``template_similarities``."""
    return similarities.transpose(1, 2) if arrays.is_torch(similarities) else similarities.transpose(0, 2, 1)
