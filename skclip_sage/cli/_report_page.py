"""``evaluate --report FILE.html``: the evaluate runs as comparison rows, written as the HTML report.

The page is :func:`skclip_sage.comparison.build_report_html`'s, the same one the demo
writes; this module only turns each run record (selection, K, summary, groups) and its
per-image answers into a comparison row, and says what was run.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shlex

import numpy as np

from ._errors import UsageError
from ._outputs import open_output

REPORT_EXTENSIONS = (".html", ".htm")


def check_report_path(path):
    """Fail before any work on ``--report`` with another extension, or without matplotlib for its plots."""
    if path is None:
        return
    if os.path.splitext(path)[1].lower() not in REPORT_EXTENSIONS:
        raise UsageError(f"--report {path!r} writes an HTML page; name it *.html.")
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError('--report draws its plots with matplotlib: pip install "skclip-sage[plot]".')


def per_image_answers(classifier, embeddings, probabilities, predictions, per_image):
    """One run's answer for every evaluated image, as ``compare_methods(keep_predictions=True)`` keeps it."""
    return {
        "predictions": np.asarray(predictions),
        "probabilities": np.asarray(probabilities, dtype=np.float32),
        "classes": np.asarray(classifier.classes_),
        "templates": list(classifier.templates_),
        "selected": np.asarray(classifier.selected_templates(embeddings)) if per_image else None,
    }


def report_row(record, answers, seconds):
    """A comparison row (see :func:`skclip_sage.comparison.compare_methods`) from an evaluate run record."""
    groups = {group["name"]: math.nan if group["accuracy"] is None else group["accuracy"] for group in record["groups"]}
    measured = {name: value for name, value in groups.items() if not math.isnan(value)}
    summary = record["summary"]
    return {
        "mode": record["selection"],
        "k": record["k"],
        "template": None,
        "template_text": None,
        "source": None,
        "n_templates": len(answers["templates"]),
        "n_images": len(answers["predictions"]),
        "fit_on": "evaluation",
        "description": "",
        **{name: summary[name] for name in ("Avg", "WGA", "Gap", "HM")},
        "worst_group": min(measured, key=measured.__getitem__) if measured else "",
        "groups": groups,
        "group_counts": {group["name"]: group["count"] for group in record["groups"]},
        "subsets": {},
        "selections": None,
        "per_image": answers,
        "seconds": seconds,
    }


def write_report_page(path, rows, result, images, args, templates, timings):
    """Write the page for ``evaluate``'s ``result`` to ``path`` (atomically, as every output)."""
    from ..comparison import build_report_html

    split = f" ({result['split']} split)" if result.get("split") else ""
    failed = f", {result['n_failed']} gave no embedding and left out" if result.get("n_failed") else ""
    run = {
        "dataset": f"{result['dataset']}{split}: {result['root']} ({result['n_images']} images{failed})",
        "command": "skclip-sage " + shlex.join(getattr(args, "argv", None) or ["evaluate", args.dataset, args.root]),
        "average (Avg)": result["average"],
        "templates option": str(args.templates),
        "seed": str(result["seed"]),
        "templates": list(templates),
        "timings": timings,
    }
    page = build_report_html(
        rows,
        title=f"{result['dataset']}{split}",
        model=str(args.model),
        pretrained=None if args.pretrained in (None, "none") else str(args.pretrained),
        images=images,
        run=run,
    )
    with open_output(path) as stream:
        stream.write(page)
