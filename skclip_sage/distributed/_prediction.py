"""Classify a Dask array of embeddings block by block, where the blocks lie."""

from __future__ import annotations

import warnings

import numpy as np

from ..utils._optional import require_dask


def predict(classifier, embeddings):
    """Predict the class of every row of a Dask array of embeddings.

    Each block is classified on the worker that holds it; only the fitted
    classifier (plain NumPy arrays) travels to the workers, once, and nothing
    is gathered on the client until the result is computed.

    Parameters
    ----------
    classifier : SageZeroShotClassifier
        A fitted classifier (any fitted estimator with ``predict`` works).
    embeddings : dask.array.Array of shape (n_samples, n_features)
        Image embeddings, e.g. from :func:`embed_images`. A block must hold
        whole rows, so an array chunked along its columns is first rechunked to
        one column chunk (``embeddings.rechunk({1: -1})``), which moves data
        between workers; chunk it by rows only to avoid that.

    Returns
    -------
    y_pred : dask.array.Array of shape (n_samples,)
        Labels from ``classifier.classes_``, chunked like the rows of ``embeddings``.

    Raises
    ------
    ValueError
        At once, for an unfitted classifier or the wrong width; at compute time,
        for NaN rows (naming the rows of the array) unless the classifier has
        ``on_nan="propagate"`` (they then get its ``nan_label``): drop them first,
        e.g. ``embeddings[dask.array.isfinite(embeddings).all(axis=1)]``.

    See Also
    --------
    predict_proba : Class probabilities, the same way.

    Notes
    -----
    With ``selection="random"``, each block draws its templates from the
    classifier's ``random_state`` afresh, so the draws depend on the chunking;
    every other selection gives exactly the in-process result.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from skclip_sage import SageZeroShotClassifier
    >>> from skclip_sage.distributed import predict
    >>> class ToyEncoder:  # any object with these three members works as a model
    ...     identity, embedding_dim, logit_scale = "toy", 2, 100.0
    ...     def encode_text(self, texts):
    ...         return np.array([[1.0, 0.1] if "cat" in t else [0.1, 1.0] for t in texts])
    >>> clf = SageZeroShotClassifier(ToyEncoder(), templates=["a photo of a {}."]).fit(np.eye(2), ["cat", "dog"])
    >>> embeddings = da.from_array(np.array([[0.9, 0.2], [0.0, 1.0], [1.0, 0.0]]), chunks=(2, 1))
    >>> predict(clf, embeddings).compute()
    array(['cat', 'dog', 'cat'], dtype='<U3')
    """
    blocks, probe = _checked_blocks(classifier, embeddings, "predict")
    labels = _quietly(classifier.predict, probe)
    return blocks.map_blocks(
        _apply_to_block,
        _shared(classifier),
        "predict",
        drop_axis=1,
        dtype=labels.dtype,
        meta=labels[:0],
    )


def predict_proba(classifier, embeddings):
    """Class probabilities for every row of a Dask array of embeddings.

    Parameters
    ----------
    classifier : SageZeroShotClassifier
        A fitted classifier (any fitted estimator with ``predict_proba`` works).
    embeddings : dask.array.Array of shape (n_samples, n_features)
        Image embeddings; rechunked to one column chunk when needed (see :func:`predict`).

    Returns
    -------
    proba : dask.array.Array of shape (n_samples, n_classes)
        Columns follow ``classifier.classes_``; rows sum to 1 (NaN rows for NaN
        embeddings under the classifier's ``on_nan="propagate"``).

    See Also
    --------
    predict : Labels, the same way.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from skclip_sage import SageZeroShotClassifier
    >>> from skclip_sage.distributed import predict_proba
    >>> class ToyEncoder:
    ...     identity, embedding_dim, logit_scale = "toy", 2, 100.0
    ...     def encode_text(self, texts):
    ...         return np.array([[1.0, 0.1] if "cat" in t else [0.1, 1.0] for t in texts])
    >>> clf = SageZeroShotClassifier(ToyEncoder(), templates=["a photo of a {}."]).fit(np.eye(2), ["cat", "dog"])
    >>> proba = predict_proba(clf, da.from_array(np.array([[0.9, 0.2], [0.0, 1.0]]), chunks=1))
    >>> proba.shape, proba.compute().sum(axis=1).round(6).tolist()
    ((2, 2), [1.0, 1.0])
    """
    blocks, probe = _checked_blocks(classifier, embeddings, "predict_proba")
    proba = _quietly(classifier.predict_proba, probe)
    return blocks.map_blocks(
        _apply_to_block,
        _shared(classifier),
        "predict_proba",
        chunks=(blocks.chunks[0], (proba.shape[1],)),
        dtype=proba.dtype,
        meta=proba[:0],
    )


def _checked_blocks(classifier, embeddings, method):
    """Row blocks spanning all columns, and a one-row probe that checks the classifier now."""
    require_dask(f"skclip_sage.distributed.{method}")
    import dask.array

    if not isinstance(embeddings, dask.array.Array):
        raise TypeError(
            f"{method} takes a dask array of embeddings; got {type(embeddings).__name__}. "
            f"For in-memory data call classifier.{method}(X) directly."
        )
    if embeddings.ndim != 2:
        raise ValueError(f"{method} takes a 2-D array of embeddings; got shape {embeddings.shape}.")
    if len(embeddings.chunks[1]) > 1:
        embeddings = embeddings.rechunk({1: -1})
    # One unit row run through the classifier here: an unfitted classifier or a
    # width mismatch fails now with the classifier's own message, not on a
    # worker; the output also gives the result's dtype and column count.
    probe = np.zeros((1, embeddings.shape[1]), dtype=embeddings.dtype if embeddings.dtype.kind == "f" else np.float32)
    if probe.shape[1]:
        probe[0, 0] = 1.0
    if getattr(classifier, "on_nan", "raise") == "propagate":
        # A NaN row too, so the result's dtype also holds the label NaN rows get.
        probe = np.concatenate([probe, np.full_like(probe, np.nan)])
    return embeddings, probe


def _quietly(method, probe):
    """``method(probe)`` without the warning its own NaN probe row would give."""
    from ..exceptions import NonFiniteRowsWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteRowsWarning)
        return method(probe)


def _shared(classifier):
    """The classifier as one graph key, so each worker receives it once, not once per block."""
    import dask

    return dask.delayed(classifier, pure=True)


def _apply_to_block(block, classifier, method, block_info=None):
    try:
        return getattr(classifier, method)(block)
    except ValueError as err:
        location = (block_info or {}).get(0, {}).get("array-location")
        if location is None or np.isnan(location[0][0]):
            raise  # row positions unknown (e.g. after boolean indexing): the block's own message
        start, stop = location[0]
        # Row numbers in the classifier's message count from this block's start.
        raise ValueError(
            f"In rows {start} to {stop - 1} of the dask array (row numbers below count from {start}): {err}"
        ) from err
