"""What the demo's results.md says under the table: what was measured, and what it shows.

The table itself is the comparison's (:func:`skclip_sage.comparison.write_results`);
these paragraphs add what a reader of a toy benchmark must know: that it is a toy,
how well the model learned, majority- against minority-group accuracy per mode, and
whether SAGE beat the ensemble on worst-group accuracy, computed, never assumed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["demo_notes", "group_share_accuracy"]


def group_share_accuracy(group_accuracy, sizes, names):
    """Accuracy in percent over all images of the groups ``names``.

    Parameters
    ----------
    group_accuracy : dict of str to float
        Accuracy (percent) of each group, by name.
    sizes : dict of str to int
        Images in each group.
    names : set of str
        The groups to pool.

    Returns
    -------
    accuracy : float
        The size-weighted mean of their accuracies (NaN when ``names`` is empty).
    """
    names = [name for name in names if name in group_accuracy]
    if not names:
        return float("nan")
    weights = np.asarray([sizes[name] for name in names], dtype=float)
    return float(np.average([group_accuracy[name] for name in names], weights=weights))


def _verdict(rows):
    ensemble = next((row for row in rows if row["mode"] == "ensemble"), None)
    sage = [row for row in rows if row["mode"] == "sage"]
    if ensemble is None or not sage:
        return "The comparison of SAGE with the ensemble needs both rows; one was not run."
    at_one = next((row for row in sage if row["k"] == 1), sage[0])
    best = max(sage, key=lambda row: row["WGA"])
    beats = [row["k"] for row in sage if row["WGA"] > ensemble["WGA"]]
    outcome = (
        f"SAGE beats the ensemble on WGA at K = {', '.join(map(str, beats))}."
        if beats
        else "SAGE does not beat the ensemble on WGA at any K here."
    )
    return (
        f"Verdict: ensemble (K={ensemble['k']}) WGA {ensemble['WGA']:.1f}; SAGE K={at_one['k']} WGA "
        f"{at_one['WGA']:.1f}, best SAGE (K={best['k']}) {best['WGA']:.1f}. {outcome} "
        "The docs (user guide, 'The learned demo') discuss why."
    )


def demo_notes(rows, digits, summary, training_accuracy, model_cfg):
    """The paragraphs under the demo's table.

    Parameters
    ----------
    rows : list of dict
        Comparison rows, each with ``majority`` and ``minority`` accuracy (percent).
    digits : sklearn.utils.Bunch
        The benchmark (:func:`~skclip_sage.demo.load_coloured_digits`).
    summary : str
        The training summary line.
    training_accuracy : float
        Zero-shot ensemble accuracy on the training split, percent.
    model_cfg : dict
        The model's open_clip configuration.

    Returns
    -------
    notes : list of str
        Markdown paragraphs (one of them a table).
    """
    test = digits.split == "test"
    _, sizes = np.unique(digits.groups[test], return_counts=True)
    vision, text = model_cfg["vision_cfg"], model_cfg["text_cfg"]
    table = [
        "| Mode | K | Majority groups | Minority groups | WGA |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {row['mode']} | {row['k']} | {row['majority']:.1f} | {row['minority']:.1f} | {row['WGA']:.1f} |"
            for row in rows
        ),
    ]
    return [
        "What this is: a toy with learned embeddings, not evidence about real data. "
        f"{digits.DESCR} The class is the digit, the spurious attribute the stroke colour; groups are "
        f"digit x colour ({len(sizes)} in the test split, {sizes.min()} to {sizes.max()} images each, so one image moves "
        "a group's accuracy by several points and WGA, a minimum over groups, is noisy).",
        f"Model: an open_clip CLIP trained here from scratch on the training split ({vision['layers']} + "
        f"{text['layers']} layers, width {vision['width']}, {vision['image_size']} px, patch "
        f"{vision['patch_size']}, context {text['context_length']}) with open_clip's contrastive loss; "
        f"{summary}. Captions name the digit and, in about 1 in 11, its colour. "
        f"Training accuracy (zero-shot ensemble on the training split): {training_accuracy:.1f}%.",
        "Majority groups: each digit in its own training colour; minority groups: every other "
        "colour. Accuracy over all their images, percent:",
        "\n".join(table),
        _verdict(rows),
    ]
