"""The HTML report's tables: the ranking, every group's accuracy, the templates and selection shares.

Numeric cells carry their value in ``data-v`` so the page's script sorts them as numbers;
every user string goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from html import escape

from ._ranking import method_label

__all__ = ["groups_table", "number", "ranked_table", "templates_section"]


def number(value, digits=1):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _cell(value, css="n"):
    """A numeric cell that sorts by its value (integers, such as K, shown as integers)."""
    text = str(value) if isinstance(value, int) else number(value)
    sort = f' data-v="{value:.6g}"' if text else ' data-v="-1"'
    return f'<td class="{css}"{sort}>{text}</td>'


def ranked_table(rows, ranked, sage):
    subsets = list(dict.fromkeys(name for row in rows for name in row.get("subsets") or {}))
    head = (
        '<tr><th scope="col" data-sort class="n">Place</th><th scope="col" data-sort>Method</th>'
        '<th scope="col" data-sort class="n">K</th>'
        + "".join(f'<th scope="col" data-sort class="n">{name}</th>' for name in ("WGA", "Avg", "Gap", "HM"))
        + "".join(f'<th scope="col" data-sort class="n">{escape(name)}</th>' for name in subsets)
        + '<th scope="col" data-sort>Worst group</th></tr>'
    )
    lines = []
    for entry in ranked:
        row = entry["row"]
        css = "sage" if sage is not None and row is sage["row"] else ("best" if entry is ranked[0] else "")
        place = f"{entry['place']}{'=' if entry['tied'] > 1 else ''}"
        lines.append(
            f'<tr class="{css}"><td class="n" data-v="{entry["place"]}">{place}</td>'
            f"<td>{escape(method_label(row, rows))}</td>{_cell(row['k'])}"
            + "".join(_cell(row[name]) for name in ("WGA", "Avg", "Gap", "HM"))
            + "".join(_cell((row.get("subsets") or {}).get(name)) for name in subsets)
            + f"<td>{escape(str(row['worst_group']))}</td></tr>"
        )
    return (
        '<input class="filter" type="search" placeholder="filter methods" aria-label="filter methods" '
        'data-table="ranked" hidden><div class="scroll"><table id="ranked" class="sortable">'
        f"<thead>{head}</thead><tbody>{''.join(lines)}</tbody></table></div>"
        "<p>Place: competition ranking by WGA (= marks a tie); rows that tie are ordered by Avg. "
        "Click a column header to sort (with JavaScript).</p>"
    )


def groups_table(rows, ranked):
    counts = next((row.get("group_counts") for row in rows if row.get("group_counts")), {})
    names = list(rows[0]["groups"])
    head = '<tr><th scope="col" data-sort class="n">Place</th><th scope="col" data-sort>Method</th>' + "".join(
        f'<th scope="col" data-sort class="n">{escape(str(name))}'
        + (f"<br>n={counts[name]}" if name in counts else "")
        + "</th>"
        for name in names
    )
    lines = []
    for entry in ranked:
        row = entry["row"]
        cells = []
        for name in names:
            value = row["groups"][name]
            worst = name == row["worst_group"]
            cell = _cell(value, "n worst" if worst else "n")
            cells.append(cell.replace(">", ' title="worst group">', 1) if worst else cell)
        lines.append(
            f'<tr><td class="n" data-v="{entry["place"]}">{entry["place"]}</td>'
            f"<td>{escape(method_label(row, rows))}</td>{''.join(cells)}</tr>"
        )
    return (
        '<input class="filter" type="search" placeholder="filter methods" aria-label="filter methods" '
        'data-table="groups" hidden><div class="scroll"><table id="groups" class="sortable">'
        f"<thead>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></div>"
        "<p>Accuracy (%) of every group; each row's worst group is shaded red and titled "
        "&quot;worst group&quot;.</p>"
    )


def templates_section(rows):
    template_rows = [row for row in rows if row.get("template") is not None]
    parts = []
    if template_rows:
        from ._html_plots import templates_svg

        head = "<tr>" + "".join(
            f'<th scope="col" data-sort{" class=n" if name in ("#", "WGA", "Avg") else ""}>{name}</th>'
            for name in ("#", "Template", "Source", "WGA", "Avg")
        )
        lines = "".join(
            f'<tr><td class="n" data-v="{row["template"]}">{row["template"]}</td>'
            f"<td>{escape(str(row.get('template_text') or ''))}</td><td>{escape(str(row.get('source') or ''))}</td>"
            f"{_cell(row['WGA'])}{_cell(row['Avg'])}</tr>"
            for row in template_rows
        )
        parts.append(
            "<p>Each template alone (the leakage view): a template whose WGA is far below the others "
            "carries the spurious attribute.</p>"
            + templates_svg(rows)
            + f'<table class="sortable"><thead>{head}</tr></thead><tbody>{lines}</tbody></table>'
        )
    shared = [row for row in rows if row.get("selections")]
    if shared:
        sources = list(dict.fromkeys(name for row in shared for entry in row["selections"] for name in entry["shares"]))
        head = "<tr><th scope=col>Method</th><th scope=col>Images</th><th scope=col class=n>n</th>" + "".join(
            f"<th scope=col class=n>{escape(str(name))}</th>" for name in sources
        )
        lines = "".join(
            f"<tr><td>{escape(method_label(row, rows))}</td><td>{escape(str(entry['subset']))}</td>"
            f"<td class=n>{entry['n_images']}</td>"
            + "".join(f"<td class=n>{number(entry['shares'].get(name))}</td>" for name in sources)
            + "</tr>"
            for row in shared
            for entry in row["selections"]
        )
        parts.append(
            "<h3>Selection shares by subset</h3><p>Percent of the chosen templates from each source, per subset "
            f"of the images (for K = 1, percent of the images).</p><table><thead>{head}</tr></thead>"
            f"<tbody>{lines}</tbody></table>"
        )
    return "".join(parts) or "<p>No single-template rows or selection shares were computed in this evaluation.</p>"
