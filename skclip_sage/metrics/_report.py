"""One table with every robustness metric of a prediction: Avg, WGA, Gap, HM and groups."""

import numpy as np

from ..utils._docstrings import fill_docstring
from ._summary import _summarize
from ._validation import LABELS_AND_GROUPS, resolve_group_names

REPORT_COLUMNS = ("name", "kind", "count", "value", "note")
NO_SAMPLES = "no samples"
SUMMARY_NAMES = ("Avg", "WGA", "Gap", "HM")


@fill_docstring(labels_and_groups=LABELS_AND_GROUPS)
def robustness_report(y_true, y_pred, *, groups, group_names=None, average="plain", weights=None, as_frame=False):
    """Tabulate Avg, WGA, Gap, HM and the accuracy of every group.

    Parameters
    ----------
    %(labels_and_groups)s
    group_names : dict or array-like of shape (n_groups,), default=None
        Display name of each group: a dict (or pandas Series) ``group -> name``,
        or one name per group in sorted group order. Names must be distinct. None
        uses ``str(group)``. A group the dict names but the data lacks (all its
        images unreadable, say) is reported as having no samples, never dropped.
    average : {"plain", "groups", "weighted"}, default="plain"
        Definition of Avg; see :func:`average_accuracy`.
    weights : dict or array-like of shape (n_groups,), default=None
        Group weights for ``average="weighted"`` (and only then).
    as_frame : bool, default=False
        If True, return a :class:`pandas.DataFrame` (needs pandas, from the
        ``skclip-sage[plot]`` extra); otherwise a dict of columns.

    Returns
    -------
    report : dict or pandas.DataFrame
        Columns, each with ``4 + n_groups`` rows:

        - ``"name"`` (list of str): ``"Avg"``, ``"WGA"``, ``"Gap"``, ``"HM"``, then
          the group names in sorted group order.
        - ``"kind"`` (list of str): ``"summary"`` for the first four rows, ``"group"``
          for the others.
        - ``"count"`` (ndarray of int64): samples behind each value: all samples for
          Avg, Gap and HM, the worst group's size for WGA, the group's size otherwise.
        - ``"value"`` (ndarray of float64): fractions in [0, 1], not percentages
          (multiply by 100 to print the paper's numbers); NaN for a group with no
          samples, whose count is 0.
        - ``"note"`` (list of str): ``"no samples"`` for such a group; for WGA (and
          for an Avg over groups) the groups it excludes for that reason, e.g.
          ``"excludes 1 group with no samples: 'c'"``; empty otherwise.

    See Also
    --------
    group_accuracies : The group rows alone, as arrays.

    Examples
    --------
    >>> from skclip_sage.metrics import robustness_report
    >>> report = robustness_report(
    ...     [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1], groups=[0, 0, 1, 1, 1, 1],
    ...     group_names={0: "water", 1: "land"}, average="groups")
    >>> for name, kind, count, value, note in zip(*report.values()):
    ...     print(name, kind, count, value)
    Avg summary 6 0.625
    WGA summary 2 0.5
    Gap summary 6 0.125
    HM summary 6 0.5555555555555556
    water group 2 0.5
    land group 4 0.75

    A group named but absent from the data is listed, and WGA says it excludes it:

    >>> report = robustness_report([1, 0], [1, 1], groups=[0, 1], group_names={0: "a", 1: "b", 2: "c"})
    >>> report["name"][4:], report["count"][4:].tolist(), report["note"][1], report["note"][6]
    (['a', 'b', 'c'], [1, 1, 0], "excludes 1 group with no samples: 'c'", 'no samples')
    """
    caller = "robustness_report"
    if not isinstance(as_frame, (bool, np.bool_)):
        raise ValueError(f"{caller}: as_frame must be True or False; got {as_frame!r}.")
    summary = _summarize(y_true, y_pred, groups, average=average, weights=weights, caller=caller)
    table = summary.table
    groups, names, present = resolve_group_names(group_names, table.groups, caller=caller)
    # Reported groups in sorted order; the empty ones get count 0 and NaN accuracy.
    count = np.zeros(len(groups), dtype=np.int64)
    accuracy = np.full(len(groups), np.nan)
    count[present], accuracy[present] = table.count, table.accuracy
    empty_names = [name for name, has_samples in zip(names, present) if not has_samples]
    excludes = _excludes_note(empty_names)

    n_samples = int(table.count.sum())
    worst_count = int(table.count[np.argmin(table.accuracy)])
    report = {
        "name": [*SUMMARY_NAMES, *names],
        "kind": ["summary"] * len(SUMMARY_NAMES) + ["group"] * len(names),
        "count": np.array([n_samples, worst_count, n_samples, n_samples, *count.tolist()], dtype=np.int64),
        "value": np.array(
            [summary.average, summary.worst, summary.gap, summary.harmonic_mean, *accuracy.tolist()],
            dtype=np.float64,
        ),
        # Avg over groups skips empty groups as WGA does; the plain Avg counts samples, so has nothing to exclude.
        "note": [
            excludes if average != "plain" else "",
            excludes,
            "",
            "",
            *["" if has_samples else NO_SAMPLES for has_samples in present],
        ],
    }
    if not as_frame:
        return report
    # pandas is optional (the [plot] extra), so it is imported only when asked for.
    from ..utils._optional import require_pandas

    pandas = require_pandas("robustness_report(as_frame=True)")
    return pandas.DataFrame(report, columns=list(REPORT_COLUMNS))


def _excludes_note(empty_names):
    if not empty_names:
        return ""
    listed = ", ".join(repr(name) for name in empty_names)
    plural = "group" if len(empty_names) == 1 else "groups"
    return f"excludes {len(empty_names)} {plural} with {NO_SAMPLES}: {listed}"
