"""Rank comparison rows by worst-group accuracy: places with ties, SAGE's place, what one image is worth.

Shared by ``results.md`` and the HTML report, so both state the same ranking. WGA is a
minimum over groups, so it moves in steps of one image of the worst group; two rows a
step apart differ by one image, and rows with equal WGA share a place (competition
ranking, "1, 2, 2, 4"), ordered among themselves by Avg.
"""

from __future__ import annotations

import math

__all__ = ["image_worth", "method_label", "rank_rows", "ranking_points", "sage_place"]

# WGA values are exact fractions of group sizes; two rows whose WGA differs by less than this are tied.
TIE_TOLERANCE = 1e-6


def method_label(row, rows=()):
    """A row's name as a reader says it: ``"sage K=3"``, ``"single #14 from B"``, ``"roboshot"``.

    The K is named when ``rows`` hold the same mode at another K, or the mode is
    ``single`` with no template of its own (template 0 of the pool).

    Parameters
    ----------
    row : dict
        A comparison row (``mode``, ``k``; ``template`` and ``source`` for a single template).
    rows : sequence of dict, default=()
        Every row of the comparison, to tell whether the K must be named.

    Returns
    -------
    label : str

    Examples
    --------
    >>> rows = [{"mode": "sage", "k": 1}, {"mode": "sage", "k": 3}, {"mode": "roboshot", "k": 1}]
    >>> [method_label(row, rows) for row in rows]
    ['sage K=1', 'sage K=3', 'roboshot']
    """
    if row.get("template") is not None:
        source = f" from {row['source']}" if row.get("source") else ""
        return f"single #{row['template']}{source}"
    several = sum(other["mode"] == row["mode"] and other.get("template") is None for other in rows) > 1
    return f"{row['mode']} K={row['k']}" if several else row["mode"]


def _finite(value):
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def rank_rows(rows):
    """Rows ordered by WGA (best first, ties by Avg), each with its competition-ranking place.

    Parameters
    ----------
    rows : list of dict
        Comparison rows with ``WGA`` and ``Avg`` in percent.

    Returns
    -------
    ranked : list of dict
        ``{"place": int, "tied": int, "row": dict}`` per row, best first; ``tied``
        counts the rows sharing that place (1 when alone). A row with no WGA
        (NaN) comes last.

    Examples
    --------
    >>> rows = [{"mode": "a", "k": 1, "WGA": 50.0, "Avg": 90.0}, {"mode": "b", "k": 1, "WGA": 60.0, "Avg": 80.0},
    ...         {"mode": "c", "k": 1, "WGA": 50.0, "Avg": 95.0}]
    >>> [(entry["place"], entry["tied"], entry["row"]["mode"]) for entry in rank_rows(rows)]
    [(1, 1, 'b'), (2, 2, 'c'), (2, 2, 'a')]
    """

    def key(row):
        wga = row["WGA"] if _finite(row["WGA"]) else -math.inf
        avg = row["Avg"] if _finite(row["Avg"]) else -math.inf
        return (-wga, -avg)

    ordered = sorted(rows, key=key)
    ranked = []
    for position, row in enumerate(ordered):
        if ranked and abs(_wga(row) - _wga(ranked[-1]["row"])) <= TIE_TOLERANCE:
            place = ranked[-1]["place"]
        else:
            place = position + 1
        ranked.append({"place": place, "tied": 1, "row": row})
    for entry in ranked:
        entry["tied"] = sum(other["place"] == entry["place"] for other in ranked)
    return ranked


def _wga(row):
    return row["WGA"] if _finite(row["WGA"]) else -math.inf


def sage_place(ranked):
    """The ranked entry of SAGE at its smallest K, or None when no SAGE row was run.

    Parameters
    ----------
    ranked : list of dict
        The entries of :func:`rank_rows`.

    Returns
    -------
    entry : dict or None
        ``{"place", "tied", "row"}`` of SAGE's row.

    Examples
    --------
    >>> rows = [{"mode": "sage", "k": 3, "WGA": 70.0, "Avg": 90.0}, {"mode": "sage", "k": 1, "WGA": 60.0, "Avg": 90.0}]
    >>> entry = sage_place(rank_rows(rows))
    >>> entry["place"], entry["row"]["k"]
    (2, 1)
    """
    sage = [entry for entry in ranked if entry["row"]["mode"] == "sage"]
    return min(sage, key=lambda entry: entry["row"]["k"]) if sage else None


def image_worth(rows):
    """What one image is worth in the worst group of the best row and in the smallest group.

    Parameters
    ----------
    rows : list of dict
        Comparison rows with ``group_counts`` (``{group: images}``).

    Returns
    -------
    worth : dict or None
        ``{"worst_group", "worst_count", "worst_points", "smallest_group",
        "smallest_count", "smallest_points"}`` (points: percentage points of that
        group's accuracy one image moves), or None without group counts.

    Examples
    --------
    >>> rows = [{"mode": "sage", "k": 1, "WGA": 62.1, "Avg": 91.0, "worst_group": "a",
    ...          "group_counts": {"a": 29, "b": 30}}]
    >>> worth = image_worth(rows)
    >>> worth["worst_count"], round(worth["worst_points"], 1)
    (29, 3.4)
    """
    counts = next((row.get("group_counts") for row in rows if row.get("group_counts")), None)
    if not counts:
        return None
    present = {name: count for name, count in counts.items() if count > 0}
    if not present:
        return None
    best = rank_rows(rows)[0]["row"]
    worst = best.get("worst_group")
    worst_count = present.get(worst)
    smallest = min(present, key=present.__getitem__)
    return {
        "worst_group": worst,
        "worst_count": worst_count,
        "worst_points": None if not worst_count else 100.0 / worst_count,
        "smallest_group": smallest,
        "smallest_count": present[smallest],
        "smallest_points": 100.0 / present[smallest],
    }


def _number(value):
    return "n/a" if not _finite(value) else f"{value:.1f}"


def ranking_points(rows):
    """The ranking in sentences: who is first, SAGE's place, the ties, what one image is worth.

    Parameters
    ----------
    rows : list of dict
        Comparison rows.

    Returns
    -------
    points : list of str
        Plain-text sentences (no markup), shared by ``results.md`` and the HTML report.

    Examples
    --------
    >>> rows = [{"mode": "sage", "k": 1, "WGA": 50.0, "Avg": 90.0, "worst_group": "a", "template": None,
    ...          "group_counts": {"a": 20, "b": 40}},
    ...         {"mode": "ensemble", "k": 4, "WGA": 60.0, "Avg": 80.0, "worst_group": "a", "template": None}]
    >>> print(" ".join(ranking_points(rows)))  # doctest: +NORMALIZE_WHITESPACE
    ensemble ranks first by WGA: 60.0 (Avg 80.0). sage is placed 2 of 2 (WGA 50.0, Avg 90.0): 1 row(s)
    have a higher WGA, 0 a lower one. One image is worth 5.0 points of accuracy in the worst group of the
    best row (a, 1 of 20) and 5.0 in the smallest group (a, 20 images), so WGA moves in steps of that size.
    """
    ranked = rank_rows(rows)
    first = ranked[0]
    leaders = [entry for entry in ranked if entry["place"] == 1]
    points = []
    text = f"{method_label(first['row'], rows)} ranks first by WGA: {_number(first['row']['WGA'])} (Avg {_number(first['row']['Avg'])})"
    if len(leaders) > 1:
        others = ", ".join(method_label(entry["row"], rows) for entry in leaders[1:])
        text += f", tied with {len(leaders) - 1} other row(s): {others}"
    points.append(text + ".")
    sage = sage_place(ranked)
    if sage is not None and sage is not first:
        above = sum(_wga(entry["row"]) > _wga(sage["row"]) + TIE_TOLERANCE for entry in ranked)
        below = sum(_wga(entry["row"]) < _wga(sage["row"]) - TIE_TOLERANCE for entry in ranked)
        tied = f"; tied with {sage['tied'] - 1} other row(s)" if sage["tied"] > 1 else ""
        points.append(
            f"{method_label(sage['row'], rows)} is placed {sage['place']} of {len(ranked)} (WGA "
            f"{_number(sage['row']['WGA'])}, Avg {_number(sage['row']['Avg'])}{tied}): {above} row(s) have a "
            f"higher WGA, {below} a lower one."
        )
    shared = {}
    for entry in ranked:
        if entry["tied"] > 1:
            shared[entry["place"]] = entry["tied"]
    if shared:
        listed = ", ".join(f"{place} ({count} rows)" for place, count in shared.items())
        points.append(f"Shared places (rows with equal WGA): {listed}.")
    worth = image_worth(rows)
    if worth is not None:
        parts = []
        if worth["worst_points"] is not None:
            parts.append(
                f"{_number(worth['worst_points'])} points of accuracy in the worst group of the best row "
                f"({worth['worst_group']}, 1 of {worth['worst_count']})"
            )
        smallest = f"{_number(worth['smallest_points'])}" + ("" if parts else " points of accuracy")
        parts.append(f"{smallest} in the smallest group ({worth['smallest_group']}, {worth['smallest_count']} images)")
        points.append("One image is worth " + " and ".join(parts) + ", so WGA moves in steps of that size.")
    return points
