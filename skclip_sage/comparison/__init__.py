"""Compare selection and debiasing methods on one set of embeddings, and write the results.

The engine behind ``benchmarks/reproduce_paper.py`` and ``skclip-sage demo``: build
the rows to compare (:func:`selection_methods`, :func:`debias_methods`), evaluate
each on the same embeddings (:func:`compare_methods`: Avg, WGA, Gap, HM and every
group's accuracy) and write ``results.md``, ``results.csv`` and ``results.png``
(:func:`write_results`). Anything that evaluates "like the harness" calls these.
"""

from ._debias_rows import DEBIAS_MODES, debias_methods
from ._engine import compare_methods
from ._methods import PAPER_MODES, TRAINING_FREE_MODES, ComparisonMethod, selection_methods
from ._report import write_results

__all__ = [
    "DEBIAS_MODES",
    "PAPER_MODES",
    "TRAINING_FREE_MODES",
    "ComparisonMethod",
    "compare_methods",
    "debias_methods",
    "selection_methods",
    "write_results",
]
