"""From validated embeddings and a text bank to class scores, for every selection mode.

Pure arrays (NumPy, or torch on CUDA when asked); the estimator hands over
checked inputs and gets NumPy arrays back.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import ZeroNormEmbeddingWarning
from . import _arrays as arrays
from ._aggregation import aggregate_in_chunks
from ._chunks import score_in_chunks, similarity_product
from ._methods import SELECTION_METHODS, SELECTIONS
from ._norms import row_scaling
from ._prototypes import fixed_prototypes


def score_embeddings(
    image_embeddings,
    text_bank,
    *,
    selection,
    k,
    fixed_templates=None,
    random_state=None,
    device="cpu",
    scaling=None,
    options=None,
):
    """Class scores of each image under one selection mode.

    Parameters
    ----------
    image_embeddings : ndarray of shape (n, D)
        Finite image embeddings of any scale (zero rows get uniform scores).
    text_bank : ndarray of shape (T, C, D)
        Unit-norm text embeddings.
    selection : str
        A name in ``skclip_sage.selection.SELECTION_METHODS``.
    k : int
        Templates per image for the methods that use ``k``.
    fixed_templates : ndarray of shape (K,), default=None
        Template indices shared by all images, for the fixed methods (``"single"``,
        ``"ensemble"``, ``"text"``, and the aggregations, which use every template or,
        for ``"zpe"``, the kept ones); chosen here from ``text_bank`` when None.
    random_state : None, int, RandomState or Generator
        Seeds the random methods; an int replays the same draws on every call.
    device : str or None, default="cpu"
        ``"cuda"`` or ``"cuda:N"`` computes with torch on that GPU; None or ``"cpu"``
        with NumPy. Already resolved by the caller (``encoders.compute_device``).
    scaling : RowScaling, default=None
        ``row_scaling(image_embeddings)`` when the caller has it already (it checked
        the rows for NaN with it), so ``X`` is read once; computed here otherwise.
    options : dict, default=None
        What an aggregation reads (``SELECTION_METHODS[selection].options``, the
        ``logit_scale`` and what its ``learn`` returned in ``fit``); unused by the
        template choices.

    Returns
    -------
    scores : ndarray of shape (n, C)
        Class scores in the dtype of the input: cosine similarities to the class
        prototypes for the template choices, a weighted mean of the template
        similarities for ``"score_average"``, ``"autoclip"`` and ``"zpe"``, and
        ``log P(y | x) / logit_scale`` for ``"perception"``.
    selected : ndarray of shape (n, K)
        Template indices used for each image. For the methods that give every image
        the same templates it is a read-only broadcast view of one ``(K,)`` row, so
        no ``(n, K)`` index array is allocated.
    """
    # Scores are linear in each row and the choice of templates ignores a row's
    # scale, so rows are scored as they come and the (n, C) scores divided by the
    # row norms: no normalised copy of X is made.
    embeddings, norms, non_finite = row_scaling(np.asarray(image_embeddings)) if scaling is None else scaling
    if len(non_finite):
        raise ValueError(
            f"image_embeddings has NaN or infinity in {len(non_finite)} row(s) ({non_finite[:10].tolist()}); "
            "score only finite rows."
        )
    is_zero = norms == 0
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
        norms = torch.as_tensor(np.where(is_zero, 1.0, norms).astype(norms.dtype), device=gpu)
    else:
        norms = np.where(is_zero, 1.0, norms).astype(norms.dtype)  # zero rows: scores stay 0
    method = SELECTION_METHODS.get(selection)
    if method is None:
        raise ValueError(f"selection={selection!r} is not a selection method; choose one of {SELECTIONS}.")
    if method.per_image:
        chooser = method.choose(bank, k, n_images, _generator(random_state))
        scores, selected = score_in_chunks(embeddings, bank, chooser)
        if method.ensemble_at_full_k and k == n_templates:
            # Every template is kept, whatever the order: exactly the prompt ensemble.
            scores = similarity_product(embeddings, fixed_prototypes(bank, np.arange(n_templates)))
        return arrays.to_numpy(arrays.divide_rows(scores, norms)), np.array(arrays.to_numpy(selected))
    # One template set for every image (a fixed choice, or the pool an aggregation weighs):
    # its indices as a broadcast view, since a copy would allocate n x K indices nobody asked for.
    if fixed_templates is None:
        fixed_templates = method.choose(bank, k, n_images, None)
    selected = np.broadcast_to(np.asarray(fixed_templates), (n_images, len(fixed_templates)))
    if method.scoring is None:
        head = fixed_prototypes(bank, fixed_templates)
    else:
        scoring = method.scoring(bank, dict(options or {}))
        if scoring.aggregate is not None:
            # Not linear: the aggregator must see cosines, so each chunk is normalised first.
            return arrays.to_numpy(aggregate_in_chunks(embeddings, bank, scoring.aggregate, norms=norms)), selected
        head = scoring.head
    # Linear in each row: score the rows as they come, then divide by their norms (in
    # place: the product is the only (n, C) array).
    return arrays.to_numpy(arrays.divide_rows(similarity_product(embeddings, head), norms)), selected


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


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, finite for every temperature > 0.

    The row maximum is subtracted before dividing, in float64: the shifted logits
    are <= 0, so dividing by a tiny temperature gives ``-inf`` (probability 0) or
    ``0`` (the maximum), never ``inf - inf``; a huge one gives near-uniform rows.

    Parameters
    ----------
    logits : ndarray of shape (n, C)
    temperature : float, default=1.0

    Returns
    -------
    probabilities : ndarray of shape (n, C), float64
        Rows sum to 1.

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0], [1000.0, 0.0]])).round(3).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    >>> softmax(np.array([[0.3, 0.2]]), temperature=1e-39).tolist()
    [[1.0, 0.0]]
    """
    # In place on one float64 copy: the same operations as out of place, so the same
    # numbers, with no (n, C) temporaries beyond the result.
    probabilities = np.array(logits, dtype=np.float64)
    probabilities -= probabilities.max(axis=1, keepdims=True)
    probabilities /= temperature
    np.exp(probabilities, out=probabilities)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities
