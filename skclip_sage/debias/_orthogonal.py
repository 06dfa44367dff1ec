"""OrthogonalCalibration (Orth-Proj / Orth-Cali): debias class text embeddings with a linear map."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ..exceptions import NotFittedError
from ._linear_algebra import DEFAULT_RANK_TOLERANCE, calibration_matrix, unit_rows
from ._presets import CONCEPT_PRESETS, concept_preset
from ._texts import check_pairs, check_texts, concept_basis, encode_texts

__all__ = ["OrthogonalCalibration"]


class OrthogonalCalibration(BaseEstimator):
    """Orth-Proj / Orth-Cali: project class text embeddings off a spurious concept.

    With ``E`` the unit embeddings of the spurious prompts, ``P0 = I - E^T (E
    E^T)^-1 E`` removes their span. With pairs of texts to be treated alike (same
    class, different attribute) and ``M`` the mean of ``(z_i - z_j)(z_i - z_j)^T``
    over their unit embeddings, Orth-Cali uses ``P = P0 (lam M + I)^-1``; Orth-Proj
    is ``P = P0`` (``lam=0`` or no ``pairs``). Text embeddings become ``normalize(P
    q)``; images are left alone.

    Pass it as :class:`~skclip_sage.SageZeroShotClassifier`'s ``text_debias``: the
    classifier's ``fit`` encodes these texts with its own model and applies ``P`` to
    every template x class embedding of its bank, before any template selection, so
    it composes with SAGE and can be searched over in
    :class:`~sklearn.model_selection.GridSearchCV` (``text_debias__lam``).

    Parameters
    ----------
    spurious_prompts : list of str, default=None
        Phrases of the spurious concept (e.g. land and water background phrases).
    pairs : list of (str, str), default=None
        Text pairs that should be treated alike, e.g. ``("a photo of a landbird
        on land", "a photo of a landbird on water")``.
    lam : float, default=1000.0
        Weight of the calibration term; 0 is Orth-Proj.
    concepts : {"waterbirds", "celeba", "pacs", "vlcs"}, default=None
        A preset of both lists (see ``skclip_sage.debias.CONCEPT_PRESETS``);
        then ``spurious_prompts`` and ``pairs`` must be None.
    rank_tolerance : float, default=1e-4
        Spurious directions whose singular value is below this fraction of the
        largest are dropped (with a
        :class:`~skclip_sage.exceptions.RankDeficientConceptsWarning`).

    Attributes
    ----------
    projection_ : ndarray of shape (n_features, n_features)
        ``P``; apply as ``normalize(q @ projection_.T)``.
    spurious_directions_ : ndarray of shape (n_directions, n_features)
        Orthonormal rows spanning the spurious prompts' embeddings.
    n_features_in_ : int
        Width of the text embeddings.

    See Also
    --------
    RoboShotProjection : RoboShot, which moves image embeddings instead.

    Notes
    -----
    With independent spurious prompts ``P0`` equals the reference construction
    (``chingyaoc/debias_vl``, a TruncatedSVD basis). With dependent ones the
    reference still takes one TruncatedSVD component per prompt: those beyond the
    prompts' span are arbitrary directions from an unseeded randomized SVD, so its
    ``P0`` also removes unrelated directions, different on every run. This
    implementation removes only the directions the prompts span (above
    ``rank_tolerance``).

    References
    ----------
    Chuang, Jampani, Li, Torralba, Jegelka. "Debiasing Vision-Language Models via
    Biased Prompts", arXiv:2302.00070, 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage.debias import OrthogonalCalibration
    >>> class AxisEncoder:  # "water" along axis 1
    ...     identity, embedding_dim, logit_scale = "axes", 2, 100.0
    ...     def encode_text(self, texts):
    ...         return np.array([[0.0, 1.0] if "water" in t else [1.0, 0.0] for t in texts])
    >>> orth = OrthogonalCalibration(spurious_prompts=["water"]).fit_texts(AxisEncoder())
    >>> orth.transform(np.array([[0.6, 0.8]]))
    array([[1., 0.]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "spurious_prompts": [list, tuple, None],
        "pairs": [list, tuple, None],
        "lam": [Interval(Real, 0, None, closed="left")],
        "concepts": [StrOptions(set(CONCEPT_PRESETS)), None],
        "rank_tolerance": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self, *, spurious_prompts=None, pairs=None, lam=1000.0, concepts=None, rank_tolerance=DEFAULT_RANK_TOLERANCE
    ):
        self.spurious_prompts = spurious_prompts
        self.pairs = pairs
        self.lam = lam
        self.concepts = concepts
        self.rank_tolerance = rank_tolerance

    def texts(self):
        """The checked ``(spurious_prompts, pairs)``, from the parameters or the preset.

        Returns
        -------
        spurious_prompts : list of str
        pairs : list of (str, str)
        """
        owner = type(self).__name__
        if self.concepts is not None:
            if self.spurious_prompts is not None or self.pairs is not None:
                raise ValueError(
                    f"{owner}: pass either concepts={self.concepts!r} or spurious_prompts/pairs, not both."
                )
            preset = concept_preset(self.concepts, owner)
            prompts, pairs = preset.orthogonal_prompts, preset.pairs
        elif self.spurious_prompts is None:
            raise ValueError(
                f"{owner} needs spurious_prompts (phrases of the spurious concept) or a preset: concepts in "
                f"{sorted(CONCEPT_PRESETS)}."
            )
        else:
            prompts, pairs = self.spurious_prompts, self.pairs
        return (
            check_texts(prompts, name="spurious_prompts", owner=owner),
            check_pairs(pairs, name="pairs", owner=owner),
        )

    def fit_texts(self, encoder, *, batch_size=256, truncate=False, cache_dir=None):
        """Encode the texts with ``encoder`` and build the projection.

        :class:`~skclip_sage.SageZeroShotClassifier` calls this with its own encoder
        and options; call it yourself to use the projection elsewhere.

        Parameters
        ----------
        encoder : TextImageEncoder
            The model whose text embeddings will be transformed (e.g. from
            :func:`~skclip_sage.encoders.load_encoder`).
        batch_size : int, default=256
            Texts per forward pass.
        truncate : bool, default=False
            Allow texts longer than the text context (cut, with a warning).
        cache_dir : str or path-like, default=None
            Where encoded texts are kept.

        Returns
        -------
        self : OrthogonalCalibration
            The fitted calibration.
        """
        self._validate_params()
        prompts, pairs = self.texts()
        options = {"batch_size": batch_size, "truncate": truncate, "cache_dir": cache_dir}
        spurious = encode_texts(encoder, prompts, **options)
        pair_embeddings = encode_texts(encoder, [text for pair in pairs for text in pair], **options)
        owner = type(self).__name__
        self.spurious_directions_ = concept_basis(
            spurious, tolerance=self.rank_tolerance, what="spurious prompts", owner=owner
        )
        self.projection_ = calibration_matrix(
            self.spurious_directions_, pair_embeddings[0::2] - pair_embeddings[1::2], self.lam
        )
        self.n_features_in_ = spurious.shape[1]
        return self

    def transform(self, text_embeddings):
        """``normalize(P q)`` for every embedding ``q`` along the last axis.

        Parameters
        ----------
        text_embeddings : ndarray of shape (..., n_features)
            E.g. a classifier's ``(n_templates, n_classes, n_features)`` bank.

        Returns
        -------
        debiased : ndarray of the same shape, float32
        """
        if not hasattr(self, "projection_"):
            raise NotFittedError(
                "This OrthogonalCalibration instance is not fitted yet: pass it to SageZeroShotClassifier("
                "text_debias=...), whose fit fits it, or call fit_texts(encoder) first."
            )
        embeddings = np.asarray(text_embeddings, dtype=np.float64)
        if embeddings.shape[-1] != self.n_features_in_:
            raise ValueError(
                f"text_embeddings have {embeddings.shape[-1]} features, but OrthogonalCalibration was fitted on "
                f"{self.n_features_in_}-wide text embeddings; fit it with the same model."
            )
        return unit_rows(embeddings @ self.projection_.T).astype(np.float32)
