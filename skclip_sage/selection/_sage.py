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

from typing import Callable

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
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
    "GramTables",
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

TemplateChooser = Callable[[Array, int, int], Array]
"""``choose(similarities, start, stop)`` -> ``(stop - start, K)`` template indices."""

# Working arrays per chunk stay near this size: large enough for efficient BLAS
# calls, small enough that memory does not grow with the number of images.
CHUNK_BYTES = 64 * 2**20


def class_major(text_bank: Array) -> Array:
    """The bank flattened class by class, shape ``(C*T, D)``.

    A similarity matrix in this order holds each template's class scores ``T``
    apart, so reducing over classes runs over contiguous ``(n, T)`` slabs: many
    times faster than reducing a trailing axis of length ``C = 2``.
    """
    n_templates, n_classes, width = text_bank.shape
    return arrays.contiguous_transpose(text_bank, (1, 0, 2)).reshape(n_classes * n_templates, width)


def template_similarities(image_embeddings: Array, text_bank: Array, *, flat_bank: Array | None = None) -> Array:
    """Cosine similarity of every image to every (template, class) text embedding.

    Parameters
    ----------
    image_embeddings : array of shape (n, D)
        Unit-norm image embeddings.
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings.
    flat_bank : array of shape (C*T, D), default=None
        ``class_major`` of ``text_bank``, to reuse across chunks.

    Returns
    -------
    similarities : array of shape (n, T, C)
        From one matrix product; a view whose class axis is the slow one.
    """
    n_templates, n_classes, _ = text_bank.shape
    if flat_bank is None:
        flat_bank = class_major(text_bank)
    by_class = (image_embeddings @ flat_bank.T).reshape(-1, n_classes, n_templates)
    return by_class.transpose(1, 2) if arrays.is_torch(by_class) else by_class.transpose(0, 2, 1)


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


def duplicate_template_map(text_bank: Array) -> np.ndarray | None:
    """Map every template to the first template with bitwise identical embeddings.

    A matrix product may round identical rows differently depending on where they
    fall in it; copying the separation of the first copy makes duplicated templates
    tie exactly, so the lowest index wins on every arrays.

    Parameters
    ----------
    text_bank : array of shape (T, C, D)

    Returns
    -------
    first_copy : integer ndarray of shape (T,) or None
        None when all templates are distinct.
    """
    host = arrays.to_numpy(text_bank)
    flat = np.ascontiguousarray(host.reshape(host.shape[0], -1))
    # Hashing each template's bytes is linear; np.unique(axis=0) sorts the rows as
    # structured scalars, which took a third of a second for a (80, 100, 512) bank.
    first_seen: dict = {}
    first_copy = np.array(
        [first_seen.setdefault(row.tobytes(), index) for index, row in enumerate(flat)], dtype=np.intp
    )
    if len(first_seen) == len(first_copy):
        return None
    return first_copy


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


def score_in_chunks(
    image_embeddings: Array,
    text_bank: Array,
    choose_templates: TemplateChooser,
    *,
    gram: Array | None = None,
    chunk_size: int | None = None,
) -> tuple[Array, Array]:
    """Score images chunk by chunk, each against its own chosen templates.

    Parameters
    ----------
    image_embeddings : array of shape (n, D)
        Unit-norm image embeddings.
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings, same kind, device and dtype as the images.
    choose_templates : callable
        ``choose_templates(similarities, start, stop)`` returns the ``(stop - start, K)``
        template indices of images ``start:stop`` from their ``(stop - start, T, C)``
        similarities.
    gram : array of shape (C, T, T), default=None
        Precomputed :func:`class_gram_matrices`; computed when omitted.
    chunk_size : int, default=None
        Images per chunk; by default sized to keep working memory near 64 MiB.

    Returns
    -------
    scores : array of shape (n, C)
    selected : integer array of shape (n, K)
    """
    n_templates, n_classes, _ = text_bank.shape
    n_images = image_embeddings.shape[0]
    gram = class_gram_matrices(text_bank) if gram is None else gram
    tables = gram_tables(gram)
    flat_bank = class_major(text_bank)
    if chunk_size is None:
        bytes_per_image = 3 * n_templates * n_classes * image_embeddings.dtype.itemsize
        chunk_size = max(1, CHUNK_BYTES // bytes_per_image)
    scores, selected = [], []
    for start in range(0, n_images, chunk_size):
        stop = min(start + chunk_size, n_images)
        similarities = template_similarities(image_embeddings[start:stop], text_bank, flat_bank=flat_bank)
        chosen = choose_templates(similarities, start, stop)
        scores.append(prototype_scores(similarities, chosen, gram, tables=tables))
        selected.append(chosen)
    return (
        arrays.concatenate(scores, empty_shape=(0, n_classes), like=image_embeddings),
        arrays.concatenate(selected, empty_shape=(0, 0), like=image_embeddings, integer=True),
    )


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
