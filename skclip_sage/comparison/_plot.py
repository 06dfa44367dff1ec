"""results.png: worst-group accuracy of every row, readable at the size it is written.

With single-template rows the top left panel is one bar per template (coloured and
hatched by source), with the ensemble and SAGE drawn across it as reference lines:
the spread a selection method picks from, and where it landed. Below it (or, without
template rows, in both left panels: WGA and Avg) each mode run at several K is a
line against K. On the right every method row is one bar, ranked by WGA with its
place among all rows, so a method run at one K, or one equal to another, is never
hidden under a line. Every method keeps one colour in all panels (and a line style
and marker of its own in the K panel, for grey print); accuracy axes start at 0.
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


def _against_k(axis, metric, rows_of, styles, k_values, published_points):
    """``metric`` against K, one line per mode run at several K (a mode run once is in the ranked panel)."""
    for mode, mode_rows in rows_of.items():
        if len(mode_rows) > 1:
            axis.plot([row["k"] for row in mode_rows], [row[metric] for row in mode_rows], label=mode, **styles[mode])
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


def draw_ranked_bars(axis, rows, *, shown=None, colours=None, fontsize=8):
    """One horizontal bar per row, best WGA on top, labelled with its place, the method and its WGA.

    Every row is visible whatever its K: the answer to "which method is best here".
    Avg is a black tick on each bar. ``shown`` (a subset of ``rows``, default all)
    selects the bars drawn; places are always among all ``rows``, as ``results.md``
    gives them. ``colours`` maps a mode to its colour (else a uniform blue, SAGE in
    orange, single templates in grey).
    """
    from ._ranking import method_label, rank_rows

    drawn = {id(row) for row in (rows if shown is None else shown)}
    ranked = [entry for entry in rank_rows(rows) if id(entry["row"]) in drawn]
    labels = [method_label(entry["row"], rows) for entry in ranked]
    positions = list(range(len(ranked)))[::-1]
    for position, entry, label in zip(positions, ranked, labels):
        row = entry["row"]
        if colours and row["mode"] in colours and row.get("template") is None:
            colour = colours[row["mode"]]
        elif row.get("template") is not None:
            colour = "#c7c7c7"
        else:
            colour = "#e6550d" if row["mode"] == "sage" else "#3182bd"
        axis.barh(position, row["WGA"], height=0.75, color=colour, edgecolor="black", linewidth=0.4)
        axis.plot([row["Avg"]] * 2, [position - 0.38, position + 0.38], color="black", linewidth=1.2)
        weight = "bold" if row["mode"] == "sage" else "normal"
        axis.text(101, position, f"{row['WGA']:.1f}", va="center", ha="left", fontsize=fontsize, fontweight=weight)
    axis.set_yticks(positions, [f"{entry['place']}. {label}" for entry, label in zip(ranked, labels)])
    for tick, entry in zip(axis.get_yticklabels(), ranked):
        tick.set_fontsize(fontsize)
        if entry["row"]["mode"] == "sage":
            tick.set_fontweight("bold")
    axis.set_ylim(-0.6, len(ranked) - 0.4)
    axis.set_xlim(0, 100)
    axis.set_xlabel("WGA (%); black tick: Avg")
    axis.grid(axis="x", alpha=0.3)
    return ranked


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
    ranked_rows = method_rows or rows
    height = max(6.0, 0.2 * len(ranked_rows) + 1.8)
    figure = pyplot.figure(figsize=(16, height))
    grid = figure.add_gridspec(2, 2, width_ratios=[1.45, 1], hspace=0.4, wspace=0.42)
    left_top, left_bottom = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[1, 0])
    ranked_axis = figure.add_subplot(grid[:, 1])
    if template_rows:
        _template_bars(left_top, template_rows, rows_of, styles)
        panels = [(left_bottom, "WGA")]
        best = max(template_rows, key=lambda row: row["WGA"])
        worst = min(template_rows, key=lambda row: row["WGA"])
        for row, name, linestyle in ((best, "best", (0, (6, 2))), (worst, "worst", (0, (1, 2)))):
            label = f"{name} single template (#{row['template']})"
            left_bottom.axhline(row["WGA"], color="0.35", linestyle=linestyle, linewidth=1.5, label=label)
    else:
        panels = [(left_top, "WGA"), (left_bottom, "Avg")]
    for axis, metric in panels:
        _against_k(axis, metric, rows_of, styles, k_values, points[metric])
        axis.set_title(
            f"{'Worst-group' if metric == 'WGA' else 'Average'} accuracy against K (modes run at several K)",
            fontsize=11,
        )
    draw_ranked_bars(
        ranked_axis, rows, shown=ranked_rows, colours={mode: style["color"] for mode, style in styles.items()}
    )
    ranked_axis.set_title(
        "Every method ranked by WGA" + (" (places among all rows; templates: left)" if template_rows else ""),
        fontsize=11,
    )
    # Lines and bars stay above ~40 % in the lower right and the A templates low: the legends sit there.
    if template_rows:
        left_top.legend(loc="upper left", fontsize=8, framealpha=0.9)
    if left_bottom.get_legend_handles_labels()[0]:  # nothing to name when no mode ran at several K
        left_bottom.legend(loc="lower right", ncol=2, fontsize=8, framealpha=0.9)
    figure.suptitle(f"{context['title']}: {context['model']}", fontsize=11)
    figure.subplots_adjust(left=0.05, right=0.96, top=1 - 0.75 / height, bottom=0.7 / height)
    figure.savefig(path, dpi=DPI)
    pyplot.close(figure)
    return path
