"""What an estimator on embeddings does with rows that are NaN or infinite: ``on_nan``.

Such rows usually stand for images :class:`~skclip_sage.ClipImageEmbedder`
(``on_error="warn"``) could not embed. ``"raise"`` refuses them, naming them;
``"propagate"`` computes every other row exactly as without them and gives the
bad ones NaN outputs, with one warning naming them, so a ``Pipeline`` over image
paths survives an unreadable image.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import NonFiniteRowsWarning

ON_NAN = ("raise", "propagate")
"""The choices of ``on_nan``."""

ROWS_SHOWN = 10


def finite_rows(non_finite, n_rows: int, *, on_nan: str, owner: str, method: str, stacklevel: int = 3):
    """The positions of the finite rows when some are not (None when all are finite).

    Parameters
    ----------
    non_finite : array of int
        Positions of the rows holding NaN or infinity.
    n_rows : int
        Rows in ``X``.
    on_nan : {"raise", "propagate"}
        Refuse the rows, or warn once and let the caller give them NaN outputs.
    owner, method : str
        Named in the message, e.g. ``"SageZeroShotClassifier"``, ``"predict"``.
    stacklevel : int, default=3
        Of the warning, counted from the caller of this function.

    Returns
    -------
    finite : ndarray of int or None

    Raises
    ------
    ValueError
        With ``on_nan="raise"``, naming the rows and both remedies.
    """
    if not len(non_finite):
        return None
    non_finite = np.asarray(non_finite)
    shown = ", ".join(map(str, non_finite[:ROWS_SHOWN].tolist())) + (", ..." if len(non_finite) > ROWS_SHOWN else "")
    where = f"in {len(non_finite)} of {n_rows} rows ({shown})"
    if on_nan == "raise":
        raise ValueError(
            f"Input X contains NaN or infinity {where}; {owner}.{method} needs finite embeddings. Such rows "
            "usually stand for images ClipImageEmbedder(on_error='warn') could not read: drop them, e.g. "
            f"X[np.isfinite(X).all(axis=1)], before this call, or pass {owner}(on_nan='propagate') to get NaN "
            "outputs for them."
        )
    consequence = (
        "they are left out of fit"
        if method == "fit"
        else "their outputs are NaN (on_nan='propagate'), every other row is computed as without them"
    )
    warnings.warn(
        NonFiniteRowsWarning(f"{owner}.{method}: X holds NaN or infinity {where}; {consequence}.", non_finite.tolist()),
        stacklevel=stacklevel + 1,
    )
    return np.setdiff1d(np.arange(n_rows), non_finite)


def scatter_rows(values: np.ndarray, positions, n_rows: int, fill) -> np.ndarray:
    """``values`` computed on the rows at ``positions``, placed in ``n_rows`` rows filled with ``fill``.

    Examples
    --------
    >>> scatter_rows(np.array([[1.0], [2.0]]), [0, 2], 3, np.nan).tolist()
    [[1.0], [nan], [2.0]]
    """
    values = np.asarray(values)
    dtype = np.result_type(values.dtype, np.asarray([fill]).dtype)
    output = np.full((n_rows, *values.shape[1:]), fill, dtype=dtype)
    output[positions] = values
    return output
