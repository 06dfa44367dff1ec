"""Draw ``docs/_static/sage_selection.svg``: SAGE's per-image template selection.

The numbers in the figure are computed, not typed: a three-dimensional toy "CLIP"
(axes: species, background, "a bird") whose five templates mix the species and the
background in different proportions, and one image of a waterbird photographed on
land. ``docs/user_guide/method.rst`` runs the same toy as a tested example, and
``tests/test_docs.py`` checks that the committed SVG equals this script's output.

Run from the repository root after changing the toy or the drawing::

    python docs/_figures/selection_figure.py
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np

OUTPUT = Path(__file__).resolve().parent.parent / "_static" / "sage_selection.svg"

CLASS_NAMES = ["landbird", "waterbird"]
TEMPLATES = [
    "a photo of a {}.",
    "a bad photo of a {}.",
    "a photo of a {} in its habitat.",
    "a close-up photo of a {}.",
    "a drawing of a {}.",
]
# How much each template's class texts say about the species and leak the background.
SPECIES = [0.25, 0.20, 0.15, 0.80, 0.35]
BACKGROUND = [0.50, 0.40, 0.65, 0.15, 0.35]
# A waterbird (species +) photographed on land (background -).
IMAGE = [0.6, -0.5, 1.0]


def toy_text_bank() -> np.ndarray:
    """``U[t, c]``: landbird texts point to (-species, -background), waterbird to (+, +)."""
    bank = np.array([[[-a, -b, 1.0], [a, b, 1.0]] for a, b in zip(SPECIES, BACKGROUND)])
    return bank / np.linalg.norm(bank, axis=-1, keepdims=True)


def selection_numbers():
    """Similarities, separations and the three predictions shown in the figure."""
    from skclip_sage import SageZeroShotClassifier

    bank = toy_text_bank()

    class ToyEncoder:
        identity, embedding_dim, logit_scale = "docs-toy-birds", 3, 100.0
        prompts = {t.format(c): bank[i, j] for i, t in enumerate(TEMPLATES) for j, c in enumerate(CLASS_NAMES)}

        def encode_text(self, texts):
            return np.array([self.prompts[text] for text in texts])

    image = np.array([IMAGE]) / np.linalg.norm(IMAGE)
    y = np.array(CLASS_NAMES)
    results = {}
    for selection in ("sage", "single", "ensemble"):
        clf = SageZeroShotClassifier(ToyEncoder(), templates=TEMPLATES, selection=selection, k=1)
        clf.fit(np.eye(2, 3), y)
        results[selection] = (clf.class_similarities(image)[0], clf.predict(image)[0], clf.selected_templates(image)[0])
    similarities = np.einsum("tcd,d->tc", clf.text_embeddings_, image[0])
    return similarities, similarities.max(axis=1) - similarities.min(axis=1), results


def render() -> str:
    similarities, separation, results = selection_numbers()
    chosen = int(results["sage"][2][0])
    width, row_height, top = 900, 34, 78
    height = top + row_height * len(TEMPLATES) + 150
    left, land_x, water_x, bar_x, bar_scale = 180, 530, 610, 665, 300
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="14" '
        'role="img" aria-labelledby="title desc">',
        '<title id="title">SAGE selects, for each image, the template that separates the classes most</title>',
        '<desc id="desc">For one image of a waterbird on land: the similarity of the image to each '
        "template's landbird and waterbird text, each template's separation (highest minus lowest), "
        "and the predictions of SAGE, a single template and the ensemble.</desc>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        # The image: land below, sky above, a blue bird.
        '<rect x="20" y="78" width="130" height="60" fill="#bfe3f5"/>',
        '<rect x="20" y="138" width="130" height="50" fill="#b9925a"/>',
        '<ellipse cx="85" cy="132" rx="30" ry="14" fill="#2f6fb0"/>',
        '<circle cx="113" cy="120" r="8" fill="#2f6fb0"/>',
        '<polygon points="120,119 134,122 120,124" fill="#e0a030"/>',
        '<text x="85" y="210" text-anchor="middle">image v:</text>',
        '<text x="85" y="228" text-anchor="middle">a waterbird</text>',
        '<text x="85" y="246" text-anchor="middle">on land</text>',
        # Column headers.
        f'<text x="{left}" y="60" font-weight="bold">template t</text>',
        f'<text x="{land_x}" y="42" font-weight="bold" text-anchor="middle">s[t, land-</text>',
        f'<text x="{land_x}" y="60" font-weight="bold" text-anchor="middle">bird]</text>',
        f'<text x="{water_x}" y="42" font-weight="bold" text-anchor="middle">s[t, water-</text>',
        f'<text x="{water_x}" y="60" font-weight="bold" text-anchor="middle">bird]</text>',
        f'<text x="{bar_x}" y="42" font-weight="bold">sep[t] = max − min</text>',
        f'<text x="{bar_x}" y="60">keep the top K = 1</text>',
    ]
    for t, template in enumerate(TEMPLATES):
        y = top + t * row_height
        if t == chosen:
            parts.append(
                f'<rect x="{left - 10}" y="{y - 2}" width="{width - left}" height="{row_height - 4}" fill="#fff2b3" stroke="#d9a400"/>'
            )
        weight = ' font-weight="bold"' if t == chosen else ""
        text_y = y + 20
        parts.append(
            f'<text x="{left}" y="{text_y}" font-family="Menlo, Consolas, monospace" font-size="13"{weight}>'
            f"{t}  {escape(template)}</text>"
        )
        for column, x in ((0, land_x), (1, water_x)):
            parts.append(
                f'<text x="{x}" y="{text_y}" text-anchor="middle"{weight}>{similarities[t, column]:.2f}</text>'
            )
        bar = separation[t] * bar_scale
        color = "#d9a400" if t == chosen else "#9db4c8"
        parts.append(f'<rect x="{bar_x}" y="{y + 6}" width="{bar:.1f}" height="16" fill="{color}"/>')
        parts.append(f'<text x="{bar_x + bar + 6:.1f}" y="{text_y}"{weight}>{separation[t]:.2f}</text>')
    y = top + row_height * len(TEMPLATES) + 30
    sage_scores, sage_label, _ = results["sage"]
    single_scores, single_label, _ = results["single"]
    ensemble_scores, ensemble_label, _ = results["ensemble"]

    def verdict(label):
        return ("correct", "#1a7f37") if label == "waterbird" else ("wrong", "#c62828")

    lines = [
        (f"SAGE, K = 1 (template {chosen})", sage_scores, sage_label),
        ("single template 0", single_scores, single_label),
        (f"ensemble of all {len(TEMPLATES)} templates", ensemble_scores, ensemble_label),
    ]
    for i, (name, scores, label) in enumerate(lines):
        word, color = verdict(label)
        bold = ' font-weight="bold"' if i == 0 else ""
        parts.append(
            f'<text x="{left}" y="{y + i * 26}"{bold}>{escape(name)}: landbird {scores[0]:.3f}, '
            f'waterbird {scores[1]:.3f} → {label} <tspan fill="{color}" font-weight="bold">({word})</tspan></text>'
        )
    note_y = y + 3 * 26 + 6
    parts.append(
        f'<text x="{left}" y="{note_y}" font-size="12" fill="#555555">'
        "prototype u_c = normalize(mean of U[t, c] over the kept templates)</text>"
    )
    parts.append(
        f'<text x="{left}" y="{note_y + 18}" font-size="12" fill="#555555">'
        "score = &lt;v, u_c&gt;, prediction = argmax over the classes</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
