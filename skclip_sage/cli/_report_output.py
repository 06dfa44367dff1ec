"""The robustness report of ``skclip-sage evaluate`` as a text table, JSON and CSV.

All three carry accuracies in percent (as the SAGE paper reports them), so the
numbers on screen and in the files are the same.
"""

from __future__ import annotations

import json

from ._runtime import open_output, write_csv

SUMMARY_NAMES = ("Avg", "WGA", "Gap", "HM")
AVERAGE_DESCRIPTIONS = {
    "plain": "accuracy over all images",
    "groups": "mean of the group accuracies",
    "weighted": "group accuracies weighted by training-group sizes (WILDS adjusted average)",
}


def run_record(selection, k, report):
    """One compared configuration as a JSON-ready dict, from a ``robustness_report`` dict.

    Parameters
    ----------
    selection : str
        The selection mode.
    k : int or None
        Templates per image, None for modes that do not use it.
    report : dict
        The output of :func:`skclip_sage.metrics.robustness_report`.

    Returns
    -------
    record : dict
        ``selection``, ``k``, ``label``, ``summary`` (name -> percent),
        ``summary_counts`` (name -> images behind the value) and ``groups`` (list of
        ``name``, ``count``, ``accuracy`` in percent).
    """
    rows = list(zip(report["name"], report["kind"], report["count"].tolist(), report["value"].tolist()))
    return {
        "selection": selection,
        "k": k,
        "label": selection if k is None else f"{selection} k={k}",
        "summary": {name: 100 * value for name, kind, _, value in rows if kind == "summary"},
        "summary_counts": {name: count for name, kind, count, _ in rows if kind == "summary"},
        "groups": [
            {"name": name, "count": count, "accuracy": 100 * value}
            for name, kind, count, value in rows
            if kind == "group"
        ],
    }


def format_table(result):
    """The report as aligned text: one column per configuration, one row per metric.

    Parameters
    ----------
    result : dict
        ``dataset``, ``split``, ``n_evaluated``, ``n_failed``, ``average`` and ``runs``
        (records from :func:`run_record`).

    Returns
    -------
    text : str

    Examples
    --------
    >>> import numpy as np
    >>> report = {"name": ["Avg", "WGA", "Gap", "HM", "a"], "kind": ["summary"] * 4 + ["group"],
    ...           "count": np.array([2, 2, 2, 2, 2]), "value": np.array([0.5, 0.5, 0.0, 0.5, 0.5])}
    >>> result = {"dataset": "folder", "split": None, "n_evaluated": 2, "n_failed": 0,
    ...           "average": "plain", "runs": [run_record("sage", 1, report)]}
    >>> print(format_table(result))
    folder: 2 images; Avg = accuracy over all images; accuracies in %
    metric   sage k=1
    Avg         50.00
    WGA         50.00
    Gap          0.00
    HM          50.00
    a (n=2)     50.00
    """
    runs = result["runs"]
    split = f" ({result['split']} split)" if result.get("split") else ""
    failed = f", {result['n_failed']} unreadable and left out" if result.get("n_failed") else ""
    title = (
        f"{result['dataset']}{split}: {result['n_evaluated']} images{failed}; "
        f"Avg = {AVERAGE_DESCRIPTIONS[result['average']]}; accuracies in %"
    )
    lines = [("metric", [run["label"] for run in runs])]
    for name in SUMMARY_NAMES:
        lines.append((name, [f"{run['summary'][name]:.2f}" for run in runs]))
    for position, group in enumerate(runs[0]["groups"]):
        cells = [f"{run['groups'][position]['accuracy']:.2f}" for run in runs]
        lines.append((f"{group['name']} (n={group['count']})", cells))
    name_width = max(len(name) for name, _ in lines)
    widths = [max(len(cells[column]) for _, cells in lines) for column in range(len(runs))]
    text = [title]
    for name, cells in lines:
        padded = "  ".join(cell.rjust(width) for cell, width in zip(cells, widths))
        text.append(f"{name:<{name_width}}  {padded}".rstrip())
    return "\n".join(text)


def write_json(path, result):
    """Write the whole result (settings and every configuration) as JSON."""
    with open_output(path) as stream:
        json.dump(result, stream, indent=2, ensure_ascii=False)
        stream.write("\n")


def write_report_csv(path, result):
    """Write one row per configuration and metric: selection, k, name, kind, count, value (%)."""
    rows = []
    for run in result["runs"]:
        k = "" if run["k"] is None else run["k"]
        for name in SUMMARY_NAMES:
            count = run["summary_counts"][name]
            rows.append([run["selection"], k, name, "summary", count, repr(run["summary"][name])])
        for group in run["groups"]:
            rows.append([run["selection"], k, group["name"], "group", group["count"], repr(group["accuracy"])])
    write_csv(path, ["selection", "k", "name", "kind", "count", "value"], rows)
