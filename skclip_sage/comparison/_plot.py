"""results.png: worst-group accuracy of every row, readable at the size it is written.

With single-template rows the left panel is one bar per template (coloured and
hatched by source), with the ensemble and SAGE drawn across it as reference lines:
the spread a selection method picks from, and where it landed. The right panel (or,
without template rows, both panels: WGA and Avg) plots each method against K. Every
method keeps one colour, line style and marker in both panels, so it can be told
apart in grey print too; accuracy axes start at 0.
"""

from __future__ import annotations

__all__ = ["plot_results"]

# Fourteen distinct colours (tab10 with gold for its grey, and four darker ones), so no two methods
# share one; grey is kept for the best and worst single template.
METHOD_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#e6ab02",
    "#bcbd22",
    "#17becf",
    "#000000",
    "#6a3d9a",
    "#b15928",
    "#00441b",
)
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
# Light fills for the bars, apart from the saturated line colours of the methods.
SOURCE_COLOURS = ("#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fc9272", "#d9d9d9")
SOURCE_HATCHES = ("", "//", "..", "xx", "\\\\", "++")
DPI = 120


def _method_styles(modes):
    """``{mode: plot keywords}``: a colour, a line style and a marker of its own per mode."""
    return {
        mode: {
            "color": METHOD_COLOURS[index % len(METHOD_COLOURS)],
            "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
            "marker": MARKERS[index % len(MARKERS)],
        }
        for index, mode in enumerate(modes)
    }


def _label(mode, mode_rows):
    if len(mode_rows) == 1 and mode == "ensemble":
        return f"ensemble (K={mode_rows[0]['k']})"
    return "single (template 0)" if mode == "single" else mode


def _against_k(axis, metric, rows_of, styles, k_values, published_points):
    """``metric`` against K: a line per mode with several K, a constant for the others."""
    for mode, mode_rows in rows_of.items():
        style = styles[mode]
        if len(mode_rows) > 1:
            axis.plot([row["k"] for row in mode_rows], [row[metric] for row in mode_rows], label=mode, **style)
        else:
            # One row (ensemble, a debiasing method): a constant across K, its marker at the ends.
            ys = [mode_rows[0][metric]] * len(k_values)
            axis.plot(k_values, ys, label=_label(mode, mode_rows), markevery=[0, len(k_values) - 1], **style)
    if published_points:
        axis.plot(*zip(*published_points), "k*", markersize=12, linestyle="none", label="published")
    if len(k_values) > 1:
        axis.set_xscale("log")
    axis.set_xticks(k_values, [str(k) for k in k_values])
    axis.minorticks_off()
    axis.set_xlabel("K (templates per image)")
    axis.set_ylabel(f"{metric} (%)")
    axis.set_ylim(0, 102)
    axis.grid(alpha=0.3)


def _template_bars(axis, template_rows, rows_of, styles):
    """One bar per template, by source; the ensemble and SAGE (smallest K) as labelled reference lines."""
    sources = list(dict.fromkeys(row.get("source") or "pool" for row in template_rows))
    for index, source in enumerate(sources):
        positions = [place for place, row in enumerate(template_rows) if (row.get("source") or "pool") == source]
        axis.bar(
            positions,
            [template_rows[place]["WGA"] for place in positions],
            width=0.8,
            color=SOURCE_COLOURS[index % len(SOURCE_COLOURS)],
            hatch=SOURCE_HATCHES[index % len(SOURCE_HATCHES)],
            edgecolor="black",
            linewidth=0.6,
            label="single template" + ("" if source == "pool" else f", source {source}"),
        )
    # The ensemble's label at the left end, SAGE's at the right: they never overlap, even at one height.
    for mode, end, align in (("ensemble", 0.0, "left"), ("sage", 1.0, "right")):
        if mode in rows_of:
            row = min(rows_of[mode], key=lambda candidate: candidate["k"])
            axis.axhline(row["WGA"], **dict(styles[mode], marker=None, linewidth=2))
            axis.annotate(
                f"{mode} K={row['k']}: {row['WGA']:.1f}",
                (end, row["WGA"]),
                xycoords=("axes fraction", "data"),
                xytext=(4 if align == "left" else -4, 3),
                textcoords="offset points",
                ha=align,
                va="bottom",
                fontsize=10,
                color=styles[mode]["color"],
                fontweight="bold",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
            )
    axis.set_xticks(range(len(template_rows)), [str(row["template"]) for row in template_rows])
    axis.set_xlim(-0.7, len(template_rows) - 0.3)
    axis.set_xlabel("template (index in the pool), grouped by source")
    axis.set_ylabel("WGA (%)")
    axis.set_ylim(0, 102)
    axis.grid(axis="y", alpha=0.3)
    axis.set_title("WGA of each template alone; the ensemble and SAGE across", fontsize=11)


def plot_results(path, rows, published, context):
    """Draw the comparison's figure and write it to ``path`` (PNG).

    Parameters
    ----------
    path : pathlib.Path
        Where to write.
    rows : list of dict
        Comparison rows.
    published : list of dict
        The published numbers of each row (``{}`` for none).
    context : dict
        ``title`` and ``model``, for the figure's title.

    Returns
    -------
    path : pathlib.Path
    """
    from ..utils._optional import require_matplotlib

    pyplot = require_matplotlib("write_results (results.png; or pass plot=False)")
    template_rows = [row for row in rows if row.get("template") is not None]
    method_rows = [row for row in rows if row.get("template") is None]
    modes = list(dict.fromkeys(row["mode"] for row in method_rows))
    rows_of = {mode: [row for row in method_rows if row["mode"] == mode] for mode in modes}
    styles = _method_styles(modes)
    k_values = sorted({row["k"] for mode in modes if len(rows_of[mode]) > 1 for row in rows_of[mode]})
    k_values = k_values or sorted({row["k"] for row in method_rows}) or [1]
    points = {
        metric: [(row["k"], paper[metric]) for row, paper in zip(rows, published) if paper.get(metric) is not None]
        for metric in ("WGA", "Avg")
    }
    figure, axes = pyplot.subplots(1, 2, figsize=(14, 5.6), gridspec_kw={"width_ratios": [1.25, 1]})
    if template_rows:
        _template_bars(axes[0], template_rows, rows_of, styles)
        panels = [(axes[1], "WGA")]
        best = max(template_rows, key=lambda row: row["WGA"])
        worst = min(template_rows, key=lambda row: row["WGA"])
        for row, name, linestyle in ((best, "best", (0, (6, 2))), (worst, "worst", (0, (1, 2)))):
            label = f"{name} single template (#{row['template']})"
            axes[1].axhline(row["WGA"], color="0.35", linestyle=linestyle, linewidth=1.5, label=label)
    else:
        panels = [(axes[0], "WGA"), (axes[1], "Avg")]
    for axis, metric in panels:
        _against_k(axis, metric, rows_of, styles, k_values, points[metric])
        axis.set_title(f"{'Worst-group' if metric == 'WGA' else 'Average'} accuracy against K", fontsize=11)
    # One legend under the panels, where it cannot hide a bar or a line.
    handles, labels = [], []
    for axis in dict.fromkeys([axes[0], panels[0][0]]):
        more_handles, more_labels = axis.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    columns = max(1, min(len(labels), 4))
    figure.legend(handles, labels, loc="lower center", ncol=columns, fontsize=9, frameon=False)
    figure.suptitle(f"{context['title']}: {context['model']}", fontsize=11)
    legend_rows = -(-len(labels) // columns)
    figure.tight_layout(rect=(0, 0.035 * legend_rows + 0.02, 1, 1))
    figure.savefig(path, dpi=DPI)
    pyplot.close(figure)
    return path
