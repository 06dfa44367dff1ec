"""What the demo's results.md says under the table: what was measured, and what it shows.

The file leads with the comparison's ranking of every row by WGA
(:func:`skclip_sage.comparison.write_results`); :func:`demo_lead` follows it with
the verdict, computed, never assumed: SAGE against the ensemble and the best and
worst single template, then every row that beats, ties or trails it. The selection
shares and the full table come next; :func:`demo_notes` closes with what a reader of
a toy benchmark must know: that it is a toy, how the captions were designed, how well
the model learned and which average Avg is (the one ``skclip-sage evaluate manifest``
prints).
"""

from __future__ import annotations

import numpy as np

__all__ = ["demo_lead", "demo_notes", "verdict", "verdict_in_full"]


def _k_list(values):
    return "K = " + ", ".join(str(k) for k in values)


def verdict(rows):
    """One computed paragraph: SAGE against the ensemble and the best and worst single template (WGA).

    Parameters
    ----------
    rows : list of dict
        Comparison rows; the single-template rows carry ``template`` and ``source``.

    Returns
    -------
    verdict : str
    """
    ensemble = next((row for row in rows if row["mode"] == "ensemble"), None)
    sage = [row for row in rows if row["mode"] == "sage"]
    singles = [row for row in rows if row.get("template") is not None]
    if ensemble is None or not sage or not singles:
        return "Verdict: the comparison needs the ensemble, SAGE and single-template rows; one was not run."
    first = min(sage, key=lambda row: row["k"])
    best = max(singles, key=lambda row: row["WGA"])
    worst = min(singles, key=lambda row: row["WGA"])

    def named(row):
        source = f", {row['source']}" if row.get("source") else ""
        return f"{row['WGA']:.1f} (template {row['template']}{source})"

    above_ensemble = [row["k"] for row in sage if row["WGA"] > ensemble["WGA"]]
    above_best = [row["k"] for row in sage if row["WGA"] > best["WGA"]]
    below_worst = [row["k"] for row in sage if row["WGA"] < worst["WGA"]]
    outcome = [
        f"SAGE beats the ensemble on WGA at {_k_list(above_ensemble)}"
        if above_ensemble
        else "SAGE does not beat the ensemble on WGA at any K",
        f"beats the best single template at {_k_list(above_best)}"
        if above_best
        else "does not beat the best single template at any K",
    ]
    if below_worst:
        outcome.append(f"falls below the worst single template at {_k_list(below_worst)}")
    return (
        f"Verdict (WGA, this seed): SAGE K={first['k']} {first['WGA']:.1f}, the ensemble (K={ensemble['k']}) "
        f"{ensemble['WGA']:.1f}; single templates alone range from {named(worst)} to {named(best)}. "
        + "; ".join(outcome)
        + "."
    )


def _listed(entries, rows):
    """Named rows with their WGA; single templates counted together, with their range."""
    from ..comparison import method_label

    methods = [entry["row"] for entry in entries if entry["row"].get("template") is None]
    singles = [entry["row"] for entry in entries if entry["row"].get("template") is not None]
    parts = [f"{method_label(row, rows)} ({row['WGA']:.1f})" for row in methods]
    if singles:
        low, high = min(row["WGA"] for row in singles), max(row["WGA"] for row in singles)
        spread = f"{low:.1f}" if low == high else f"{low:.1f} to {high:.1f}"
        parts.append(f"{len(singles)} single template(s) ({spread})")
    return ", ".join(parts) if parts else "none"


def verdict_in_full(rows):
    """What SAGE (at its smallest K) beats on WGA, what it ties and what beats it, every row named.

    Parameters
    ----------
    rows : list of dict
        Comparison rows.

    Returns
    -------
    text : str
    """
    from ..comparison import rank_rows, sage_place

    ranked = rank_rows(rows)
    sage = sage_place(ranked)
    if sage is None:
        return "In full: no SAGE row was run."
    wga = sage["row"]["WGA"]
    above = [entry for entry in ranked if entry["row"]["WGA"] > wga + 1e-6]
    tied = [entry for entry in ranked if abs(entry["row"]["WGA"] - wga) <= 1e-6 and entry is not sage]
    below = [entry for entry in ranked if entry["row"]["WGA"] < wga - 1e-6]
    return (
        f"In full (WGA, SAGE K={sage['row']['k']} {wga:.1f}, place {sage['place']} of {len(ranked)}): "
        f"{len(above)} row(s) beat it: {_listed(above, rows)}. It ties {len(tied)}: {_listed(tied, rows)}. "
        f"It beats {len(below)}: {_listed(below, rows)}."
    )


def demo_lead(rows):
    """The paragraphs that follow the ranking at the top of ``results.md``: the verdict, then in full."""
    return ["## Verdict", verdict(rows), verdict_in_full(rows)]


def _design_paragraph(digits, sources, design):
    train = digits.split == "train"
    majority = digits.majority[train]
    counts = {
        source: (int(np.sum((sources == source) & majority)), int(np.sum((sources == source) & ~majority)))
        for source in ("A", "B")
    }
    split = (
        f"source A: {sum(counts['A'])} images, {counts['A'][0]} in their digit's own colour and "
        f"{counts['A'][1]} in another; source B: {sum(counts['B'])} images, {counts['B'][0]} in their "
        f"digit's own colour and {counts['B'][1]} in another"
    )
    colour_rate = "each draw names the colour with probability 2 in 22 (about 1 in 11), in both sources"
    if design == "uniform":
        return (
            "Captions (design 'uniform', the control): the training images are split into the same sources "
            f"({split}), but every image draws its caption from all 20 templates, one per epoch; {colour_rate}. "
            "Every template thus carries the same colour leakage. The Source column names the two halves of "
            "the pool that the 'sources' design gives to A and B, so the selections can be compared."
        )
    return (
        "Captions (design 'sources'): two caption sources with different colour leakage. "
        f"{split[0].upper()}{split[1:]}. Source A's images draw their caption from templates 0-9, source "
        "B's from templates 10-19, one per epoch, so source A's templates co-occur with each digit's own "
        "colour only and source B's with every colour about equally; "
        f"{colour_rate}. The evaluation pool is all 20 templates."
    )


def demo_notes(rows, digits, sources, design, summary, training_accuracy, model_cfg, output):
    """The paragraphs under the demo's table.

    Parameters
    ----------
    rows : list of dict
        Comparison rows.
    digits : sklearn.utils.Bunch
        The benchmark (:func:`~skclip_sage.demo.load_coloured_digits`).
    sources : ndarray of str
        Caption source of each training image.
    design : str
        The caption design.
    summary : str
        The training summary line.
    training_accuracy : float
        Zero-shot ensemble accuracy on the training split, percent.
    model_cfg : dict
        The model's open_clip configuration.
    output : pathlib.Path
        The demo's output folder, for the command that reproduces Avg.

    Returns
    -------
    notes : list of str
        Markdown paragraphs.
    """
    test = digits.split == "test"
    _, sizes = np.unique(digits.groups[test], return_counts=True)
    vision, text = model_cfg["vision_cfg"], model_cfg["text_cfg"]
    command = (
        f"skclip-sage evaluate manifest {output / 'coloured_digits' / 'test.csv'} --model "
        f"local-dir:{output / 'model'} --templates {output / 'templates.txt'} --compare ensemble"
    )
    if len(set(sizes.tolist())) == 1:
        groups_average = "which equals it here: every group has the same size"
    else:
        groups_average = "which differs slightly because the groups' sizes differ"
    return [
        "What this is: a toy with learned embeddings, not evidence about real data. "
        f"{digits.DESCR} The class is the digit, the spurious attribute the stroke colour; groups are "
        f"digit x colour ({len(sizes)} in the test split, {sizes.min()} to {sizes.max()} images each, so one image "
        "moves a group's accuracy by several points and WGA, a minimum over groups, is noisy).",
        _design_paragraph(digits, sources, design),
        f"Model: an open_clip CLIP trained here from scratch on the training split ({vision['layers']} + "
        f"{text['layers']} layers, width {vision['width']}, {vision['image_size']} px, patch "
        f"{vision['patch_size']}, context {text['context_length']}) with open_clip's contrastive loss; "
        f"{summary}. Training accuracy (zero-shot ensemble on the training split): {training_accuracy:.1f}%.",
        "Majority groups: each digit in its own training colour; minority groups: every other colour. "
        "Their columns are the accuracy over all their images. Avg is the accuracy over all "
        f"{int(test.sum())} test images, the Avg that `{command}` prints for its ensemble row (plain "
        "accuracy, its default for a manifest); `--average groups` there gives the mean of the group "
        f"accuracies instead, {groups_average}.",
    ]
