"""Write a comparison's rows as results.csv, results.md, selections.csv and results.png.

Each row (from :func:`~skclip_sage.comparison.compare_methods`) holds one method at
one K with Avg, WGA, Gap and HM in percent, and optionally the template and source of
a single-template row, the accuracy over named subsets of the images and the
sources a per-image selection drew from. Published numbers, when a caller has them,
go in adjacent columns: ``paper_numbers(row)`` returns ``{"Avg": ..., "WGA": ...,
"HM": ..., "source": ...}`` with the metrics that exist. A column no row fills is
left out, so every column in the files says something.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

from ._folder import WRITER_FILE, check_results_folder, claim_results_folder, recorded_writer

__all__ = ["write_results"]

LOGGER = logging.getLogger(__name__)
AVERAGE_DESCRIPTIONS = {
    "weighted": "WILDS's adjusted average: group accuracies weighted by the training group counts",
    "plain": "plain accuracy over all images",
    "groups": "unweighted mean of the group accuracies",
}
SUMMARY_COLUMNS = ("Avg", "WGA", "Gap", "HM")
PAPER_COLUMNS = ("Avg", "WGA", "HM")
DEFAULT_WRITER = "skclip_sage.comparison.write_results"


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
    lead=(),
    paper_numbers=None,
    plot=True,
    writer=DEFAULT_WRITER,
    force=False,
    log=None,
):
    """Write ``results.csv``, ``results.md``, ``selections.csv`` (when rows have shares) and ``results.png``.

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
        Paragraphs added under the full table.
    lead : sequence of str, default=()
        Paragraphs placed right after the ranking that opens ``results.md``
        (a verdict, say), before the selection shares and the full table.
    paper_numbers : callable, default=None
        ``paper_numbers(row) -> dict`` with the published ``"Avg"``, ``"WGA"``,
        ``"HM"`` and ``"source"`` of that row, or ``{}``; without any, the paper
        columns are left out.
    plot : bool, default=True
        Also write ``results.png`` (needs matplotlib, the ``[plot]`` extra).
    writer : str, default="skclip_sage.comparison.write_results"
        Who writes, recorded in ``results.written-by``.
    force : bool, default=False
        Overwrite result files another writer left (see
        :func:`check_results_folder`).
    log : callable, default=None
        Called with one line for each result file removed or left behind (see
        Returns); None logs them as warnings of ``skclip_sage.comparison``.

    Returns
    -------
    paths : list of pathlib.Path
        The files written. Result files of an earlier run of the same ``writer``
        (as ``results.written-by`` records) that this one did not write
        (``results.png`` under ``plot=False``, say) are removed; another writer's
        are never removed, only named. Either is said through ``log``.

    Raises
    ------
    ResultsOverwriteError
        ``output`` holds results another writer left and ``force`` is False.
    """
    if not rows:
        raise ValueError("write_results needs at least one row; got none.")
    output = Path(output)
    check_results_folder(output, writer, force=force)
    previous_writer = recorded_writer(output)
    output.mkdir(parents=True, exist_ok=True)
    published = [dict(paper_numbers(row)) if paper_numbers is not None else {} for row in rows]
    context = {
        "title": title,
        "model": model,
        "pretrained": pretrained,
        "dataset": dataset,
        "average": average,
        "notes": list(notes),
        "lead": list(lead),
    }
    written = [
        _write_csv(output / "results.csv", rows, published, context),
        _write_markdown(output / "results.md", rows, published, context),
    ]
    if any(row.get("selections") for row in rows):
        written.append(_write_selections(output / "selections.csv", rows))
    if plot:
        from ._plot import plot_results

        written.append(plot_results(output / "results.png", rows, published, context))
    log = log or LOGGER.warning
    removed, left = claim_results_folder(output, writer, written, previous_writer)
    for path in removed:
        log(f"removed {path}: written by an earlier run of {writer}, not by this one")
    for path in left:
        log(f"left {path} as it was: not written by this run, and {WRITER_FILE} does not show {writer} wrote it")
    return written


def _number(value, digits):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _table(columns, rows):
    """``(header, lines)`` from ``[(name, value_of_row)]``, leaving out the columns no row fills."""
    cells = [[value(row) for _, value in columns] for row in rows]
    kept = [index for index in range(len(columns)) if any(line[index] != "" for line in cells)]
    return [columns[index][0] for index in kept], [[line[index] for index in kept] for line in cells]


def _subset_names(rows):
    return list(dict.fromkeys(name for row in rows for name in row.get("subsets", {})))


def _template_cell(row):
    if row.get("template") is None:
        return ""
    return f"{row['template']}: {row['template_text']}"


def _write_csv(path, rows, published, context):
    """One line per row: metrics, subsets, the paper's numbers and every group's accuracy."""
    group_names = list(rows[0]["groups"])
    pairs = list(zip(rows, published))
    columns = [
        ("dataset", lambda pair: context["dataset"]),
        ("model", lambda pair: context["model"]),
        ("pretrained", lambda pair: context["pretrained"] or ""),
        ("mode", lambda pair: pair[0]["mode"]),
        ("k", lambda pair: str(pair[0]["k"])),
        ("template", lambda pair: "" if pair[0].get("template") is None else str(pair[0]["template"])),
        ("template_text", lambda pair: pair[0].get("template_text") or ""),
        ("source", lambda pair: pair[0].get("source") or ""),
        ("n_templates", lambda pair: str(pair[0]["n_templates"])),
        ("n_images", lambda pair: str(pair[0]["n_images"])),
        ("fit_on", lambda pair: pair[0]["fit_on"]),
        *((name, lambda pair, name=name: _number(pair[0][name], 2)) for name in SUMMARY_COLUMNS),
        *(
            (f"accuracy[{name}]", lambda pair, name=name: _number(pair[0]["subsets"].get(name), 2))
            for name in _subset_names(rows)
        ),
        ("worst_group", lambda pair: pair[0]["worst_group"]),
        *((f"paper_{name}", lambda pair, name=name: _number(pair[1].get(name), 1)) for name in PAPER_COLUMNS),
        ("paper_source", lambda pair: pair[1].get("source", "")),
        *(
            (f"group_accuracy[{name}]", lambda pair, name=name: _number(pair[0]["groups"].get(name), 2))
            for name in group_names
        ),
    ]
    header, lines = _table(columns, pairs)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(lines)
    return path


def _write_selections(path, rows):
    """One line per per-image row and subset: the share of each source among the chosen templates."""
    sources = list(
        dict.fromkeys(name for row in rows for entry in row.get("selections") or () for name in entry["shares"])
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mode", "k", "subset", "n_images", *(f"share[{name}]" for name in sources)])
        for row in rows:
            for entry in row.get("selections") or ():
                shares = [_number(entry["shares"].get(name), 2) for name in sources]
                writer.writerow([row["mode"], row["k"], entry["subset"], entry["n_images"], *shares])
    return path


def selections_sentence(rows):
    """What the per-image selections drew from, at each such mode's smallest K, in one paragraph."""
    chosen = {}
    for row in rows:
        if row.get("selections") and (row["mode"] not in chosen or row["k"] < chosen[row["mode"]]["k"]):
            chosen[row["mode"]] = row
    if not chosen:
        return None
    parts = []
    for mode, row in chosen.items():
        subsets = "; ".join(
            f"{entry['subset']}: " + ", ".join(f"{name} {_number(share, 1)}" for name, share in entry["shares"].items())
            for entry in row["selections"]
        )
        parts.append(f"{mode} K={row['k']} ({subsets})")
    return (
        "Where the per-image selections took their templates from (percent of the chosen templates by source; "
        "for K = 1, the percent of the images; every mode and K in selections.csv): " + "; ".join(parts) + "."
    )


def _ranked_markdown(rows):
    """The opening section: every row ranked by WGA (with Avg), then the ranking in sentences."""
    from ._ranking import method_label, rank_rows, ranking_points

    lines = [
        "## Every method ranked by worst-group accuracy",
        "",
        "| Place | Method | WGA | Avg | Worst group |",
        "|---:|---|---:|---:|---|",
    ]
    for entry in rank_rows(rows):
        row = entry["row"]
        place = f"{entry['place']}{'=' if entry['tied'] > 1 else ''}"
        label = method_label(row, rows).replace("|", "\\|")
        worst = str(row["worst_group"]).replace("|", "\\|")  # a group name from the user's data
        lines.append(f"| {place} | {label} | {_number(row['WGA'], 1)} | {_number(row['Avg'], 1)} | {worst} |")
    points = ranking_points(rows)
    return [*lines, "", "= marks a shared place (equal WGA; ordered by Avg).", "", *(f"- {point}" for point in points)]


def _write_markdown(path, rows, published, context):
    """A readable table with the paper's numbers beside ours, and what the columns mean."""
    model = context["model"] + (f" ({context['pretrained']})" if context["pretrained"] else "")
    n_templates = max(row["n_templates"] for row in rows)
    pairs = list(zip(rows, published))
    columns = [
        ("Mode", lambda pair: pair[0]["mode"]),
        ("K", lambda pair: str(pair[0]["k"])),
        ("Template", lambda pair: _template_cell(pair[0]).replace("|", "\\|")),
        ("Source", lambda pair: pair[0].get("source") or ""),
        *((name, lambda pair, name=name: _number(pair[0][name], 1)) for name in ("Avg", "WGA")),
        *(
            (name[:1].upper() + name[1:], lambda pair, name=name: _number(pair[0]["subsets"].get(name), 1))
            for name in _subset_names(rows)
        ),
        *((name, lambda pair, name=name: _number(pair[0][name], 1)) for name in ("Gap", "HM")),
        ("Worst group", lambda pair: pair[0]["worst_group"]),
        *((f"Paper {name}", lambda pair, name=name: _number(pair[1].get(name), 1)) for name in PAPER_COLUMNS),
    ]
    header, lines = _table(columns, pairs)
    numeric = {"K", "Avg", "WGA", "Gap", "HM", *(name for name in header if name.startswith("Paper"))}
    numeric.update(name[:1].upper() + name[1:] for name in _subset_names(rows))
    shares = selections_sentence(rows)
    lines_out = [
        f"# Selection and debiasing methods: {context['title']}",
        "",
        f"Model: {model}. Images: {rows[0]['n_images']}. Templates: {n_templates}. "
        f"Avg: {AVERAGE_DESCRIPTIONS[context['average']]}.",
        "",
        *_ranked_markdown(rows),
        *(line for paragraph in context["lead"] for line in ("", paragraph)),
        *(["", "## What the selections chose", "", shares] if shares else []),
        "",
        "## Every row",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if name in numeric else "---" for name in header) + "|",
        *("| " + " | ".join(line) + " |" for line in lines),
    ]
    sources = sorted({paper.get("source") for paper in published} - {None})
    described = {row["mode"]: row["description"] for row in rows if row["description"]}
    single = (
        "single: the template in the Template column"
        if any(row.get("template") is not None for row in rows)
        else "single: template 0"
    )
    notes = [
        "All numbers are percentages. WGA: accuracy of the worst group. Gap: Avg - WGA "
        "(lower is better). HM: harmonic mean of Avg and WGA. K: templates per image "
        f"(ensemble: all of them; {single}). Per-group accuracies are in results.csv.",
        "Published numbers: " + ("; ".join(sources) + " (approximate)." if sources else "none for this setting."),
        *(f"{mode}: {text}" for mode, text in described.items()),
        *context["notes"],
    ]
    for note in notes:
        lines_out += ["", note]
    Path(path).write_text("\n".join(lines_out) + "\n", encoding="utf-8")
    return path
