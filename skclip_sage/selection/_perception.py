"""PerceptionCLIP: classify by inferring the contextual attribute first, in log space.

An, Zhu, Panaitescu-Liess, Mummadi, Huang. "PerceptionCLIP: Visual Classification by
Inferring and Conditioning on Contexts", ICLR 2024 (two-step method, attributes inferred
with the class, ``infer_mode=0``). Each template describes one value ``z`` of a contextual
attribute ("a photo of a {}, on water."), so the similarity tensor holds
``f(y, z; x) = logit_scale * <x, U[z, y]>`` and::

    P(z | x)     = sum_y exp(f(y, z) / tau) / sum_{y', z'} exp(f(y', z') / tau)
    P(y | x, z)  = softmax_y f(y, z)
    P(y | x)     = sum_z P(z | x) P(y | x, z)

Everything is computed with log-sum-exp, so it stays finite where the official float32
``exp`` overflows (a logit above about 88, i.e. a cosine near 0.9 at ``tau = 1`` or 0.44
at ``tau = 0.5``, gives NaN there). The class scores returned are ``log P(y | x) /
logit_scale``: on the scale of the other modes' cosines, and a softmax of them times the
logit scale gives back ``P(y | x)`` exactly.
"""

from __future__ import annotations

from . import _arrays as arrays
from ._arrays import Array

__all__ = ["perception_log_probabilities", "perception_scores"]


def perception_log_probabilities(similarities: Array, logit_scale: float, temperature: float = 1.0) -> Array:
    """``log P(y | x)`` for every image and class.

    Parameters
    ----------
    similarities : array of shape (n, Z, C)
        Cosine similarity of each image to each (attribute value, class) prompt:
        the templates are the attribute values.
    logit_scale : float
        The model's similarity-to-logit multiplier (100 for CLIP).
    temperature : float, default=1.0
        ``tau``: how sharply ``P(z | x)`` follows the evidence for each attribute
        value (the official scripts sweep 0.5 to 10).

    Returns
    -------
    log_probabilities : array of shape (n, C)
        Each row's exponentials sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> similarities = np.array([[[0.30, 0.20], [0.22, 0.28]]])  # 2 attribute values, 2 classes
    >>> np.exp(perception_log_probabilities(similarities, 100.0)).round(3).tolist()
    [[0.881, 0.119]]
    """
    logits = logit_scale * similarities  # f(y, z), shape (n, Z, C)
    evidence = arrays.logsumexp(logits / temperature, axis=2)  # log sum_y exp(f / tau), shape (n, Z)
    log_attribute = evidence - arrays.logsumexp(evidence, axis=1, keepdims=True)  # log P(z | x)
    # In place, one (n, Z, C) array at a time: log P(y | x, z), then log P(z | x) + log P(y | x, z).
    logits -= arrays.logsumexp(logits, axis=2, keepdims=True)
    logits += log_attribute[:, :, None]
    return arrays.logsumexp(logits, axis=1)


def perception_scores(similarities: Array, logit_scale: float, temperature: float = 1.0) -> Array:
    """PerceptionCLIP class scores, ``log P(y | x) / logit_scale``.

    Parameters
    ----------
    similarities : array of shape (n, Z, C)
    logit_scale : float
    temperature : float, default=1.0

    Returns
    -------
    scores : array of shape (n, C)
        The argmax is PerceptionCLIP's prediction; ``softmax(logit_scale * scores)``
        is ``P(y | x)``.
    """
    return perception_log_probabilities(similarities, logit_scale, temperature) / logit_scale
