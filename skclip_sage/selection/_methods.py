"""The selection methods, in one table: how the per-template class similarities of an image become its class scores.

Two kinds of record share the table, each built by keyword and saying what it is:

- :class:`TemplateChoice` (``sage``, ``ensemble``, ``single``, ``random``, ``text``,
  ``random_with_replacement``): ``choose`` picks the templates, per image or once for
  all, and the class score is the cosine to the prototype
  ``normalize(sum of the chosen U[t, c])``;
- :class:`Aggregation` (``score_average``, ``autoclip``, ``zpe``, ``perception``): every
  template counts, and the method object (``_options``) says how the ``(T, C)``
  similarities combine and, for a method that learns from unlabelled images (ZPE),
  what ``fit`` learns.

The classifier's parameter check and ``fit``, the scoring, the comparison harness and
the command line all read this table; :func:`register_selection` adds a method, so a
new one is its module and its record (plus its tests), nothing in the estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._baselines import random_chooser, random_template_indices, text_selected_templates
from ._chunks import duplicate_template_map
from ._options import ZPE, AutoCLIP, PerceptionCLIP, ScoreAverage, SelectionOptions
from ._sage import sage_chooser

__all__ = [
    "POOL_METHODS",
    "POOL_NAMES",
    "SELECTIONS",
    "SELECTIONS_LEARNING_FROM_IMAGES",
    "SELECTIONS_USING_K",
    "SELECTION_METHODS",
    "Aggregation",
    "SelectionMethod",
    "TemplateChoice",
    "check_k",
    "describe_selections",
    "register_selection",
    "selection_record",
    "templates_per_image",
    "unregister_selection",
]


class SelectionMethod:
    """What every record of the table answers (see :class:`TemplateChoice` and :class:`Aggregation`).

    Attributes
    ----------
    name : str
        The ``selection=`` value.
    summary : str
        One line for help texts.
    paper : str
        The publication, for help texts and reports.
    uses_k, per_image, random, ensemble_at_full_k, learns_from_images : bool
        Whether it keeps ``k`` templates, chooses per image, draws at random, keeps
        every template once at ``k == n_templates``, learns in ``fit`` from images.
    pools : bool
        Whether ``pool_by=name`` can rank the templates to keep a pool of them.
    """

    kind: ClassVar[str] = ""
    uses_k = per_image = random = learns_from_images = pools = pool_needs_images = False
    fixed_count = None
    ensemble_at_full_k = True
    pool_summary = ""

    def method_object(self, selection=None, flat=None):
        """The options object that scores (None for a template choice, scored by its prototypes)."""
        return None

    def learned_key(self, method, k):
        """What the fitted state depends on: the name, ``k`` where it counts, the options learning read."""
        # Lists, not tuples: the state stays plain data for skops.
        return [self.name, k if self.uses_k else None, list(method.learned_with()) if method is not None else []]


@dataclass(frozen=True, kw_only=True)
class TemplateChoice(SelectionMethod):
    """A record for a method that chooses templates (scored by the prototype of the chosen ones).

    Parameters
    ----------
    name, summary : str
    choose : callable
        ``choose(text_bank, k, n_images, rng)``: for a per-image method, a template
        chooser ``(similarities, start, stop) -> (stop - start, K)`` indices; for a
        fixed one, the ``(K,)`` template indices every image uses.
    uses_k, per_image : bool
    random : bool, default=False
    ensemble_at_full_k : bool, default=True
        False when templates may repeat.
    pools : bool, default=False
        Whether ``choose(text_bank, pool_size, ...)`` is a pool for ``pool_by``.
    pool_summary : str, default=""
    fixed_count : int, default=None
        For a fixed choice that ignores ``k``, how many templates it keeps (None: all).
    paper : str, default=""
    comparison_order : int, default=0
        Where the comparison lists it among the template choices (the SAGE paper's order).
    """

    kind: ClassVar[str] = "template choice"
    name: str
    summary: str
    choose: Callable
    uses_k: bool
    per_image: bool
    random: bool = False
    ensemble_at_full_k: bool = True
    pools: bool = False
    pool_summary: str = ""
    fixed_count: int | None = None
    paper: str = ""
    comparison_order: int = 0

    scoring = None
    options = ()

    def pool(self, text_bank, size, unit_images, logit_scale):
        """The ``size`` templates of the pool, best first."""
        return self.choose(text_bank, size, 0, None)


@dataclass(frozen=True, kw_only=True)
class Aggregation(SelectionMethod):
    """A record for a method that combines every template's similarities (its object scores).

    Parameters
    ----------
    name, summary : str
    method : type
        A :class:`~skclip_sage.selection.SelectionOptions` subclass; ``method()`` holds
        the defaults used when ``selection`` is the name.
    pool_summary : str, default=""
        For a method whose object has ``rank_templates``: what ``pool_by=name`` keeps.
    paper : str, default=""
    comparison_order : int, default=100
        Where the comparison lists it (after the template choices, in table order).
    """

    kind: ClassVar[str] = "aggregation"
    pool_needs_images: ClassVar[bool] = True
    name: str
    summary: str
    method: type
    pool_summary: str = ""
    paper: str = ""
    comparison_order: int = 100

    @property
    def learns_from_images(self):
        return self.method.learns_from_images

    @property
    def pools(self):
        return hasattr(self.method, "rank_templates")

    @property
    def options(self):
        """The deprecated flat classifier parameters of this method's options."""
        return tuple(self.method.legacy.values())

    def choose(self, text_bank, k, n_images, rng):
        return np.arange(text_bank.shape[0])

    def method_object(self, selection=None, flat=None):
        if isinstance(selection, SelectionOptions):
            return selection
        method = self.method.from_flat(flat or {})
        method._flat = bool(flat)  # messages then name the flat parameters the user set
        return method

    def scoring(self, text_bank, options):
        """``Scoring`` from a dict of options (flat names), ``logit_scale`` and what ``learn`` returned."""
        method = options.get("method") or self.method.from_flat(options)
        return method.scoring(text_bank, options, float(options.get("logit_scale", 1.0)))

    def pool(self, text_bank, size, unit_images, logit_scale):
        scores = self.method().rank_templates(unit_images, text_bank, logit_scale)
        return np.argsort(-scores, kind="stable")[:size]


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


_METHODS = (
    TemplateChoice(
        comparison_order=5,
        name="sage",
        summary="the K best-separated templates per image",
        choose=_sage,
        uses_k=True,
        per_image=True,
    ),
    TemplateChoice(
        comparison_order=1,
        name="ensemble",
        summary="all templates",
        choose=lambda bank, k, n, rng: np.arange(bank.shape[0]),
        uses_k=False,
        per_image=False,
    ),
    TemplateChoice(
        comparison_order=0,
        name="single",
        summary="the first template",
        choose=lambda bank, k, n, rng: np.array([0]),
        fixed_count=1,
        uses_k=False,
        per_image=False,
    ),
    TemplateChoice(
        comparison_order=2,
        name="random",
        summary="K distinct templates drawn per image",
        choose=_random,
        uses_k=True,
        per_image=True,
        random=True,
    ),
    TemplateChoice(
        comparison_order=4,
        name="text",
        summary="K templates chosen from the class names alone",
        choose=lambda bank, k, n, rng: text_selected_templates(bank, k),
        uses_k=True,
        per_image=False,
        pools=True,
        pool_summary="the templates best separated in text, from the class names alone",
    ),
    TemplateChoice(
        comparison_order=3,
        name="random_with_replacement",
        summary="K templates drawn per image with replacement (the paper code's random baseline)",
        choose=_random_with_replacement,
        uses_k=True,
        per_image=True,
        random=True,
        ensemble_at_full_k=False,
    ),
    Aggregation(
        name="score_average",
        summary="all templates, their class similarities averaged (WaffleCLIP's aggregation)",
        method=ScoreAverage,
        paper="Roth et al., ICCV 2023 (WaffleCLIP)",
    ),
    Aggregation(
        name="autoclip",
        summary="all templates, weighted per image by one entropy-controlled gradient step (AutoCLIP)",
        method=AutoCLIP,
        paper="Metzen et al., TMLR 2024 (AutoCLIP)",
    ),
    Aggregation(
        name="zpe",
        summary="templates weighted (or pruned) once by their scores on the unlabelled images given to fit (ZPE)",
        method=ZPE,
        pool_summary="the templates with the highest ZPE scores on unlabelled image embeddings",
        paper="Allingham et al., ICML 2023 (ZPE)",
    ),
    Aggregation(
        name="perception",
        summary="templates as contextual attribute values: P(y|x) = sum_z P(z|x) P(y|x,z) (PerceptionCLIP)",
        method=PerceptionCLIP,
        paper="An et al., ICLR 2024 (PerceptionCLIP)",
    ),
)

SELECTION_METHODS = {method.name: method for method in _METHODS}
"""Every selection method by name, in the order they are listed (:func:`register_selection` adds to it)."""

SELECTION_NAMES = set(SELECTION_METHODS)
"""The live set of names the classifier's ``selection`` accepts (registered methods included)."""

SELECTIONS = tuple(SELECTION_METHODS)
"""The built-in template-selection modes of :class:`~skclip_sage.SageZeroShotClassifier`."""

SELECTIONS_USING_K = tuple(name for name, method in SELECTION_METHODS.items() if method.uses_k)
"""The built-in selection modes that keep ``k`` templates; the others ignore ``k``."""

SELECTIONS_LEARNING_FROM_IMAGES = tuple(name for name, method in SELECTION_METHODS.items() if method.learns_from_images)
"""The built-in selection modes whose ``fit`` learns from unlabelled image embeddings (transductive)."""

POOL_METHODS = tuple(name for name, method in SELECTION_METHODS.items() if method.pools)
"""The built-in methods that can choose a ``pool_size`` pool (``pool_by=``)."""

POOL_NAMES = set(POOL_METHODS)
"""The live set of names the classifier's ``pool_by`` accepts (registered methods that pool included)."""


def register_selection(record: SelectionMethod) -> SelectionMethod:
    """Add a method to the table, so ``selection=`` takes its name and its object.

    Parameters
    ----------
    record : TemplateChoice or Aggregation
        Its ``name`` must be new.

    Returns
    -------
    record : TemplateChoice or Aggregation
    """
    if not isinstance(record, SelectionMethod):
        raise TypeError(f"register_selection takes a TemplateChoice or an Aggregation record; got {record!r}.")
    if record.name in SELECTION_METHODS:
        raise ValueError(f"A selection method named {record.name!r} is already registered.")
    SELECTION_METHODS[record.name] = record
    SELECTION_NAMES.add(record.name)
    if record.pools:
        POOL_NAMES.add(record.name)
    return record


def unregister_selection(name: str) -> None:
    """Remove a method :func:`register_selection` added (built-in methods stay).

    Parameters
    ----------
    name : str
    """
    if name in SELECTIONS:
        raise ValueError(f"{name!r} is a built-in selection method; only registered methods can be removed.")
    SELECTION_METHODS.pop(name, None)
    SELECTION_NAMES.discard(name)
    POOL_NAMES.discard(name)


def selection_record(selection) -> SelectionMethod:
    """The table's record for a ``selection=`` value: a name or a method object.

    Parameters
    ----------
    selection : str or SelectionOptions

    Returns
    -------
    record : TemplateChoice or Aggregation
    """
    name = selection if isinstance(selection, str) else getattr(selection, "name", None)
    record = SELECTION_METHODS.get(name) if isinstance(name, str) else None
    if record is None:
        raise ValueError(
            f"selection={selection!r} is not a selection method; choose one of {tuple(SELECTION_METHODS)} or "
            "pass the object of a registered method (skclip_sage.selection.register_selection)."
        )
    if not isinstance(selection, str) and not (
        isinstance(record, Aggregation) and isinstance(selection, record.method)
    ):
        raise ValueError(
            f"selection={selection!r} names the method {name!r}, whose objects are "
            f"{getattr(record, 'method', None)!r}; pass selection={name!r} or an object of that class."
        )
    return record


def templates_per_image(record: SelectionMethod, k: int, n_templates: int) -> int:
    """How many templates each image uses: ``k`` where it counts (a ``k`` beyond the pool is all of it).

    :func:`check_k` with ``beyond_pool="all"``, as a sweep over a fixed list of K
    (the paper's 1 to 80) on a smaller pool reads it.
    """
    return check_k(record, k, n_templates, "templates", beyond_pool="all")


def check_k(record: SelectionMethod, k: int, n_templates: int, pool: str, *, beyond_pool: str = "raise") -> int:
    """Whether ``k`` fits the pool, decided once: a ValueError when a method that keeps ``k`` cannot.

    Parameters
    ----------
    record : TemplateChoice or Aggregation
    k : int
    n_templates : int
        Templates in the pool.
    pool : str
        What the pool is, for the message (e.g. ``"templates this estimator was fitted with"``).
    beyond_pool : {"raise", "all"}, default="raise"
        What a ``k`` larger than the pool means: an error (the classifier, the CLI),
        or the whole pool (a sweep over a fixed list of K, :func:`templates_per_image`).

    Returns
    -------
    n_used : int
        How many templates each image uses.
    """
    if beyond_pool not in ("raise", "all"):
        raise ValueError(f"beyond_pool must be 'raise' or 'all'; got {beyond_pool!r}.")
    if not record.uses_k:
        return n_templates if record.fixed_count is None else record.fixed_count
    if beyond_pool == "all":
        return min(int(k), n_templates)
    check_count("k", k, n_templates, pool)
    return int(k)


def check_count(name: str, value: int, n_templates: int, pool: str) -> None:
    """A ValueError when ``value`` templates are more than the ``n_templates`` of the pool."""
    if value > n_templates:
        raise ValueError(
            f"{name}={value} is larger than the template pool: choose 1 <= {name} <= {n_templates} "
            f"(the number of {pool})."
        )


def describe_selections() -> str:
    """``"name: summary; ..."`` for every method, for help texts.

    Examples
    --------
    >>> describe_selections().split("; ")[0]
    'sage: the K best-separated templates per image'
    """
    return "; ".join(f"{method.name}: {method.summary}" for method in SELECTION_METHODS.values())
