"""SAGE: per-image prompt-template selection, as pure array math.

Arrays in, arrays out: every function takes NumPy arrays or torch tensors (CPU or
CUDA) and returns the same kind. Nothing here knows files, models or scikit-learn.

Shapes: ``n`` images, ``T`` templates, ``C`` classes, ``D`` embedding width, ``K``
templates kept per image. The text bank ``U`` of shape ``(T, C, D)`` holds unit
vectors ``U[t, c] = normalize(text(template_t(class_c)))``.

For an image ``v``, SAGE (Ye et al., AAAI 2026) computes ``s[t, c] = <v, U[t, c]>``
and the separation ``max_c s[t, c] - min_c s[t, c]`` of every template, keeps the
``K`` best-separated templates (ties: lowest index) and scores class ``c`` against
the prototype ``normalize(sum_{t in top K} U[t, c])``. With the class Gram matrices
``G[c] = U[:, c] @ U[:, c].T`` that score is::

    <v, sum_t U[t, c]> / ||sum_t U[t, c]|| = sum_t s[t, c] / sqrt(sum_{t, t'} G[c, t, t'])

so it needs only the ``(n, T*C)`` similarity matrix, never an ``(n, T, C, D)`` or
``(n, C, D)`` tensor, and images are processed in chunks to bound memory.
"""

from __future__ import annotations

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
from ._chunks import (  # re-exported: they lived here before every method shared them
    CHUNK_BYTES,
    TemplateChooser,
    class_major,
    duplicate_template_map,
    score_in_chunks,
    template_similarities,
)
from ._prototypes import (  # re-exported: the public face of the numeric core
    GramTables,
    class_gram_matrices,
    fixed_prototypes,
    gram_tables,
    l2_normalize,
    prototype_scores,
)
from ._top_k import top_k_templates

__all__ = [
    "CHUNK_BYTES",
    "GramTables",
    "TemplateChooser",
    "class_gram_matrices",
    "class_major",
    "duplicate_template_map",
    "fixed_prototypes",
    "gram_tables",
    "l2_normalize",
    "prototype_scores",
    "sage_chooser",
    "sage_scores",
    "score_in_chunks",
    "template_separation",
    "template_similarities",
    "top_k_templates",
]


def template_separation(similarities: Array) -> Array:
    """Separation of each template per image: highest minus lowest class similarity.

    Parameters
    ----------
    similarities : array of shape (n, T, C)

    Returns
    -------
    separation : array of shape (n, T)

    Examples
    --------
    >>> import numpy as np
    >>> template_separation(np.array([[[0.1, 0.4], [0.3, 0.2]]])).round(3).tolist()
    [[0.3, 0.1]]
    """
    n_classes = similarities.shape[-1]
    if n_classes == 2:
        # max - min of two numbers is |a - b|, bit for bit: one pass instead of three.
        difference = similarities[..., 0] - similarities[..., 1]
        return difference.abs_() if arrays.is_torch(difference) else np.abs(difference, out=difference)
    if arrays.is_torch(similarities):
        return arrays.amax_minus_amin(similarities, axis=-1)
    # One class slab at a time, updating running extremes in place: with the
    # class-major layout of template_similarities each slab is contiguous and the
    # extremes stay in cache, so the scores are read once instead of twice.
    highest = similarities[..., 0].copy()
    lowest = highest.copy()
    for index in range(1, n_classes):
        np.maximum(highest, similarities[..., index], out=highest)
        np.minimum(lowest, similarities[..., index], out=lowest)
    return np.subtract(highest, lowest, out=highest)


def sage_chooser(k: int, first_copy: np.ndarray | None = None) -> TemplateChooser:
    """Template chooser for SAGE: the ``k`` best-separated templates of each image.

    Parameters
    ----------
    k : int
        Templates kept per image.
    first_copy : integer ndarray of shape (T,), default=None
        From :func:`duplicate_template_map`, so duplicated templates tie exactly.

    Returns
    -------
    choose : callable
        A :data:`TemplateChooser` for :func:`score_in_chunks`.
    """

    def choose(similarities: Array, start: int, stop: int) -> Array:
        separation = template_separation(similarities)
        if first_copy is not None:
            separation = separation[:, arrays.as_indices(first_copy, separation)]
        return top_k_templates(separation, k)

    return choose


def sage_scores(
    image_embeddings: Array,
    text_bank: Array,
    k: int = 1,
    *,
    gram: Array | None = None,
    chunk_size: int | None = None,
) -> tuple[Array, Array]:
    """SAGE class scores and the templates each image used.

    Parameters
    ----------
    image_embeddings : array of shape (n, D)
        Unit-norm image embeddings.
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings of the same kind (NumPy or torch) and dtype.
    k : int, default=1
        Templates kept per image; ``k == T`` gives the full prompt ensemble.
    gram : array of shape (C, T, T), default=None
        Precomputed :func:`class_gram_matrices`, to reuse across calls.
    chunk_size : int, default=None
        Images scored at once; bounds memory.

    Returns
    -------
    scores : array of shape (n, C)
        Cosine similarity of each image to its class prototypes.
    selected : integer array of shape (n, k)
        Selected template indices, best-separated first.

    References
    ----------
    Ye, Wang, Zheng, Liu, Zhang. "SAGE: Spuriousness-Aware Guided Prompt
    Exploration for Mitigating Multimodal Bias", AAAI 2026 (arXiv:2511.13005).

    Examples
    --------
    >>> import numpy as np
    >>> bank = np.array([[[1.0, 0.0], [0.0, 1.0]],      # template 0 separates well
    ...                  [[0.8, 0.6], [0.6, 0.8]]])     # template 1 barely does
    >>> scores, selected = sage_scores(np.array([[1.0, 0.0]]), bank, k=1)
    >>> scores.round(2).tolist(), selected.tolist()
    ([[1.0, 0.0]], [[0]])
    """
    chooser = sage_chooser(k, duplicate_template_map(text_bank))
    return score_in_chunks(image_embeddings, text_bank, chooser, gram=gram, chunk_size=chunk_size)
