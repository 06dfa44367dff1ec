"""The selection methods, in one table: how the per-template class similarities of an image become its class scores.

Each entry says whether the method keeps ``k`` templates, whether it chooses per
image or once for all images, whether it draws at random, and how it scores. Two
kinds of method share the table:

- **template choices** (``sage``, ``ensemble``, ``single``, ``random``, ``text``,
  ``random_with_replacement``): ``choose`` picks the templates, and the class score is
  the cosine to the prototype ``normalize(sum of the chosen U[t, c])``;
- **aggregations** (``score_average``, ``autoclip``, ``zpe``, ``perception``): every
  template counts, and ``scoring`` says how the ``(T, C)`` similarities combine, as a
  linear head fixed in ``fit`` or an aggregator applied chunk by chunk. A method that
  learns from unlabelled images (ZPE) also has ``learn``, which ``fit`` calls on ``X``.

The classifier's parameter check and ``fit``, the scoring, the comparison harness and
the command line all read this table, so a new method is one module and one entry here
(plus its tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._aggregation import Scoring, mean_similarity_head, weighted_similarity_head
from ._autoclip import autoclip_scores
from ._baselines import random_chooser, random_template_indices, text_selected_templates
from ._chunks import duplicate_template_map
from ._perception import perception_scores
from ._sage import sage_chooser
from ._zpe import zpe_keep, zpe_template_scores, zpe_weights

__all__ = [
    "SELECTIONS",
    "SELECTIONS_LEARNING_FROM_IMAGES",
    "SELECTIONS_USING_K",
    "SELECTION_METHODS",
    "SelectionMethod",
    "describe_selections",
]


@dataclass(frozen=True)
class SelectionMethod:
    """One template-selection method of :class:`~skclip_sage.SageZeroShotClassifier`.

    Parameters
    ----------
    name : str
        The ``selection=`` value.
    uses_k : bool
        Whether it keeps ``k`` templates (else ``k`` is ignored).
    per_image : bool
        Whether each image gets its own templates (else one set is chosen in ``fit``).
    random : bool
        Whether it draws at random (seeded by ``random_state``).
    choose : callable
        ``choose(text_bank, k, n_images, rng)``: for a per-image method, a template
        chooser ``(similarities, start, stop) -> (stop - start, K)`` indices; for a
        fixed one, the ``(K,)`` template indices every image uses.
    summary : str
        One line for help texts.
    ensemble_at_full_k : bool, default=True
        Whether ``k == n_templates`` keeps every template exactly once (the prompt
        ensemble); false when templates may repeat.
    scoring : callable, default=None
        For an aggregation: ``scoring(text_bank, options) -> Scoring`` (a linear head
        or a chunk aggregator), with ``options`` the dict of the parameters named in
        ``options`` plus ``logit_scale`` and whatever ``learn`` returned. None for a
        template choice, scored by its prototypes.
    learn : callable, default=None
        For a method that learns from unlabelled images: ``learn(unit_images,
        text_bank, options) -> dict``, called by ``fit`` on ``X``; the dict's
        ``"templates"`` are the templates kept, the rest goes to ``scoring``.
    options : tuple of str, default=()
        The classifier parameters the method reads (documented there).
    paper : str, default=""
        The publication, for help texts and reports.
    """

    name: str
    uses_k: bool
    per_image: bool
    random: bool
    choose: Callable
    summary: str
    ensemble_at_full_k: bool = True
    scoring: Callable | None = None
    learn: Callable | None = None
    options: tuple = ()
    paper: str = ""

    @property
    def learns_from_images(self) -> bool:
        """Whether ``fit`` learns from unlabelled image embeddings (and so needs ``X``)."""
        return self.learn is not None


def _sage(text_bank, k, n_images, rng):
    return sage_chooser(k, duplicate_template_map(text_bank))


def _random(text_bank, k, n_images, rng):
    # Drawn once for all images, so the draws do not depend on the chunk size.
    return random_chooser(random_template_indices(n_images, text_bank.shape[0], k, rng))


def _random_with_replacement(text_bank, k, n_images, rng):
    # The reference code's baseline: K independent uniform draws per image, so a
    # template may repeat and then weighs as many times in the prototype.
    draw = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    return random_chooser(draw(0, text_bank.shape[0], size=(n_images, k)))


def _all_templates(text_bank, k, n_images, rng):
    return np.arange(text_bank.shape[0])


def _score_average(text_bank, options):
    return Scoring(head=mean_similarity_head(text_bank))


def _autoclip(text_bank, options):
    beta = float(options["autoclip_beta"])
    return Scoring(aggregate=lambda similarities: autoclip_scores(similarities, beta))


def _perception(text_bank, options):
    scale, temperature = float(options["logit_scale"]), float(options["perception_temperature"])
    return Scoring(aggregate=lambda similarities: perception_scores(similarities, scale, temperature))


def _zpe(text_bank, options):
    return Scoring(head=weighted_similarity_head(text_bank, options["template_weights"]))


def _learn_zpe(unit_images, text_bank, options):
    threshold = options.get("zpe_threshold")
    scores = zpe_template_scores(
        unit_images, text_bank, float(options["logit_scale"]), reference_embeddings=options.get("zpe_reference")
    )
    kept = zpe_keep(scores, threshold)
    if len(kept) == 0:
        raise ValueError(
            f"selection='zpe' with zpe_threshold={threshold} kept no template: no template scores more than "
            f"{threshold} median absolute deviations above the median of the {len(scores)} template scores "
            f"(from {scores.min():.3g} to {scores.max():.3g}). Lower zpe_threshold, or pass None to weight every "
            "template."
        )
    return {"template_scores": scores, "template_weights": zpe_weights(scores, kept), "templates": kept}


_METHODS = (
    SelectionMethod("sage", True, True, False, _sage, "the K best-separated templates per image"),
    SelectionMethod("ensemble", False, False, False, lambda bank, k, n, rng: np.arange(bank.shape[0]), "all templates"),
    SelectionMethod("single", False, False, False, lambda bank, k, n, rng: np.array([0]), "the first template"),
    SelectionMethod("random", True, True, True, _random, "K distinct templates drawn per image"),
    SelectionMethod(
        "text",
        True,
        False,
        False,
        lambda bank, k, n, rng: text_selected_templates(bank, k),
        "K templates chosen from the class names alone",
    ),
    SelectionMethod(
        "random_with_replacement",
        True,
        True,
        True,
        _random_with_replacement,
        "K templates drawn per image with replacement (the paper code's random baseline)",
        ensemble_at_full_k=False,
    ),
    SelectionMethod(
        "score_average",
        False,
        False,
        False,
        _all_templates,
        "all templates, their class similarities averaged (WaffleCLIP's aggregation)",
        scoring=_score_average,
        paper="Roth et al., ICCV 2023 (WaffleCLIP)",
    ),
    SelectionMethod(
        "autoclip",
        False,
        False,
        False,
        _all_templates,
        "all templates, weighted per image by one entropy-controlled gradient step (AutoCLIP)",
        scoring=_autoclip,
        options=("autoclip_beta",),
        paper="Metzen et al., TMLR 2024 (AutoCLIP)",
    ),
    SelectionMethod(
        "zpe",
        False,
        False,
        False,
        _all_templates,
        "templates weighted (or pruned) once by their scores on the unlabelled images given to fit (ZPE)",
        scoring=_zpe,
        learn=_learn_zpe,
        options=("zpe_threshold", "zpe_reference"),
        paper="Allingham et al., ICML 2023 (ZPE)",
    ),
    SelectionMethod(
        "perception",
        False,
        False,
        False,
        _all_templates,
        "templates as contextual attribute values: P(y|x) = sum_z P(z|x) P(y|x,z) (PerceptionCLIP)",
        scoring=_perception,
        options=("perception_temperature",),
        paper="An et al., ICLR 2024 (PerceptionCLIP)",
    ),
)

SELECTION_METHODS = {method.name: method for method in _METHODS}
"""Every selection method by name, in the order they are listed."""

SELECTIONS = tuple(SELECTION_METHODS)
"""Template-selection modes of :class:`~skclip_sage.SageZeroShotClassifier`."""

SELECTIONS_USING_K = tuple(name for name, method in SELECTION_METHODS.items() if method.uses_k)
"""The selection modes that keep ``k`` templates; the others ignore ``k``."""

SELECTIONS_LEARNING_FROM_IMAGES = tuple(name for name, method in SELECTION_METHODS.items() if method.learns_from_images)
"""The selection modes whose ``fit`` learns from unlabelled image embeddings (transductive)."""


def describe_selections() -> str:
    """``"name: summary; ..."`` for every method, for help texts.

    Examples
    --------
    >>> describe_selections().split("; ")[0]
    'sage: the K best-separated templates per image'
    """
    return "; ".join(f"{method.name}: {method.summary}" for method in _METHODS)
