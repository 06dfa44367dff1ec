"""``evaluate --plot``: per-group accuracy of every compared run, side by side, worst group marked."""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from ._errors import UsageError
from ._outputs import open_output

PLOT_FORMATS = (".png", ".svg", ".pdf")


def check_plot_path(path):
    """Fail before any work when ``--plot`` names a format matplotlib is not asked to write."""
    if path is None:
        return
    extension = os.path.splitext(path)[1].lower()
    if extension not in PLOT_FORMATS:
        raise UsageError(f"--plot {path!r} must end in one of {', '.join(PLOT_FORMATS)}; the format follows it.")
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError('--plot needs matplotlib: pip install "skclip-sage[plot]".')


def plot_group_accuracies(path, result):
    """Draw the grouped bar chart of ``result["runs"]`` and write it atomically to ``path``.

    One cluster of bars per group, one bar per run; the x axis names each group
    with its size; each run's worst group has a black edge and a small black
    triangle above it (a mark, not a word, so neighbouring marks never collide);
    a group with no evaluated image shows ``no samples`` instead of a bar, and the
    legend says that WGA excludes it. The legend sits above the bars in rows, the
    figure is sized to the bars (no more than 16 x 5 inches at 120 dpi), and the
    axis ends half a cluster beyond the first and last group.

    Parameters
    ----------
    path : str
        A ``.png``, ``.svg`` or ``.pdf`` file.
    result : dict
        The evaluate result (``dataset``, ``runs`` from ``run_record``).
    """
    from ..utils._optional import require_matplotlib

    plt = require_matplotlib("skclip-sage evaluate --plot")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    runs = result["runs"]
    groups = runs[0]["groups"]
    n_groups, n_runs = len(groups), len(runs)
    width = 0.8 / n_runs
    long_names = n_groups * max(len(group["name"]) for group in groups) > 60
    figure_width = min(16.0, max(7.0, 0.16 * n_groups * (n_runs + 1) + 2.0))
    # Legend entries take about 2.6 inches each: as many columns as fit above the axes.
    columns = max(1, int(figure_width // 2.6))
    legend_rows = -(-(n_runs + 2) // columns)
    figure, axes = plt.subplots(figsize=(figure_width, 4.2 + 0.25 * legend_rows + (0.6 if long_names else 0.0)))
    positions = np.arange(n_groups)
    handles = []
    with plt.rc_context({"text.parse_math": False}):
        for index, run in enumerate(runs):
            accuracies = [group["accuracy"] for group in run["groups"]]
            heights = [0.0 if value is None else value for value in accuracies]
            offsets = positions - 0.4 + width * (index + 0.5)
            wga = run["summary"]["WGA"]
            bars = axes.bar(offsets, heights, width * 0.92)
            handles.append(Patch(color=bars[0].get_facecolor(), label=f"{run['label']} (WGA {wga:.1f})"))
            measured = [position for position, value in enumerate(accuracies) if value is not None]
            if measured:
                worst = min(measured, key=lambda position: accuracies[position])
                bars[worst].set_edgecolor("black")
                bars[worst].set_linewidth(1.5)
                axes.plot(offsets[worst], heights[worst] + 2.5, marker="v", color="black", markersize=5)
        empty = [group["name"] for group in groups if group["no_samples"]]
        for position, group in enumerate(groups):
            if group["no_samples"]:
                axes.text(position, 2, "no samples", ha="center", va="bottom", rotation=90, fontsize=8, color="dimgray")
        handles.append(Line2D([], [], marker="v", color="black", linestyle="none", label="worst group of the run"))
        if empty:
            # The WGA in each run's label leaves these groups out: the legend says so, next to those numbers.
            listed = ", ".join(repr(name) for name in empty[:5]) + (", ..." if len(empty) > 5 else "")
            handles.append(Patch(color="none", label=f"WGA excludes {len(empty)} group(s)\nwith no samples: {listed}"))
        axes.set_xticks(positions, [f"{group['name']}\nn={group['count']}" for group in groups], fontsize=8)
        # Long group names (waterbird_on_land) would overlap side by side.
        if long_names:
            plt.setp(axes.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
        axes.set_xlim(-0.5, n_groups - 0.5)
        axes.set_ylim(0, 106)
        axes.set_ylabel("accuracy (%)")
        axes.grid(axis="y", alpha=0.3)
        axes.legend(
            handles=handles,
            fontsize=8,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            ncol=min(columns, len(handles)),
            frameon=False,
            borderaxespad=0.0,
        )
        rows_used = -(-len(handles) // min(columns, len(handles))) + (1 if empty else 0)
        axes.set_title(f"{result['dataset']}: accuracy per group", fontsize=11, loc="left", pad=8 + 15 * rows_used)
        figure.tight_layout()
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    with open_output(path, binary=True) as stream:
        figure.savefig(stream, format=extension, dpi=120)
    plt.close(figure)
