"""Write a comparison's rows as results.csv, results.md and results.png.

Each row (from :func:`~skclip_sage.comparison.compare_methods`) holds one method at
one K with Avg, WGA, Gap and HM in percent. Published numbers, when a caller has
them, go in adjacent columns (blank otherwise): ``paper_numbers(row)`` returns
``{"Avg": ..., "WGA": ..., "HM": ..., "source": ...}`` with the metrics that exist.
"""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["write_results"]

AVERAGE_DESCRIPTIONS = {
    "weighted": "WILDS's adjusted average: group accuracies weighted by the training group counts",
    "plain": "plain accuracy over all images",
    "groups": "unweighted mean of the group accuracies",
}
SUMMARY_COLUMNS = ("Avg", "WGA", "Gap", "HM")
PAPER_COLUMNS = ("Avg", "WGA", "HM")
FIXED_LINE_STYLES = ("--", ":", "-.")


def write_results(
    output,
    rows,
    *,
    title,
    model,
    pretrained=None,
    dataset="",
    average="plain",
    notes=(),
    paper_numbers=None,
    plot=True,
):
    """Write ``results.csv``, ``results.md`` and (with ``plot``) ``results.png``.

    Parameters
    ----------
    output : str or path-like
        Folder to write into; created when missing.
    rows : list of dict
        From :func:`~skclip_sage.comparison.compare_methods`.
    title : str
        What was evaluated, e.g. ``"waterbirds (test split)"``.
    model : str
        The backbone's name, for the table header and the ``model`` column.
    pretrained : str, default=None
        Its weights tag, when it has one.
    dataset : str, default=""
        The ``dataset`` column.
    average : {"plain", "groups", "weighted"}, default="plain"
        How Avg was computed (explained under the table).
    notes : sequence of str, default=()
        Paragraphs added under the table.
    paper_numbers : callable, default=None
        ``paper_numbers(row) -> dict`` with the published ``"Avg"``, ``"WGA"``,
        ``"HM"`` and ``"source"`` of that row, or ``{}``; None leaves the paper
        columns blank.
    plot : bool, default=True
        Also write ``results.png`` (needs matplotlib, the ``[plot]`` extra).

    Returns
    -------
    paths : list of pathlib.Path
        The files written.
    """
    if not rows:
        raise ValueError("write_results needs at least one row; got none.")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    published = [dict(paper_numbers(row)) if paper_numbers is not None else {} for row in rows]
    context = {
        "title": title,
        "model": model,
        "pretrained": pretrained,
        "dataset": dataset,
        "average": average,
        "notes": list(notes),
    }
    written = [
        _write_csv(output / "results.csv", rows, published, context),
        _write_markdown(output / "results.md", rows, published, context),
    ]
    if plot:
        written.append(_write_plot(output / "results.png", rows, published, context))
    return written


def _number(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


def _write_csv(path, rows, published, context):
    """One line per row: metrics, the paper's numbers and every group's accuracy."""
    group_names = list(rows[0]["groups"])
    header = [
        "dataset",
        "model",
        "pretrained",
        "mode",
        "k",
        "n_templates",
        "n_images",
        "fit_on",
        *SUMMARY_COLUMNS,
        "worst_group",
        *(f"paper_{name}" for name in PAPER_COLUMNS),
        "paper_source",
        *(f"group_accuracy[{name}]" for name in group_names),
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row, paper in zip(rows, published):
            writer.writerow(
                [
                    context["dataset"],
                    context["model"],
                    context["pretrained"] or "",
                    row["mode"],
                    row["k"],
                    row["n_templates"],
                    row["n_images"],
                    row["fit_on"],
                    *(_number(row[name], 2) for name in SUMMARY_COLUMNS),
                    row["worst_group"],
                    *(_number(paper.get(name), 1) for name in PAPER_COLUMNS),
                    paper.get("source", ""),
                    *(_number(row["groups"].get(name), 2) for name in group_names),
                ]
            )
    return path


def _write_markdown(path, rows, published, context):
    """A readable table with the paper's numbers beside ours, and what the columns mean."""
    model = context["model"] + (f" ({context['pretrained']})" if context["pretrained"] else "")
    n_templates = max(row["n_templates"] for row in rows)
    lines = [
        f"# Selection and debiasing methods: {context['title']}",
        "",
        f"Model: {model}. Images: {rows[0]['n_images']}. Templates: {n_templates}. "
        f"Avg: {AVERAGE_DESCRIPTIONS[context['average']]}.",
        "",
        "| Mode | K | Avg | WGA | Gap | HM | Worst group | Paper Avg | Paper WGA | Paper HM |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for row, paper in zip(rows, published):
        lines.append(
            f"| {row['mode']} | {row['k']} | "
            + " | ".join(_number(row[name], 1) for name in SUMMARY_COLUMNS)
            + f" | {row['worst_group']} | "
            + " | ".join(_number(paper.get(name), 1) for name in PAPER_COLUMNS)
            + " |"
        )
    sources = sorted({paper.get("source") for paper in published} - {None})
    described = {row["mode"]: row["description"] for row in rows if row["description"]}
    notes = [
        "All numbers are percentages. WGA: accuracy of the worst group. Gap: Avg - WGA "
        "(lower is better). HM: harmonic mean of Avg and WGA. K: templates per image "
        "(ensemble: all of them; single: template 0). Per-group accuracies are in results.csv.",
        "Published numbers: " + ("; ".join(sources) + " (approximate)." if sources else "none for this setting."),
        *(f"{mode}: {text}" for mode, text in described.items()),
        *context["notes"],
    ]
    for note in notes:
        lines += ["", note]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_plot(path, rows, published, context):
    """WGA and Avg against K: a line per mode with several K, a constant for the others."""
    from ..utils._optional import require_matplotlib

    pyplot = require_matplotlib("write_results (results.png; or pass plot=False)")
    modes = list(dict.fromkeys(row["mode"] for row in rows))
    rows_of = {mode: [row for row in rows if row["mode"] == mode] for mode in modes}
    k_values = sorted({row["k"] for mode in modes if len(rows_of[mode]) > 1 for row in rows_of[mode]})
    k_values = k_values or sorted({row["k"] for row in rows})
    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    for axis, metric in zip(axes, ("WGA", "Avg")):
        n_fixed = 0
        for mode in modes:
            mode_rows = rows_of[mode]
            if len(mode_rows) > 1:
                xs, ys = [row["k"] for row in mode_rows], [row[metric] for row in mode_rows]
                axis.plot(xs, ys, "-", marker="o", label=mode)
            else:
                # One row (single, ensemble, a debiasing method): a constant across K.
                style = FIXED_LINE_STYLES[n_fixed % len(FIXED_LINE_STYLES)]
                n_fixed += 1
                label = {"single": "single (template 0)", "ensemble": f"ensemble (K={mode_rows[0]['k']})"}
                axis.plot(k_values, [mode_rows[0][metric]] * len(k_values), style, label=label.get(mode, mode))
        points = [(row["k"], paper.get(metric)) for row, paper in zip(rows, published)]
        points = [(k, value) for k, value in points if value is not None]
        if points:
            axis.plot(*zip(*points), "k*", markersize=11, label="published")
        if len(k_values) > 1:
            axis.set_xscale("log")
        axis.set_xticks(k_values, [str(k) for k in k_values])
        axis.minorticks_off()
        axis.set_xlabel("K (templates per image)")
        axis.set_ylabel(f"{metric} (%)")
        axis.set_title(f"{'Worst-group' if metric == 'WGA' else 'Average'} accuracy")
        axis.grid(alpha=0.3)
    # One legend under both panels, where it cannot hide a line.
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8, frameon=False)
    figure.suptitle(f"{context['title']}: {context['model']}", fontsize=10)
    figure.tight_layout(rect=(0, 0.05 + 0.04 * ((len(labels) - 1) // 6), 1, 1))
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
    return path
