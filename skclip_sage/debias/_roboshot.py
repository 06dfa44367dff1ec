"""RoboShotProjection: reject harmful concept directions from image embeddings, boost helpful ones."""

from __future__ import annotations

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ..utils._docstrings import fill_docstring
from ._base import MODEL_PARAMETERS, ConceptTransformer
from ._linear_algebra import DEFAULT_RANK_TOLERANCE, roboshot_project
from ._presets import CONCEPT_PRESETS, concept_preset
from ._texts import check_pairs, concept_basis

__all__ = ["RoboShotProjection"]


@fill_docstring(model_parameters=MODEL_PARAMETERS)
class RoboShotProjection(ConceptTransformer):
    """RoboShot: project image embeddings off spurious concepts and onto core ones.

    Each pair of texts ``(a, b)`` gives a concept direction ``t(a) - t(b)`` (unit
    text embeddings). ``fit`` encodes the pairs and takes orthonormal bases ``Q_r``
    of the harmful directions and ``Q_h`` of the helpful ones; ``transform`` maps
    each unit image embedding ``x`` to ``normalize((I + Q_h Q_h^T) normalize((I -
    Q_r Q_r^T) x))``. Nothing is learned from images or labels: ``X`` in ``fit``
    only sets the width. Put it before a :class:`~skclip_sage.SageZeroShotClassifier`
    with the same ``model`` for RoboShot (``selection="single"``) or RoboShot + SAGE.

    Parameters
    ----------
    %(model_parameters)s
    harmful : list of (str, str), default=None
        Spurious contrasts to reject, e.g. ``("a bird in a watery habitat",
        "a bird in a dry land habitat")``.
    helpful : list of (str, str), default=None
        Core-feature contrasts to boost, e.g. ``("a bird with webbed feet",
        "a bird with talons")``.
    concepts : {"waterbirds", "celeba", "pacs", "vlcs"}, default=None
        A preset of both lists for a benchmark dataset (see
        ``skclip_sage.debias.CONCEPT_PRESETS``); then ``harmful`` and
        ``helpful`` must be None.
    rank_tolerance : float, default=1e-4
        Directions whose singular value is below this fraction of the largest are
        dropped (with a :class:`~skclip_sage.exceptions.RankDeficientConceptsWarning`).

    Attributes
    ----------
    harmful_directions_ : ndarray of shape (n_harmful_directions, n_features)
        Orthonormal rows spanning the harmful directions.
    helpful_directions_ : ndarray of shape (n_helpful_directions, n_features)
        Orthonormal rows spanning the helpful directions.
    n_features_in_ : int
        Width of the embeddings.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of ``X``, when it is a DataFrame with string column names.

    See Also
    --------
    SpuriousTranslation : TIE*, translating each image along its inferred attribute.
    OrthogonalCalibration : Orth-Proj/Orth-Cali, debiasing the class text embeddings.

    Notes
    -----
    RoboShot's concepts normally come from a language model; here they are given or
    taken from a preset. The reference code (``SprocketLab/roboshot``) takes a
    reduced QR of the directions, which returns one column per pair even when the
    pairs are dependent (e.g. all pairs of a few texts), the extra columns then being
    round-off; this implementation drops such null directions, so it departs from
    the reference output exactly on rank-deficient concept sets.

    The concept directions are differences of *unit* text embeddings, as in the SAGE
    authors' copy of RoboShot (``wenqian-ye/spurious_vlm``), which this matches
    to float round-off. ``SprocketLab/roboshot`` itself differences the raw,
    unnormalised text embeddings of open_clip models, so its directions (and
    outputs) differ from these whenever the texts' norms differ.

    References
    ----------
    Adila, Shin, Cai, Sala. "Zero-Shot Robustification of Zero-Shot Models",
    ICLR 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage.debias import RoboShotProjection
    >>> class AxisEncoder:  # "water"/"land" texts along axis 1, everything else along axis 0
    ...     identity, embedding_dim, logit_scale = "axes", 2, 100.0
    ...     def encode_text(self, texts):
    ...         return np.array([[0.0, 1.0] if "water" in t else [0.0, -1.0] if "land" in t
    ...                          else [1.0, 0.0] for t in texts])
    >>> robo = RoboShotProjection(AxisEncoder(), harmful=[("water", "land")])
    >>> robo.fit(np.eye(2)).transform([[0.6, 0.8]])
    array([[1., 0.]], dtype=float32)
    """

    _parameter_constraints: dict = {
        **ConceptTransformer._parameter_constraints,
        "harmful": [list, tuple, None],
        "helpful": [list, tuple, None],
        "concepts": [StrOptions(set(CONCEPT_PRESETS)), None],
        "rank_tolerance": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        model="ViT-B-32",
        *,
        harmful=None,
        helpful=None,
        concepts=None,
        pretrained="laion2b_s34b_b79k",
        device="auto",
        precision="auto",
        batch_size=256,
        truncate=False,
        cache_dir=None,
        rank_tolerance=DEFAULT_RANK_TOLERANCE,
        on_nan="raise",
    ):
        self.model = model
        self.harmful = harmful
        self.helpful = helpful
        self.concepts = concepts
        self.pretrained = pretrained
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.truncate = truncate
        self.cache_dir = cache_dir
        self.rank_tolerance = rank_tolerance
        self.on_nan = on_nan

    def _pairs(self):
        """The checked (harmful, helpful) pairs, from the parameters or the preset."""
        owner = type(self).__name__
        if self.concepts is not None:
            if self.harmful is not None or self.helpful is not None:
                raise ValueError(f"{owner}: pass either concepts={self.concepts!r} or harmful/helpful pairs, not both.")
            preset = concept_preset(self.concepts, owner)
            harmful, helpful = preset.harmful, preset.helpful
        else:
            harmful, helpful = self.harmful, self.helpful
        harmful = check_pairs(harmful, name="harmful", owner=owner)
        helpful = check_pairs(helpful, name="helpful", owner=owner)
        if not harmful and not helpful:
            raise ValueError(
                f"{owner} needs at least one harmful or helpful pair of texts, or a preset: "
                f"concepts in {sorted(CONCEPT_PRESETS)}."
            )
        return harmful, helpful

    def _check_texts(self):
        self._pairs()

    def _fit_texts(self, encoder, X):
        harmful, helpful = self._pairs()
        texts = [text for pair in harmful + helpful for text in pair]
        embeddings = self._encode(encoder, texts)
        differences = embeddings[0::2] - embeddings[1::2]
        owner = type(self).__name__
        self.harmful_directions_ = concept_basis(
            differences[: len(harmful)], tolerance=self.rank_tolerance, what="harmful pairs", owner=owner
        )
        self.helpful_directions_ = concept_basis(
            differences[len(harmful) :], tolerance=self.rank_tolerance, what="helpful pairs", owner=owner
        )

    def _transform(self, X):
        return roboshot_project(X, self.harmful_directions_, self.helpful_directions_)
