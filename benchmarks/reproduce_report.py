"""Write the results of reproduce_paper.py: a CSV, a markdown table and a plot.

Each row (a dict from ``reproduce_paper.evaluate_one``) holds one selection mode at one
K with Avg, WGA, Gap and HM in percent; the paper's published numbers go in adjacent
columns where they exist (``paper_numbers.py``), blank otherwise.
"""

from __future__ import annotations

import csv

from paper_numbers import published_numbers

AVERAGE_DESCRIPTIONS = {
    "weighted": "WILDS's adjusted average: group accuracies weighted by the training group counts",
    "plain": "plain accuracy over all images",
    "groups": "unweighted mean of the group accuracies",
}
SUMMARY_COLUMNS = ("Avg", "WGA", "Gap", "HM")
LINE_STYLES = {"single": ":", "ensemble": "--", "random": "-", "text": "-", "sage": "-"}


def _paper(row, context):
    return published_numbers(context["dataset"], row["mode"], row["k"], model=context["paper_model"])


def _number(value, digits):
    return "" if value is None else f"{value:.{digits}f}"


def write_csv(path, rows, context):
    """One line per (mode, K): metrics, the paper's numbers and every group's accuracy."""
    group_names = list(rows[0]["groups"])
    header = [
        "dataset",
        "model",
        "pretrained",
        "mode",
        "k",
        "n_templates",
        "n_images",
        *SUMMARY_COLUMNS,
        "worst_group",
        "paper_WGA",
        "paper_HM",
        "paper_source",
        *(f"group_accuracy[{name}]" for name in group_names),
    ]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            paper = _paper(row, context)
            writer.writerow(
                [
                    context["dataset"],
                    context["model"],
                    context["pretrained"] or "",
                    row["mode"],
                    row["k"],
                    row["n_templates"],
                    context["n_images"],
                    *(_number(row[name], 2) for name in SUMMARY_COLUMNS),
                    row["worst_group"],
                    _number(paper.get("WGA"), 1),
                    _number(paper.get("HM"), 1),
                    paper.get("source", ""),
                    *(_number(row["groups"][name], 2) for name in group_names),
                ]
            )
    return path


def write_markdown(path, rows, context):
    """A readable table with the paper's numbers beside ours, and what the columns mean."""
    model = context["model"] + (f" ({context['pretrained']})" if context["pretrained"] else "")
    lines = [
        f"# SAGE and baselines: {context['title']}",
        "",
        f"Model: {model}. Images: {context['n_images']}. Templates: {context['n_templates']}. "
        f"Avg: {AVERAGE_DESCRIPTIONS[context['average']]}.",
        "",
        "| Mode | K | Avg | WGA | Gap | HM | Worst group | Paper WGA | Paper HM |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        paper = _paper(row, context)
        lines.append(
            f"| {row['mode']} | {row['k']} | "
            + " | ".join(_number(row[name], 1) for name in SUMMARY_COLUMNS)
            + f" | {row['worst_group']} | {_number(paper.get('WGA'), 1)} | {_number(paper.get('HM'), 1)} |"
        )
    sources = sorted({_paper(row, context).get("source") for row in rows} - {None})
    notes = [
        "All numbers are percentages. WGA: accuracy of the worst group. Gap: Avg - WGA "
        "(lower is better). HM: harmonic mean of Avg and WGA. K: templates per image "
        "(ensemble: all of them; single: template 0). Per-group accuracies are in results.csv.",
        "Paper columns: "
        + (
            "; ".join(sources) + " (Ye et al., AAAI 2026; approximate)."
            if sources
            else "the paper publishes no numbers for this setting."
        ),
        *context["notes"],
    ]
    for note in notes:
        lines += ["", note]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_plot(path, rows, context):
    """WGA and Avg against K, one line per mode (single and ensemble are constants)."""
    from skclip_sage.utils._optional import require_matplotlib

    pyplot = require_matplotlib("benchmarks/reproduce_paper.py (results.png; or pass --no-plot)")
    k_values = sorted({row["k"] for row in rows if row["mode"] not in ("single", "ensemble")})
    figure, axes = pyplot.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for axis, metric in zip(axes, ("WGA", "Avg")):
        for mode in dict.fromkeys(row["mode"] for row in rows):
            mode_rows = [row for row in rows if row["mode"] == mode]
            if mode in ("single", "ensemble"):
                xs, ys = k_values, [mode_rows[0][metric]] * len(k_values)
            else:
                xs, ys = [row["k"] for row in mode_rows], [row[metric] for row in mode_rows]
            axis.plot(
                xs,
                ys,
                LINE_STYLES[mode],
                marker="" if mode in ("single", "ensemble") else "o",
                label={"single": "single (template 0)", "ensemble": f"ensemble (K={mode_rows[0]['k']})"}.get(
                    mode, mode
                ),
            )
        published = [(row["k"], _paper(row, context).get(metric)) for row in rows]
        published = [(k, value) for k, value in published if value is not None]
        if published:
            axis.plot(*zip(*published), "k*", markersize=11, label="paper")
        axis.set_xscale("log")
        axis.set_xticks(k_values, [str(k) for k in k_values])
        axis.minorticks_off()
        axis.set_xlabel("K (templates per image)")
        axis.set_ylabel(f"{metric} (%)")
        axis.set_title(f"{'Worst-group' if metric == 'WGA' else 'Average'} accuracy")
        axis.grid(alpha=0.3)
    # One legend under both panels, where it cannot hide a line.
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    figure.suptitle(f"{context['title']}: {context['model']}", fontsize=10)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
    return path
