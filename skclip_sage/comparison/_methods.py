"""The rows of a comparison: a name, an unfitted estimator, its K, and what it is fitted on."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .._classifier import SageZeroShotClassifier
from ..prompts import resolve_templates
from ..selection import SELECTION_METHODS, SELECTIONS, check_k

__all__ = ["PAPER_MODES", "TRAINING_FREE_MODES", "ComparisonMethod", "selection_methods"]

logger = logging.getLogger("skclip_sage.comparison")

TRAINING_FREE_MODES = tuple(name for name in SELECTIONS if SELECTION_METHODS[name].kind == "aggregation")
"""SAGE's training-free, label-free relatives with official code (the table's aggregations): WaffleCLIP's score
average, AutoCLIP, ZPE, PerceptionCLIP."""

PAPER_MODES = tuple(sorted(SELECTIONS, key=lambda name: SELECTION_METHODS[name].comparison_order))
"""The selection modes of the comparison, in the table's ``comparison_order``: the SAGE paper's, its code's random
baseline, then ``TRAINING_FREE_MODES``."""

FIT_ON = ("evaluation", "train")


@dataclass(frozen=True)
class ComparisonMethod:
    """One row of a comparison table.

    Parameters
    ----------
    name : str
        The row label (the ``mode`` column), e.g. ``"sage"`` or ``"roboshot+sage"``.
    estimator : estimator
        An unfitted classifier or pipeline ending in one; cloned before each fit.
    k : int, default=1
        Templates per image, for the ``k`` column (the pool size for ``ensemble``).
    fit_on : {"evaluation", "train"}, default="evaluation"
        Which embeddings ``fit`` sees: the evaluated ones (only their width and
        classes are used by the zero-shot methods) or the unlabelled training split
        (TIE* estimates its scales there).
    description : str, default=""
        One line for the report's notes.
    template : int, default=None
        For a row that classifies with one template of a pool (see
        :func:`single_template_methods`): that template's index in the pool.
    source : str, default=None
        Where that template comes from (e.g. the caption source it was written
        for), for the report's ``source`` column.

    Examples
    --------
    >>> from skclip_sage import SageZeroShotClassifier
    >>> ComparisonMethod("sage", SageZeroShotClassifier(k=3), k=3).fit_on
    'evaluation'
    """

    name: str
    estimator: Any
    k: int = 1
    fit_on: str = "evaluation"
    description: str = ""
    template: int | None = None
    source: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"ComparisonMethod: name must be a non-empty string; got {self.name!r}.")
        if self.fit_on not in FIT_ON:
            raise ValueError(f"ComparisonMethod {self.name!r}: fit_on must be one of {FIT_ON}; got {self.fit_on!r}.")
        if not hasattr(self.estimator, "fit") or not hasattr(self.estimator, "predict"):
            raise ValueError(
                f"ComparisonMethod {self.name!r}: estimator must have fit and predict; got "
                f"{type(self.estimator).__name__}."
            )
        valid_index = isinstance(self.template, int) and not isinstance(self.template, bool) and self.template >= 0
        if self.template is not None and not valid_index:
            raise ValueError(
                f"ComparisonMethod {self.name!r}: template must be None or a template's index (an int >= 0); "
                f"got {self.template!r}."
            )


def selection_methods(
    model,
    *,
    class_names,
    templates="openai_imagenet",
    modes=PAPER_MODES,
    k_values=(1, 3, 5, 10, 20, 80),
    random_state=0,
    k_beyond_pool="all",
    **classifier_parameters,
):
    """One classifier per selection mode and K, as the paper's comparison has them.

    The modes that ignore K get one row each (``single`` with K = 1, the others,
    which use every template, with K = the pool size); every mode that keeps K
    templates gets one row per K, with K beyond the pool clipped to the pool size
    (K = pool size is the ensemble) and duplicates dropped. ``zpe`` learns its
    weights from the images it is fitted on: the evaluated ones
    (``fit_on="evaluation"``), without their labels.

    Parameters
    ----------
    model : str or TextImageEncoder
        As :class:`~skclip_sage.SageZeroShotClassifier`'s ``model``.
    class_names : dict or list of str
        Text of each class.
    templates : str or list of str, default="openai_imagenet"
        The template pool.
    modes : sequence of str, default=PAPER_MODES
        Selection modes, in row order.
    k_values : sequence of int, default=(1, 3, 5, 10, 20, 80)
        Values of K for the modes that use it.
    random_state : int, default=0
        Seeds the random modes.
    k_beyond_pool : {"all", "raise"}, default="all"
        A K larger than the pool: the whole pool (so the paper's K list runs on any
        pool, as ``benchmarks/reproduce_paper.py`` does), or the classifier's
        ValueError (:func:`~skclip_sage.selection.check_k` decides both).
    **classifier_parameters : dict
        Other :class:`~skclip_sage.SageZeroShotClassifier` parameters (``pretrained``,
        ``device``, ``cache_dir``, ``text_debias``, ...), shared by every row.

    Returns
    -------
    methods : list of ComparisonMethod

    Examples
    --------
    >>> methods = selection_methods("ViT-B-32", class_names=["cat", "dog"], templates="simple",
    ...                             modes=("ensemble", "sage"), k_values=(1, 3, 10))
    >>> [(method.name, method.k) for method in methods]
    [('ensemble', 7), ('sage', 1), ('sage', 3), ('sage', 7)]
    """
    if any(int(k) < 1 for k in k_values):
        raise ValueError(f"selection_methods: every K must be >= 1; got {list(k_values)}.")
    n_templates = len(resolve_templates(templates))
    if k_beyond_pool not in ("all", "raise"):
        raise ValueError(f"selection_methods: k_beyond_pool must be 'all' or 'raise'; got {k_beyond_pool!r}.")
    # Worded as the classifier words its pool, so a refused K reads the same from both.
    pool = f"the templates in {templates!r}" if isinstance(templates, str) else "the templates in the templates given"
    beyond = [int(k) for k in k_values if int(k) > n_templates]
    if beyond and k_beyond_pool == "all" and any(SELECTION_METHODS[mode].uses_k for mode in modes):
        logger.info(
            "selection_methods: K=%s beyond the %d templates run as K=%d (all).", beyond, n_templates, n_templates
        )
    methods = []
    for mode in modes:
        record = SELECTION_METHODS[mode]
        # The table decides whether K fits the pool, and what K beyond it means here.
        grid = sorted({check_k(record, k, n_templates, pool, beyond_pool=k_beyond_pool) for k in k_values})
        for k in grid:
            estimator = SageZeroShotClassifier(
                model,
                templates=templates,
                class_names=class_names,
                selection=mode,
                k=k if record.uses_k else 1,
                random_state=random_state,
                **classifier_parameters,
            )
            methods.append(ComparisonMethod(mode, estimator, k=k, description=SELECTION_METHODS[mode].summary))
    return methods
