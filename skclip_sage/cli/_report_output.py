"""The robustness report of ``skclip-sage evaluate`` as a text table, JSON and CSV.

All three carry accuracies in percent (as the SAGE paper reports them), so the
numbers on screen and in the files are the same. A group with no evaluated image
(every one unreadable, say) is listed in all three as having no samples, and the
worst-group accuracy says it excludes it.
"""

from __future__ import annotations

import math

from ._outputs import write_csv
from ._outputs import write_json as write_json

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
        ``summary_counts`` (name -> images behind the value), ``summary_notes``
        (name -> what it excludes, only where it excludes something) and ``groups``
        (list of ``name``, ``count``, ``accuracy`` in percent or None, ``no_samples``).
    """
    rows = list(zip(report["name"], report["kind"], report["count"].tolist(), report["value"].tolist(), report["note"]))
    return {
        "selection": selection,
        "k": k,
        "label": selection if k is None else f"{selection} k={k}",
        "summary": {name: 100 * value for name, kind, _, value, _ in rows if kind == "summary"},
        "summary_counts": {name: count for name, kind, count, _, _ in rows if kind == "summary"},
        "summary_notes": {name: note for name, kind, _, _, note in rows if kind == "summary" and note},
        # accuracy None (JSON null) and no_samples True for a group without an evaluated image.
        "groups": [
            {
                "name": name,
                "count": count,
                "accuracy": None if math.isnan(value) else 100 * value,
                "no_samples": count == 0,
            }
            for name, kind, count, value, _ in rows
            if kind == "group"
        ],
    }


def format_table(result):
    """The report as aligned text: one column per configuration, one row per metric.

    Parameters
    ----------
    result : dict
        ``dataset``, ``split``, ``n_images`` (every image of the input; default
        ``n_evaluated + n_failed``), ``n_evaluated``, ``n_failed``, ``average`` and
        ``runs`` (records from :func:`run_record`).

    Returns
    -------
    text : str

    Examples
    --------
    >>> import numpy as np
    >>> report = {"name": ["Avg", "WGA", "Gap", "HM", "a", "b"], "kind": ["summary"] * 4 + ["group"] * 2,
    ...           "count": np.array([2, 2, 2, 2, 2, 0]), "value": np.array([0.5, 0.5, 0.0, 0.5, 0.5, np.nan]),
    ...           "note": ["", "excludes 1 group with no samples: 'b'", "", "", "", "no samples"]}
    >>> result = {"dataset": "folder", "split": None, "n_evaluated": 2, "n_failed": 1,
    ...           "failures_listed_in": ["out.failures.csv"], "average": "plain", "runs": [run_record("sage", 1, report)]}
    >>> print(format_table(result))
    folder: 3 images, 1 gave no embedding and left out (listed in out.failures.csv), 2 evaluated; Avg = accuracy over all images; accuracies in %
    metric     sage k=1
    Avg           50.00
    WGA           50.00
    Gap            0.00
    HM            50.00
    a (n=2)       50.00
    b (n=0)  no samples
    note: WGA excludes 1 group with no samples: 'b'
    """
    runs = result["runs"]
    split = f" ({result['split']} split)" if result.get("split") else ""
    # Counted as the user counts rows: every image of the input, then those left out and those evaluated.
    n_images = result.get("n_images", result["n_evaluated"] + result.get("n_failed", 0))
    failed = ""
    if result.get("n_failed"):
        listed = " and ".join(result.get("failures_listed_in") or [])
        failed = f", {result['n_failed']} gave no embedding and left out" + (f" (listed in {listed})" if listed else "")
        failed += f", {result['n_evaluated']} evaluated"
    title = (
        f"{result['dataset']}{split}: {n_images} images{failed}; "
        f"Avg = {AVERAGE_DESCRIPTIONS[result['average']]}; accuracies in %"
    )
    lines = [("metric", [run["label"] for run in runs])]
    for name in SUMMARY_NAMES:
        lines.append((name, [f"{run['summary'][name]:.2f}" for run in runs]))
    for position, group in enumerate(runs[0]["groups"]):
        cells = [_percent(run["groups"][position]["accuracy"]) for run in runs]
        lines.append((f"{group['name']} (n={group['count']})", cells))
    name_width = max(len(name) for name, _ in lines)
    widths = [max(len(cells[column]) for _, cells in lines) for column in range(len(runs))]
    text = [title]
    for name, cells in lines:
        padded = "  ".join(cell.rjust(width) for cell, width in zip(cells, widths))
        text.append(f"{name:<{name_width}}  {padded}".rstrip())
    # Every run sees the same images, so the notes of the first run hold for all.
    for name, note in runs[0]["summary_notes"].items():
        text.append(f"note: {name} {note}")
    return "\n".join(text)


def _percent(value):
    return "no samples" if value is None else f"{value:.2f}"


def write_report_csv(path, result):
    """Write one row per configuration and metric: selection, k, name, kind, count, value (%), note.

    A group with no evaluated image has count 0, an empty value and the note
    ``no samples``; a summary row notes the groups it excludes.
    """
    rows = []
    for run in result["runs"]:
        k = "" if run["k"] is None else run["k"]
        for name in SUMMARY_NAMES:
            count = run["summary_counts"][name]
            note = run["summary_notes"].get(name, "")
            rows.append([run["selection"], k, name, "summary", count, repr(run["summary"][name]), note])
        for group in run["groups"]:
            value, note = ("", "no samples") if group["no_samples"] else (repr(group["accuracy"]), "")
            rows.append([run["selection"], k, group["name"], "group", group["count"], value, note])
    write_csv(path, ["selection", "k", "name", "kind", "count", "value", "note"], rows)
