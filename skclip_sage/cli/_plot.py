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
    with its size; each run's worst group has a black edge and a ``WGA`` mark; a
    group with no evaluated image shows ``no samples`` instead of a bar, and the
    legend says that WGA excludes it.

    Parameters
    ----------
    path : str
        A ``.png``, ``.svg`` or ``.pdf`` file.
    result : dict
        The evaluate result (``dataset``, ``runs`` from ``run_record``).
    """
    from ..utils._optional import require_matplotlib

    plt = require_matplotlib("skclip-sage evaluate --plot")
    runs = result["runs"]
    groups = runs[0]["groups"]
    n_groups, n_runs = len(groups), len(runs)
    width = 0.8 / n_runs
    figure, axes = plt.subplots(figsize=(min(24.0, max(6.0, 0.5 * n_groups * (n_runs + 1) + 3)), 4.8))
    positions = np.arange(n_groups)
    for index, run in enumerate(runs):
        accuracies = [group["accuracy"] for group in run["groups"]]
        heights = [0.0 if value is None else value for value in accuracies]
        offsets = positions - 0.4 + width * (index + 0.5)
        wga = run["summary"]["WGA"]
        bars = axes.bar(offsets, heights, width, label=f"{run['label']} (WGA {wga:.1f})")
        measured = [position for position, value in enumerate(accuracies) if value is not None]
        if measured:
            worst = min(measured, key=lambda position: accuracies[position])
            bars[worst].set_edgecolor("black")
            bars[worst].set_linewidth(2)
            axes.annotate("WGA", (offsets[worst], heights[worst]), ha="center", va="bottom", fontsize=7)
    empty = [group["name"] for group in groups if group["no_samples"]]
    for position, group in enumerate(groups):
        if group["no_samples"]:
            axes.text(position, 2, "no samples", ha="center", va="bottom", rotation=90, fontsize=8, color="dimgray")
    handles, _ = axes.get_legend_handles_labels()
    if empty:
        # The WGA in each run's label leaves these groups out: the legend says so, next to those numbers.
        from matplotlib.patches import Patch

        listed = ", ".join(repr(name) for name in empty[:5]) + (", ..." if len(empty) > 5 else "")
        handles.append(Patch(color="none", label=f"WGA excludes {len(empty)} group(s)\nwith no samples: {listed}"))
    axes.set_xticks(positions, [f"{group['name']}\nn={group['count']}" for group in groups], fontsize=8)
    # Long group names (waterbird_on_land) would overlap side by side.
    if n_groups * max(len(group["name"]) for group in groups) > 48:
        plt.setp(axes.get_xticklabels(), rotation=30, ha="right")
    axes.set_ylim(0, 105)
    axes.set_ylabel("accuracy (%)")
    axes.set_title(f"{result['dataset']}: accuracy per group (worst group outlined)")
    axes.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    extension = os.path.splitext(path)[1].lower().lstrip(".")
    with open_output(path, binary=True) as stream:
        figure.savefig(stream, format=extension, dpi=120)
    plt.close(figure)
