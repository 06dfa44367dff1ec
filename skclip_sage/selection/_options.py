"""Selection method objects: a method's options, and what it learns in ``fit``.

``SageZeroShotClassifier(selection=...)`` takes a method's name (its defaults) or one of
these objects, as scikit-learn's Gaussian processes take a kernel object: the options
are the object's constructor arguments, so ``GridSearchCV`` searches
``selection__threshold``, and ``clone`` and pickling carry them. The object also says
what ``fit`` learns for the method (``learn``) and how it scores (``scoring``), so the
estimator stores the learned state as one record and knows no method by name.

A new method with options is a subclass here (or in the user's own code), registered
with an :class:`~skclip_sage.selection.Aggregation` record in the table. Pure Python and
array math: nothing here imports scikit-learn; ``get_params``/``set_params`` follow its
protocol.
"""

from __future__ import annotations

import inspect
from numbers import Real

import numpy as np

from ._aggregation import Scoring, weighted_similarity_head
from ._autoclip import autoclip_scores
from ._perception import perception_scores
from ._prototypes import l2_normalize
from ._zpe import zpe_keep, zpe_template_scores, zpe_weights

__all__ = ["AutoCLIP", "PerceptionCLIP", "ScoreAverage", "SelectionOptions", "ZPE"]

PERCEPTION_MIN_TEMPERATURE = 1e-30
"""Below this the tempered float32 logits overflow (NaN probabilities); ``P(z|x)`` is one-hot long before."""


class SelectionOptions:
    """Base of the selection method objects: options, what ``fit`` learns, how it scores.

    Subclasses take their options as keyword arguments of ``__init__``, stored
    unchanged under the same names, and set:

    - ``name``: the method's name in the table;
    - ``learns_from_images``: whether ``fit`` calls :meth:`learn` on the unlabelled rows;
    - ``legacy``: ``{option: flat classifier parameter}`` for the flat parameters that
      set an option before these objects existed (deprecated).

    and implement :meth:`scoring` (and :meth:`learn`, :meth:`learned_with`,
    :meth:`check` where they apply).
    """

    name = ""
    learns_from_images = False
    legacy: dict = {}

    @classmethod
    def _option_names(cls):
        if cls.__init__ is object.__init__:
            return []
        parameters = inspect.signature(cls.__init__).parameters.values()
        return sorted(
            p.name for p in parameters if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )

    def get_params(self, deep=True):
        """The options, by name (scikit-learn's protocol).

        Parameters
        ----------
        deep : bool, default=True
            Unused: options hold no nested objects.

        Returns
        -------
        params : dict
        """
        return {name: getattr(self, name) for name in self._option_names()}

    def set_params(self, **params):
        """Set options by name (scikit-learn's protocol).

        Parameters
        ----------
        **params : dict
            Option values.

        Returns
        -------
        self : SelectionOptions
        """
        valid = self._option_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Invalid option {key!r} for {type(self).__name__}; its options are {valid}.")
            setattr(self, key, value)
        return self

    def __repr__(self):
        names = self._option_names()
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values() if p.name in names
        }
        changed = [
            f"{key}={value!r}"
            for key, value in self.get_params().items()
            if not (value is defaults.get(key) or (np.isscalar(value) and value == defaults.get(key)))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    @classmethod
    def from_flat(cls, flat: dict):
        """The object the deprecated flat parameters in ``flat`` describe (None values left out)."""
        return cls(**{option: flat[name] for option, name in cls.legacy.items() if flat.get(name) is not None})

    def described(self, option: str) -> str:
        """How messages name an option: ``ZPE(threshold=...)``, or its flat name when set that way."""
        if getattr(self, "_flat", False):
            return self.legacy[option]
        return f"{type(self).__name__}({option}=...)"

    def check(self) -> None:
        """Raise ValueError naming an option whose value cannot work (called by ``fit`` and before scoring)."""

    def learned_with(self) -> tuple:
        """The option values the learned state depends on: a change after ``fit`` asks for a new ``fit``."""
        return ()

    def learn(self, unit_images, text_bank, logit_scale: float) -> dict:
        """What ``fit`` learns from the unlabelled unit image rows (a method with ``learns_from_images``).

        Returns
        -------
        learned : dict
            ``"templates"``: the templates every image uses (all when absent); any
            other entry is exposed by the classifier as a fitted attribute
            ``<key>_`` and handed to :meth:`scoring`.
        """
        return {}

    def scoring(self, text_bank, learned: dict, logit_scale: float) -> Scoring:
        """How the ``(T, C)`` similarities of an image become its class scores."""
        raise NotImplementedError

    def _check_real(self, option, low, high, *, allow_none=False):
        value = getattr(self, option)
        if allow_none and value is None:
            return
        ok = isinstance(value, Real) and not isinstance(value, bool) and bool(np.isfinite(value))
        if not (ok and (low is None or value >= low) and (high is None or value <= high)):
            bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            raise ValueError(
                f"{self.described(option)} must be a finite real number in {bounds}"
                f"{' or None' if allow_none else ''}; got {value!r}."
            )


class ScoreAverage(SelectionOptions):
    """All templates, their class similarities averaged (WaffleCLIP's aggregation); no options."""

    name = "score_average"

    def scoring(self, text_bank, learned, logit_scale):
        from ._aggregation import mean_similarity_head

        return Scoring(head=mean_similarity_head(text_bank))


class AutoCLIP(SelectionOptions):
    """AutoCLIP: template weights chosen per image by one entropy-controlled gradient step.

    Parameters
    ----------
    beta : float, default=0.85
        Entropy of each image's template weights as a fraction of
        ``log2(n_templates)`` bits, in ``[0, 1]``; 1 gives uniform weights (the score
        average), smaller values let fewer templates dominate. 0.85 is the paper's
        default. Read at prediction time.

    Examples
    --------
    >>> AutoCLIP(beta=0.5)
    AutoCLIP(beta=0.5)
    """

    name = "autoclip"
    legacy = {"beta": "autoclip_beta"}

    def __init__(self, beta=0.85):
        self.beta = beta

    def check(self):
        self._check_real("beta", 0, 1)

    def scoring(self, text_bank, learned, logit_scale):
        beta = float(self.beta)
        return Scoring(aggregate=lambda similarities: autoclip_scores(similarities, beta))


class PerceptionCLIP(SelectionOptions):
    """PerceptionCLIP: templates as contextual attribute values, ``P(y|x) = sum_z P(z|x) P(y|x,z)``.

    Parameters
    ----------
    temperature : float, default=1.0
        Temperature ``tau`` of the attribute posterior ``P(z|x)``, proportional to
        ``sum_y exp(f(y, z) / tau)``; the official scripts sweep 0.5 to 10. At least
        ``1e-30`` (below that the tempered float32 logits overflow; ``P(z|x)`` is
        one-hot long before), so probabilities stay finite for a logit scale up to
        ``1e8``. Read at prediction time.
    """

    name = "perception"
    legacy = {"temperature": "perception_temperature"}

    def __init__(self, temperature=1.0):
        self.temperature = temperature

    def check(self):
        self._check_real("temperature", PERCEPTION_MIN_TEMPERATURE, None)

    def scoring(self, text_bank, learned, logit_scale):
        scale, temperature = float(logit_scale), float(self.temperature)
        return Scoring(aggregate=lambda similarities: perception_scores(similarities, scale, temperature))


class ZPE(SelectionOptions):
    """ZPE: template weights learned once from the unlabelled images given to ``fit``.

    Transductive: the weights are the softmax of each template's score on ``X``
    (exposed as the classifier's ``template_scores_`` and ``template_weights_``).

    Parameters
    ----------
    threshold : float, default=None
        None weights every template by the softmax of its score; a float keeps only
        the templates whose robust z-score ``(score - median) / MAD`` exceeds it (the
        paper uses 0.5 on ImageNet-like data, 2.0 on fine-grained data) and weights
        those. ``fit`` raises when no template passes.
    reference : array-like of shape (n_reference, n_features), default=None
        Embeddings of a generic image sample (e.g. images like the model's
        pretraining data), whose mean logits are averaged with those of ``X`` before
        scoring the templates (the paper's ``'both'`` mode). None uses ``X`` alone
        (its ``'test'`` mode). Read at ``fit``.

    Examples
    --------
    >>> ZPE(threshold=0.5)
    ZPE(threshold=0.5)
    """

    name = "zpe"
    learns_from_images = True
    legacy = {"threshold": "zpe_threshold", "reference": "zpe_reference"}

    def __init__(self, threshold=None, reference=None):
        self.threshold = threshold
        self.reference = reference

    def check(self):
        self._check_real("threshold", None, None, allow_none=True)

    def learned_with(self):
        # reference is left out: comparing arrays on every call would cost a pass over them, and like
        # every fit-time option it takes effect at the next fit.
        return (self.threshold,)

    def learn(self, unit_images, text_bank, logit_scale):
        scores = zpe_template_scores(
            unit_images, text_bank, float(logit_scale), reference_embeddings=self._reference(text_bank)
        )
        kept = zpe_keep(scores, self.threshold)
        if len(kept) == 0:
            name = self.described("threshold")
            raise ValueError(
                f"selection='zpe' with {self.legacy['threshold'] if getattr(self, '_flat', False) else 'threshold'}="
                f"{self.threshold} kept no template: no template scores more than {self.threshold} median absolute "
                f"deviations above the median of the {len(scores)} template scores (from {scores.min():.3g} to "
                f"{scores.max():.3g}). Lower {name}, or pass None to weight every template."
            )
        return {"templates": kept, "template_scores": scores, "template_weights": zpe_weights(scores, kept)}

    def scoring(self, text_bank, learned, logit_scale):
        return Scoring(head=weighted_similarity_head(text_bank, learned["template_weights"]))

    def rank_templates(self, unit_images, text_bank, logit_scale):
        """Each template's score on the unlabelled images (higher first), for ``pool_by``."""
        return zpe_template_scores(unit_images, text_bank, float(logit_scale), reference_embeddings=None)

    def _reference(self, text_bank):
        if self.reference is None:
            return None
        name = self.described("reference")
        reference = np.asarray(self.reference)
        if reference.dtype not in (np.float32, np.float64):
            try:
                reference = reference.astype(np.float32)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{name} must be image embeddings (numbers); {err}") from err
        if reference.ndim != 2 or not len(reference):
            raise ValueError(f"{name} must be a 2-D array of image embeddings; got shape {reference.shape}.")
        if not np.isfinite(reference).all():
            raise ValueError(f"{name} contains NaN or infinity; give the embeddings of images that were embedded.")
        width = text_bank.shape[2]
        if reference.shape[1] != width:
            raise ValueError(
                f"{name} has {reference.shape[1]} features, but SageZeroShotClassifier is expecting {width} features "
                "(the width of the model's text embeddings). Embed the reference images with the same model."
            )
        return l2_normalize(reference)[0].astype(text_bank.dtype)
