"""AutoCLIP's released step-size search, replayed: SciPy's bisection and the float32 it decides in.

The released code (boschresearch/autoclip, ``autoclip_aggregation``) chooses each image's
step size with ``scipy.optimize.bisect(f, 0, 1e7, xtol=1e-2, rtol=1e-2, maxiter=100)``,
where ``f`` is the entropy of the step's weights, in bits and in float32, minus the
target. The search path is decided by the sign of ``f`` at each midpoint, so it is
replayed here from the exact root on ``(n,)`` vectors; a midpoint so close to the root
that float32 rounding could decide its side is decided by ``f`` computed operation for
operation as the released code computes it (its gradient and target come from torch,
so torch is imported for those, and only when such a midpoint occurs).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SEARCH_UPPER", "released_excess", "released_gradient", "released_target", "replay_bisection"]

SEARCH_UPPER = 1e7
SEARCH_TOLERANCE = 1e-2
SEARCH_HALVINGS = 100


def released_excess(gradient32: np.ndarray, steps: np.ndarray, target32: np.float32) -> np.ndarray:
    """The released code's ``f(step)``, entropy in bits minus target, in its float32 arithmetic.

    Row ``i`` is ``softmax(float32(steps[i]) * gradient32[i])`` and
    ``-sum(w * log2(w + 1e-10))``, operation for operation as the released code computes
    it on one image's float32 gradient, so its sign decides as the released search does.
    """
    logits = gradient32 * steps.astype(np.float32)[:, None]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights = shifted / shifted.sum(axis=1, keepdims=True)
    entropy = -(weights * np.log2(weights + np.float32(1e-10))).sum(axis=1)
    return entropy - target32


def released_target(n_templates: int, beta: float) -> tuple[np.float32, np.float32]:
    """The released code's float32 target entropy (bits) and its ``f(0)``.

    The released code sums the uniform weights' entropy with torch, whose float32
    summation order differs from NumPy's for some ``T`` by a rounding; torch is a
    dependency of this package, imported here only when a midpoint needs it.
    """
    import torch

    uniform = torch.zeros((1, n_templates)).softmax(dim=1)
    base = -(uniform * torch.log2(uniform)).sum(-1).numpy()
    target = (base * beta)[0]  # NumPy float32 times a Python float: float32, as released
    at_zero = released_excess(np.zeros((1, n_templates), np.float32), np.zeros(1), target)[0]
    return target, at_zero


def released_gradient(by_class: np.ndarray) -> np.ndarray:
    """The released code's float32 gradient for these images, shape ``(m, C, T)`` to ``(m, T)``.

    Autograd through the released formula (float32 weight logits, similarities in their
    own dtype), so the rounding matches the released code's run on each image.
    """
    import torch

    similarities = torch.from_numpy(np.ascontiguousarray(by_class))[:, None]  # (m, 1, C, T)
    weight_logits = torch.zeros((by_class.shape[0], 1, by_class.shape[2]), requires_grad=True)
    logits = torch.sum(weight_logits.softmax(dim=2)[:, None] * similarities, -1)
    (gradient,) = torch.autograd.grad(torch.logsumexp(logits, dim=2).sum(), weight_logits)
    return gradient[:, 0].numpy()


def replay_bisection(roots: np.ndarray, margins=None, decide=None) -> np.ndarray:
    """The midpoint where ``bisect(f, 0, SEARCH_UPPER, xtol, rtol)`` stops, for a decreasing ``f`` with these roots.

    SciPy halves the step ``dm`` from ``xa = 0``, moves ``xa`` to the midpoint ``xm``
    whenever ``f(xm)`` has the sign of ``f(0)`` (``xm`` at or below the root), and
    returns ``xm`` once ``dm < xtol + rtol * xm``, or at once where ``f(xm) == 0``.
    A midpoint within ``margins`` of its row's root is instead decided by
    ``decide(rows, midpoints)``, which returns ``f`` there (the released code's own
    rounding then decides, as it does in the released search).
    """
    result = np.zeros_like(roots)
    searched = roots > 0
    start = np.zeros(int(searched.sum()))
    root = roots[searched]
    margin = None if margins is None else margins[searched]
    found = np.full(len(root), np.nan)
    step = SEARCH_UPPER
    open_rows = np.ones(len(root), dtype=bool)
    for _ in range(SEARCH_HALVINGS):
        step *= 0.5
        midpoint = start + step
        below = midpoint <= root
        exact = np.zeros(len(root), dtype=bool)
        if margin is not None:
            near = np.flatnonzero(open_rows & (np.abs(midpoint - root) <= margin))
            if len(near):
                excess = decide(np.flatnonzero(searched)[near], midpoint[near])
                below[near] = excess >= 0
                exact[near] = excess == 0
        start = np.where(below, midpoint, start)
        stops = open_rows & ((step < SEARCH_TOLERANCE + SEARCH_TOLERANCE * np.abs(midpoint)) | exact)
        found[stops] = midpoint[stops]
        open_rows &= ~stops
        if not open_rows.any():
            break
    found[open_rows] = midpoint[open_rows]
    result[searched] = found
    return result
