"""The math of RoboShot, TIE* and Orth-Proj/Orth-Cali: arrays in, arrays out.

Nothing here knows files, models or scikit-learn. Every function takes unit-norm
embeddings as rows (``(n, d)``), computes in float64 and returns NumPy arrays; the
estimators cast their outputs to float32.

- RoboShot (Adila et al., ICLR 2024): ``x_r = normalize((I - Q_r Q_r^T) x)`` rejects
  the harmful directions, then ``normalize((I + Q_h Q_h^T) x_r)`` boosts the helpful
  ones, with ``Q`` orthonormal bases of the concept differences. The reference loop
  (remove one column's projection, renormalise, next column) gives the same vectors,
  since the columns are orthonormal and renormalising only rescales.
- TIE* (Lu et al., ICLR 2025): the attribute of an image is the prompt it is most
  similar to, ``a = argmax_a x . v_a``; ``lambda_a`` is the mean of ``x . v_a`` over the
  training images given ``a``; ``z = x - lambda_a v_a``.
- Orth-Proj / Orth-Cali (Chuang et al., 2023): ``P0 = I - E^T (E E^T)^-1 E`` projects
  off the span of the spurious embeddings ``E``; with pairs ``(z_i, z_j)`` to be
  treated alike, ``M = mean (z_i - z_j)(z_i - z_j)^T`` and ``P = P0 (lam M + I)^-1``.
  Class embeddings become ``normalize(P q)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "DEFAULT_RANK_TOLERANCE",
    "Basis",
    "calibration_matrix",
    "infer_attributes",
    "orthonormal_basis",
    "project_rows",
    "roboshot_project",
    "translate",
    "translation_scales",
    "unit_rows",
]

DEFAULT_RANK_TOLERANCE = 1e-4
"""Directions whose singular value is below this fraction of the largest are dropped."""

NULL_NORM = 1e-6
"""A unit row projected to a shorter length than this is taken to be zero."""


class Basis(NamedTuple):
    """An orthonormal basis of the span of some directions.

    Attributes
    ----------
    vectors : ndarray of shape (rank, d)
        Orthonormal rows spanning the directions' span (numerically).
    n_given : int
        How many directions were given; ``n_given - rank`` were dropped as null.
    singular_values : ndarray of shape (min(n_given, d),)
        Of the direction matrix, largest first: what the tolerance was applied to.
    """

    vectors: np.ndarray
    n_given: int
    singular_values: np.ndarray

    @property
    def rank(self) -> int:
        """Number of directions kept."""
        return len(self.vectors)


def unit_rows(vectors) -> np.ndarray:
    """Rows scaled to unit length in float64; zero rows stay zero.

    Examples
    --------
    >>> unit_rows([[3.0, 4.0], [0.0, 0.0]]).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def orthonormal_basis(directions, *, tolerance: float = DEFAULT_RANK_TOLERANCE) -> Basis:
    """Orthonormal basis of the span of the rows of ``directions``, null directions dropped.

    The reference implementations take a reduced QR decomposition, which returns one
    column per direction even when the directions are dependent (the extra columns
    are then set by round-off). The SVD here keeps only the right singular vectors
    whose singular value is at least ``tolerance`` times the largest one; for
    independent directions the span, and so every projection, is the same.

    Parameters
    ----------
    directions : array-like of shape (k, d)
        One direction per row, any lengths.
    tolerance : float, default=1e-4
        Relative singular-value threshold.

    Returns
    -------
    basis : Basis

    Examples
    --------
    >>> basis = orthonormal_basis([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 2.0, 0.0]])
    >>> basis.rank, basis.n_given
    (2, 3)
    """
    directions = np.asarray(directions, dtype=np.float64)
    d = directions.shape[1] if directions.ndim == 2 else 0
    if len(directions) == 0:
        return Basis(np.zeros((0, d)), 0, np.zeros(0))
    _, singular_values, right = np.linalg.svd(directions, full_matrices=False)
    largest = singular_values[0] if len(singular_values) else 0.0
    keep = singular_values > tolerance * largest if largest > 0 else np.zeros(len(singular_values), bool)
    return Basis(right[keep], len(directions), singular_values)


def project_rows(X, basis: np.ndarray, *, sign: float) -> np.ndarray:
    """``normalize(x + sign * Q Q^T x)`` for every row ``x`` of ``X`` (rows of ``basis`` are ``Q^T``).

    ``sign=-1`` rejects the span, ``sign=+1`` doubles the component along it.
    Rows of ``X`` are unit (or zero); a row left shorter than ``NULL_NORM`` (one
    inside the rejected span, up to round-off) becomes exactly zero rather than
    round-off blown up to unit length.
    """
    X = np.asarray(X, dtype=np.float64)
    if len(basis) == 0:
        return unit_rows(X)
    moved = X + sign * (X @ basis.T) @ basis
    moved[np.linalg.norm(moved, axis=1) < NULL_NORM] = 0.0
    return unit_rows(moved)


def roboshot_project(X, reject: np.ndarray, boost: np.ndarray) -> np.ndarray:
    """RoboShot's image-side transform: reject the harmful span, then boost the helpful one.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Image embeddings (normalised here).
    reject, boost : ndarray of shape (r, d) and (h, d)
        Orthonormal rows (e.g. :func:`orthonormal_basis` of the concept differences);
        either may have no rows.

    Returns
    -------
    projected : ndarray of shape (n, d), float64
        Unit rows (zero where a row lay inside the rejected span).

    Examples
    --------
    >>> roboshot_project([[0.6, 0.8]], np.array([[0.0, 1.0]]), np.zeros((0, 2))).tolist()
    [[1.0, 0.0]]
    """
    return project_rows(project_rows(unit_rows(X), reject, sign=-1.0), boost, sign=1.0)


def infer_attributes(X, prompts) -> np.ndarray:
    """Index of the most similar attribute prompt for each row (ties: the lowest index).

    Parameters
    ----------
    X : array-like of shape (n, d)
    prompts : array-like of shape (a, d)
        Unit embeddings of one prompt per attribute value.

    Returns
    -------
    attributes : ndarray of shape (n,), int
    """
    return np.argmax(unit_rows(X) @ np.asarray(prompts, dtype=np.float64).T, axis=1)


def translation_scales(X, prompts) -> tuple[np.ndarray, np.ndarray]:
    """TIE*'s per-attribute scale: the mean similarity of the images given that attribute.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Unlabelled (training-split) image embeddings.
    prompts : array-like of shape (a, d)
        Unit attribute-prompt embeddings.

    Returns
    -------
    scales : ndarray of shape (a,)
        ``mean_{i: attribute_i = a} x_i . v_a``; for an attribute no image was given,
        the mean over all images (so no image is left untranslated for lack of data).
    counts : ndarray of shape (a,), int
        Images given each attribute.

    Examples
    --------
    >>> scales, counts = translation_scales([[1.0, 0.0], [0.8, 0.6]], np.eye(2))
    >>> scales.round(2).tolist(), counts.tolist()
    ([0.9, 0.3], [2, 0])
    """
    similarities = unit_rows(X) @ np.asarray(prompts, dtype=np.float64).T
    attributes = np.argmax(similarities, axis=1)
    n_attributes = similarities.shape[1]
    counts = np.bincount(attributes, minlength=n_attributes)
    sums = np.zeros(n_attributes)
    np.add.at(sums, attributes, similarities[np.arange(len(attributes)), attributes])
    fallback = similarities.mean(axis=0)
    scales = np.where(counts > 0, sums / np.maximum(counts, 1), fallback)
    return scales, counts


def translate(X, prompts, scales) -> np.ndarray:
    """TIE*'s transform: ``normalize(x - lambda_a v_a)`` with ``a`` each row's inferred attribute.

    Parameters
    ----------
    X : array-like of shape (n, d)
    prompts : array-like of shape (a, d)
    scales : array-like of shape (a,)
        From :func:`translation_scales`.

    Returns
    -------
    translated : ndarray of shape (n, d), float64
        Unit rows; renormalising changes no zero-shot prediction.
    """
    unit = unit_rows(X)
    prompts = np.asarray(prompts, dtype=np.float64)
    attributes = np.argmax(unit @ prompts.T, axis=1)
    return unit_rows(unit - np.asarray(scales, dtype=np.float64)[attributes, None] * prompts[attributes])


def calibration_matrix(spurious: np.ndarray, pair_differences: np.ndarray, lam: float) -> np.ndarray:
    """Orth-Cali's ``P = P0 (lam M + I)^-1`` (Orth-Proj's ``P0`` when ``lam == 0`` or no pairs).

    Parameters
    ----------
    spurious : ndarray of shape (r, d)
        Orthonormal rows spanning the spurious embeddings (``P0 = I - S^T S``).
    pair_differences : ndarray of shape (m, d)
        ``z_i - z_j`` for every pair to be treated alike.
    lam : float
        Weight of the calibration term; 0 gives the plain projection.

    Returns
    -------
    projection : ndarray of shape (d, d)
        Apply as ``normalize(q @ projection.T)``.

    Examples
    --------
    >>> calibration_matrix(np.array([[1.0, 0.0]]), np.zeros((0, 2)), 1000.0).tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    """
    d = spurious.shape[1]
    projection = np.eye(d) - spurious.T @ spurious
    if lam == 0 or len(pair_differences) == 0:
        return projection
    differences = np.asarray(pair_differences, dtype=np.float64)
    M = differences.T @ differences / len(differences)
    # P0 G^-1 with G = lam M + I symmetric positive definite: solve G X = P0^T, P = X^T.
    return np.linalg.solve(lam * M + np.eye(d), projection.T).T
