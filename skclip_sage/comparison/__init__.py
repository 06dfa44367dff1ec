"""Compare selection and debiasing methods on one set of embeddings, and write the results.

The engine behind ``benchmarks/reproduce_paper.py`` and ``skclip-sage demo``: build
the rows to compare (:func:`selection_methods`, :func:`single_template_methods`,
:func:`debias_methods`), evaluate each on the same embeddings
(:func:`compare_methods`: Avg, WGA, Gap, HM, every group's accuracy, the accuracy of
named image subsets and, given each template's source, which sources the per-image
selections drew from) and write ``results.md``, ``results.csv``, ``selections.csv``
and ``results.png`` (:func:`write_results`) and the self-contained HTML report
(:func:`build_report_html`, :func:`write_report_html`), never over results another command
wrote (:func:`check_results_folder`). Anything that evaluates "like the harness"
calls these; a report of its own ranks the rows as they do (:func:`rank_rows`,
:func:`sage_place`, :func:`method_label`).
"""

from ._debias_rows import DEBIAS_MODES, debias_methods
from ._engine import compare_methods
from ._folder import RESULT_FILES, WRITER_FILE, ResultsOverwriteError, check_results_folder
from ._html import build_report_html, write_report_html
from ._methods import PAPER_MODES, TRAINING_FREE_MODES, ComparisonMethod, selection_methods
from ._ranking import method_label, rank_rows, sage_place
from ._report import write_results
from ._selections import selection_shares
from ._single_templates import single_template_methods

__all__ = [
    "DEBIAS_MODES",
    "PAPER_MODES",
    "RESULT_FILES",
    "TRAINING_FREE_MODES",
    "WRITER_FILE",
    "ComparisonMethod",
    "ResultsOverwriteError",
    "build_report_html",
    "check_results_folder",
    "compare_methods",
    "debias_methods",
    "method_label",
    "rank_rows",
    "sage_place",
    "selection_methods",
    "selection_shares",
    "single_template_methods",
    "write_report_html",
    "write_results",
]
