"""The chunked scoring every selection method stands on: similarities, chunk sizes, choosers.

Pure array math (NumPy, or torch on CPU or CUDA). A method that chooses templates per
image hands :func:`score_in_chunks` a :data:`TemplateChooser`; an aggregation reads the
same class-major similarities chunk by chunk (``_aggregation``), and ZPE scores its
templates with them. Images go through in chunks sized by :data:`CHUNK_BYTES`, so memory
does not grow with their number.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
from ._prototypes import class_gram_matrices, gram_tables, prototype_scores

__all__ = [
    "CHUNK_BYTES",
    "TemplateChooser",
    "class_major",
    "duplicate_template_map",
    "score_in_chunks",
    "similarity_product",
    "template_similarities",
    "twin_rows",
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


def twin_rows(rows: Array) -> tuple[np.ndarray, np.ndarray]:
    """The rows equal to an earlier row, and that earlier row's index (the first copy).

    Parameters
    ----------
    rows : array of shape (m, D)

    Returns
    -------
    later, first : integer ndarrays of shape (n_twins,)
        ``rows[later[i]]`` equals ``rows[first[i]]``, ``first[i]`` the lowest such
        index; empty when all rows differ.
    """
    if arrays.is_torch(rows):
        # On the rows' own device: no host copy of a GPU bank.
        _, inverse = rows.unique(dim=0, return_inverse=True)
        inverse = arrays.to_numpy(inverse)
    else:
        # Hashing each row's bytes is linear, where np.unique(axis=0) sorts structured scalars.
        seen: dict = {}
        flat = np.ascontiguousarray(rows)
        inverse = np.array([seen.setdefault(row.tobytes(), len(seen)) for row in flat], dtype=np.intp)
    if inverse.size == 0 or inverse.max() + 1 == len(inverse):
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    first_of_group = np.full(inverse.max() + 1, len(inverse), dtype=np.intp)
    np.minimum.at(first_of_group, inverse, np.arange(len(inverse)))
    first = first_of_group[inverse]
    later = np.flatnonzero(first != np.arange(len(inverse)))
    return later, first[later]


def similarity_product(images: Array, rows: Array, twins: tuple[np.ndarray, np.ndarray] | None = None) -> Array:
    """``images @ rows.T``, with equal rows giving bitwise equal columns.

    A matrix product may round a column differently depending on where it falls in
    the blocking of the kernel (torch does, on CPU and GPU: twin classes came out
    apart in about half the rows), so two identical class prompts would not tie and
    the later one could win. The twins' columns are copies of their first copy's, so
    a tie is exact and goes to the lowest index; the product itself is unchanged.

    Parameters
    ----------
    images : array of shape (n, D)
    rows : array of shape (m, D)
    twins : tuple of integer ndarrays, default=None
        ``twin_rows`` of ``rows``, to reuse across chunks; computed when None.

    Returns
    -------
    product : array of shape (n, m)
    """
    later, first = twin_rows(rows) if twins is None else twins
    product = images @ rows.T
    if len(later):
        if arrays.is_torch(product):
            product[:, arrays.as_indices(later, product)] = product[:, arrays.as_indices(first, product)]
        else:
            product[:, later] = product[:, first]
    return product


def template_similarities(
    image_embeddings: Array,
    text_bank: Array,
    *,
    flat_bank: Array | None = None,
    twins: tuple[np.ndarray, np.ndarray] | None = None,
) -> Array:
    """Cosine similarity of every image to every (template, class) text embedding.

    Parameters
    ----------
    image_embeddings : array of shape (n, D)
        Unit-norm image embeddings.
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings.
    flat_bank : array of shape (C*T, D), default=None
        ``class_major`` of ``text_bank``, to reuse across chunks.
    twins : tuple of integer ndarrays, default=None
        ``twin_rows`` of ``flat_bank``, to reuse across chunks.

    Returns
    -------
    similarities : array of shape (n, T, C)
        From one matrix product (``similarity_product``: equal text rows give
        bitwise equal similarities); a view whose class axis is the slow one.
    """
    n_templates, n_classes, _ = text_bank.shape
    if flat_bank is None:
        flat_bank = class_major(text_bank)
    by_class = similarity_product(image_embeddings, flat_bank, twins).reshape(-1, n_classes, n_templates)
    return by_class.transpose(1, 2) if arrays.is_torch(by_class) else by_class.transpose(0, 2, 1)


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
    twins = twin_rows(flat_bank)
    if chunk_size is None:
        bytes_per_image = 3 * n_templates * n_classes * image_embeddings.dtype.itemsize
        chunk_size = max(1, CHUNK_BYTES // bytes_per_image)
    # Written into preallocated (n, C) and (n, K) arrays: working memory stays one chunk.
    scores = arrays.RowWriter(n_images, empty_shape=(0, n_classes), like=image_embeddings)
    selected = arrays.RowWriter(n_images, empty_shape=(0, 0), like=image_embeddings, integer=True)
    for start in range(0, n_images, chunk_size):
        stop = min(start + chunk_size, n_images)
        similarities = template_similarities(image_embeddings[start:stop], text_bank, flat_bank=flat_bank, twins=twins)
        chosen = choose_templates(similarities, start, stop)
        scores.write(start, prototype_scores(similarities, chosen, gram, tables=tables))
        selected.write(start, chosen)
    return scores.result(), selected.result()
