"""The HTML report's failures: the misclassified images of the worst groups, as thumbnails with answers.

The page shows one method's failures (SAGE at its smallest K when it ran, else the
best-ranked row that kept its per-image answers), in its worst groups, most
confidently wrong first, and beside each what the best row and the ensemble said.
The caps (per group and in all) bound the page whatever the number of images: a
thumbnail costs a few KB, so the defaults keep the images under about half a MB.
"""

from __future__ import annotations

from html import escape

import numpy as np

from ._ranking import method_label
from ._thumbnails import image_name, thumbnail_uri

__all__ = ["failures_section"]

N_WORST_GROUPS = 3


def _probability(per_image, position, label):
    """The probability the row gave ``label`` for image ``position``, or None."""
    if per_image.get("probabilities") is None:
        return None
    matches = np.flatnonzero(per_image["classes"] == label)
    return float(per_image["probabilities"][position, matches[0]]) if matches.size else None


def _answer(row, rows, position, true_label, name_of, with_templates):
    """One row's answer for one image as HTML: prediction, probabilities, the templates it chose."""
    per_image = row["per_image"]
    predicted = per_image["predictions"][position]
    right = predicted == true_label
    p_predicted = _probability(per_image, position, predicted)
    p_true = _probability(per_image, position, true_label)
    numbers = []
    if p_predicted is not None:
        numbers.append(f"p = {p_predicted:.2f}")
    if p_true is not None and not right:
        numbers.append(f"true class p = {p_true:.2f}")
    mark = "right" if right else "wrong"
    text = (
        f'<span class="{mark}">{"&#10003;" if right else "&#10007;"} {escape(method_label(row, rows))}: {escape(name_of(predicted))}'
        f"{' (' + '; '.join(numbers) + ')' if numbers else ''}</span>"
    )
    if with_templates and per_image.get("selected") is not None:
        chosen = per_image["selected"][position]
        texts = per_image["templates"]
        items = "".join(f"<li>#{int(index)}: {escape(str(texts[int(index)]))}</li>" for index in chosen)
        text += f'<div class="chosen">templates chosen for this image:<ul>{items}</ul></div>'
    return text


def failures_section(rows, ranked, images, *, max_per_group, max_total, thumbnail_size):
    """The failures section's HTML, or a paragraph saying why there is none.

    Parameters
    ----------
    rows : list of dict
        Comparison rows; those with ``per_image`` can show failures.
    ranked : list of dict
        ``rank_rows(rows)``.
    images : dict or None
        ``sources``, ``labels``, ``groups`` and optionally ``label_names`` (see
        :func:`build_report_html`).
    max_per_group, max_total : int
        Thumbnail caps.
    thumbnail_size : int
        Longest side of a thumbnail in pixels.

    Returns
    -------
    html : str
    """
    with_answers = [entry["row"] for entry in ranked if entry["row"].get("per_image") is not None]
    if images is None or not with_answers:
        return "<p>No per-image answers were kept for this evaluation, so no failures are shown.</p>"
    sage = [row for row in with_answers if row["mode"] == "sage"]
    focus = min(sage, key=lambda row: row["k"]) if sage else with_answers[0]
    others = [
        row for row in (with_answers[0], *(r for r in with_answers if r["mode"] == "ensemble")) if row is not focus
    ]
    others = list({id(row): row for row in others}.values())
    names = images.get("label_names") or {}

    def name_of(label):
        return str(names.get(label, names.get(str(label), label))) if hasattr(names, "get") else str(label)

    labels = np.asarray(images["labels"])
    groups = np.asarray(images["groups"]).astype(str)
    wrong = focus["per_image"]["predictions"] != labels
    measured = {name: value for name, value in focus["groups"].items() if value == value}
    worst = sorted(measured, key=measured.__getitem__)[:N_WORST_GROUPS]
    sections, shown = [], 0
    for group in worst:
        positions = np.flatnonzero((groups == group) & wrong)
        confidence = [
            _probability(focus["per_image"], index, focus["per_image"]["predictions"][index]) or 0.0
            for index in positions
        ]
        positions = positions[np.argsort(confidence, kind="stable")[::-1]]
        room = max(0, min(max_per_group, max_total - shown))
        chosen = positions[:room]
        shown += len(chosen)
        cards = []
        for index in chosen:
            source = images["sources"][index]
            name = str(images["names"][index]) if images.get("names") is not None else image_name(source, int(index))
            uri = thumbnail_uri(source, thumbnail_size)
            true_label = labels[index]
            alt = f"image {name}, true label {name_of(true_label)}"
            picture = (
                f'<img src="{uri}" alt="{escape(alt)}" width="{thumbnail_size}" height="{thumbnail_size}">'
                if uri
                else '<div class="missing">image could not be read</div>'
            )
            answers = [_answer(focus, rows, index, true_label, name_of, True)]
            answers += [_answer(row, rows, index, true_label, name_of, False) for row in others]
            cards.append(
                f'<figure class="failure">{picture}<figcaption><div class="name" title="{escape(name)}">'
                f"{escape(name)}</div><div>true: <b>{escape(name_of(true_label))}</b></div>"
                + "".join(f"<div>{answer}</div>" for answer in answers)
                + "</figcaption></figure>"
            )
        count = int(np.sum(groups == group))
        sections.append(
            f"<h3>{escape(group)}: {measured[group]:.1f} % of {count} images right; "
            f"{len(positions)} wrong, {len(chosen)} shown</h3>"
            + (f'<div class="failures">{"".join(cards)}</div>' if cards else "<p>No failure shown here.</p>")
        )
    return (
        f"<p>The misclassified images of the {len(worst)} worst groups of <b>{escape(method_label(focus, rows))}</b>, "
        f"most confidently wrong first, with the templates it chose for each image where it chooses per image, "
        f"and what {' and '.join(escape(method_label(row, rows)) for row in others) or 'no other row'} said "
        "(&#10003; right, &#10007; wrong). "
        f"At most {max_per_group} images per group and {max_total} in all are shown, as thumbnails of at most "
        f"{thumbnail_size} px, so the page stays small however many images were evaluated.</p>" + "".join(sections)
    )
