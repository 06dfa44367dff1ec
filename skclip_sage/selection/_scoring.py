"""From validated embeddings and a text bank to class scores, for every selection mode.

Pure arrays (NumPy, or torch on CUDA when asked); the estimator hands over
checked inputs and gets NumPy arrays back.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import ZeroNormEmbeddingWarning
from . import _arrays as arrays
from ._methods import SELECTION_METHODS, SELECTIONS
from ._prototypes import fixed_prototypes, l2_normalize
from ._sage import score_in_chunks


def score_embeddings(
    image_embeddings, text_bank, *, selection, k, fixed_templates=None, random_state=None, device="cpu"
):
    """Class scores of each image under one selection mode.

    Parameters
    ----------
    image_embeddings : ndarray of shape (n, D)
        Finite image embeddings (normalised here; zero rows get uniform scores).
    text_bank : ndarray of shape (T, C, D)
        Unit-norm text embeddings.
    selection : str
        A name in :data:`~skclip_sage.selection.SELECTION_METHODS`.
    k : int
        Templates per image for the methods that use ``k``.
    fixed_templates : ndarray of shape (K,), default=None
        Template indices shared by all images, for the fixed methods (``"single"``,
        ``"ensemble"``, ``"text"``); chosen here from ``text_bank`` when None.
    random_state : None, int, RandomState or Generator
        Seeds the random methods; an int replays the same draws on every call.
    device : str or None, default="cpu"
        ``"cuda"`` or ``"cuda:N"`` computes with torch on that GPU; None or ``"cpu"``
        with NumPy. Already resolved by the caller (``encoders.compute_device``).

    Returns
    -------
    scores : ndarray of shape (n, C)
        Cosine similarities to the class prototypes, in the dtype of the input.
    selected : ndarray of shape (n, K)
        Template indices used for each image.
    """
    embeddings, is_zero = l2_normalize(np.asarray(image_embeddings))
    if is_zero.any():
        rows = np.flatnonzero(is_zero)
        warnings.warn(
            f"{len(rows)} embedding row(s) have zero norm ({rows[:10].tolist()}); their class scores are "
            "uniform and their prediction is the first class.",
            ZeroNormEmbeddingWarning,
            stacklevel=4,
        )
    bank = text_bank.astype(embeddings.dtype, copy=False)
    n_images, n_templates = len(embeddings), bank.shape[0]
    gpu = _gpu_device(device)
    if gpu is not None:
        import torch

        embeddings, bank = torch.as_tensor(embeddings, device=gpu), torch.as_tensor(bank, device=gpu)
    method = SELECTION_METHODS.get(selection)
    if method is None:
        raise ValueError(f"selection={selection!r} is not a selection method; choose one of {SELECTIONS}.")
    if method.per_image:
        chooser = method.choose(bank, k, n_images, _generator(random_state))
        scores, selected = score_in_chunks(embeddings, bank, chooser)
        if method.ensemble_at_full_k and k == n_templates:
            # Every template is kept, whatever the order: exactly the prompt ensemble.
            scores = embeddings @ fixed_prototypes(bank, np.arange(n_templates)).T
    else:
        if fixed_templates is None:
            fixed_templates = method.choose(bank, k, n_images, None)
        scores = embeddings @ fixed_prototypes(bank, fixed_templates).T
        selected = np.broadcast_to(np.asarray(fixed_templates), (n_images, len(fixed_templates)))
    return arrays.to_numpy(scores), np.array(arrays.to_numpy(selected))


def _generator(random_state):
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    # A fresh generator per call: an int seed replays the same draws, and the
    # global NumPy state is never consumed.
    return np.random.default_rng(random_state)


def _gpu_device(device):
    """The torch device for a device the caller already resolved; None for NumPy on the CPU.

    The device policy ("auto", fallbacks, errors) lives with the models
    (``skclip_sage.encoders.compute_device``); this layer only follows its answer.
    """
    if device is None or device == "cpu":
        return None
    if not str(device).startswith("cuda"):
        raise ValueError(
            f"score_embeddings takes a resolved device (None, 'cpu', 'cuda' or 'cuda:N'); got {device!r}. "
            "Resolve it first with skclip_sage.encoders.compute_device."
        )
    import torch

    return torch.device(device)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits.

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])).round(3).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)
