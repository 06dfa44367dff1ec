"""The selection baselines SAGE is compared against, as pure array math.

- ``single``: one template for every image (the reference code's template 0).
- ``ensemble``: all templates averaged, CLIP's standard prompt ensemble.
- ``random``: ``K`` templates drawn per image, seeded, without replacement.
- ``text``: ``K`` templates chosen once, from the class names alone (no images).

Fixed selections (single, ensemble, text) reduce to one prototype matrix shared
by all images; the per-image ones (random, like SAGE) go through
:func:`skclip_sage.selection._chunks.score_in_chunks`.
"""

from __future__ import annotations

import numpy as np

from . import _arrays as arrays
from ._arrays import Array
from ._chunks import TemplateChooser

# Random keys held at once while drawing templates (float64, one row of T per image).
RANDOM_KEY_BYTES = 4 * 2**20


def random_template_indices(n_images: int, n_templates: int, k: int, rng) -> np.ndarray:
    """Draw ``k`` distinct templates for each image.

    Parameters
    ----------
    n_images, n_templates, k : int
        Draw ``k <= n_templates`` of ``n_templates`` for each of ``n_images``.
    rng : numpy.random.Generator or numpy.random.RandomState
        Source of randomness; the global NumPy state is never touched.

    Returns
    -------
    indices : ndarray of shape (n_images, k)
        Row ``i`` is a uniformly random ``k``-subset, in random order.

    Examples
    --------
    >>> import numpy as np
    >>> indices = random_template_indices(3, 5, 2, np.random.default_rng(0))
    >>> indices.shape, all(len(set(row)) == 2 for row in indices)
    ((3, 2), True)
    """
    # The order of i.i.d. uniform keys is a uniform random permutation. The keys are drawn
    # a block of rows at a time: the generator's stream is the same as one (n, T) draw,
    # so the indices are too, while the (block, T) keys and their argsort stay small.
    indices = np.empty((n_images, k), dtype=np.intp)
    block = max(1, RANDOM_KEY_BYTES // (8 * max(n_templates, 1)))
    for start in range(0, n_images, block):
        keys = rng.random((min(block, n_images - start), n_templates))
        indices[start : start + len(keys)] = np.argsort(keys, axis=1)[:, :k]
    return indices


def random_chooser(indices: np.ndarray) -> TemplateChooser:
    """Template chooser replaying pre-drawn random indices chunk by chunk.

    Parameters
    ----------
    indices : ndarray of shape (n_images, k)
        From :func:`random_template_indices`, drawn once for all images so the
        result does not depend on the chunk size.
    """

    def choose(similarities: Array, start: int, stop: int) -> Array:
        return arrays.as_indices(indices[start:stop], similarities)

    return choose


def worst_class_pair_similarity(text_bank: Array) -> np.ndarray:
    """For each template, the highest cosine between two different class prompts.

    Parameters
    ----------
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings.

    Returns
    -------
    similarity : ndarray of shape (T,)
        ``max_{c != c'} <U[t, c], U[t, c']>``; lower means the template keeps even
        its two most confusable classes apart.
    """
    bank = arrays.to_numpy(text_bank).astype(np.float64)
    pairwise = np.einsum("tcd,ted->tce", bank, bank)
    n_classes = bank.shape[1]
    pairwise[:, np.arange(n_classes), np.arange(n_classes)] = -np.inf
    return pairwise.reshape(len(bank), -1).max(axis=1)


def text_selected_templates(text_bank: Array, k: int) -> np.ndarray:
    """Choose ``k`` templates from the class names alone, before seeing any image.

    The criterion mirrors SAGE's separation in text space: a template is good when
    its class prompts are far apart, judged by the worst (most similar) pair of
    classes, as worst-group accuracy judges by the worst group. Ties go to the
    lowest template index.

    Parameters
    ----------
    text_bank : array of shape (T, C, D)
        Unit-norm text embeddings.
    k : int
        Number of templates to keep.

    Returns
    -------
    indices : ndarray of shape (k,)
        Kept template indices, best-separated first.

    Examples
    --------
    >>> import numpy as np
    >>> bank = np.array([[[1.0, 0.0], [0.6, 0.8]],    # classes 53 degrees apart
    ...                  [[1.0, 0.0], [0.0, 1.0]]])   # classes orthogonal
    >>> text_selected_templates(bank, k=1).tolist()
    [1]
    """
    return np.argsort(worst_class_pair_similarity(text_bank), kind="stable")[:k]
