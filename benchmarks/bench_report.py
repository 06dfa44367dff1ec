"""What the HTML report costs: page size and build time, as ratios to the evaluation without it.

Two evaluations, each timed in this process, alternating the two variants ``--repeats``
times:

- **demo**: the demo's own comparison (594 test images, 51 rows: every template alone,
  every selection mode at K = 1, 3, 5, 10, 20, the debiasing rows), rerun on an
  existing ``skclip-sage demo`` output folder (``--demo``; the trained model and the
  embedding cache are reused, so nothing is trained or embedded). Baseline: the demo
  rerun with ``plot=False`` (no results.png, no report.html, no per-image answers);
  the report: :func:`build_report_html` on the rows of a rerun with
  ``keep_predictions`` (timed alone), plus what keeping the per-image answers adds to
  the comparison (the rows' ``seconds`` summed, with against without). A second line
  takes the comparison alone (the rows' ``seconds`` summed) as the baseline. The
  first round's rerun reads the embeddings from disk, later ones from memory.
- **synthetic**: ``--n`` (20,000) images of the numeric simulator (its ``confidently_wrong``
  regime, where SAGE fails images, so the failure caps are reached) with 20 templates,
  compared over ensemble, SAGE, random and text at K = 1, 3, 5, 10 and every template
  alone (33 rows); each image is a 32 x 32 array of RGB noise in memory for the thumbnails
  (noise compresses worst, so the page is as large as the caps allow).
  Baseline: :func:`compare_methods`; the report: the same with
  ``keep_predictions=True`` plus :func:`build_report_html`.

Printed: the machine, the load (``os.getloadavg``), the threads, then per evaluation
the page's size, the baseline's and the report's seconds (lowest-highest over the
repeats) and the ratio report / baseline (range over the repeats, each repeat's
report divided by the baseline of the same round). Nothing is asserted.

Run ``python benchmarks/bench_report.py --demo results`` after ``skclip-sage demo
--output results`` (``--demo`` left out: the synthetic evaluation only).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _range(values, digits=2):
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def synthetic(n, repeats):
    from skclip_sage.comparison import (
        build_report_html,
        compare_methods,
        selection_methods,
        single_template_methods,
    )
    from skclip_sage.synthetic import make_spurious_benchmark

    simulation = make_spurious_benchmark("confidently_wrong", n, n_templates=20, seed=0)
    shared = {"class_names": simulation.class_names, "templates": simulation.templates, "device": "cpu"}
    methods = single_template_methods(simulation.encoder, **shared)
    methods += selection_methods(
        simulation.encoder,
        modes=("ensemble", "sage", "random", "text"),
        k_values=(1, 3, 5, 10),
        random_state=0,
        **shared,
    )
    rng = np.random.default_rng(0)
    # Each image a small RGB array: the thumbnails are encoded from these.
    images = {
        "sources": [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(n)],
        "labels": simulation.target,
        "groups": np.asarray(simulation.group_names, dtype=object)[simulation.groups],
        "label_names": dict(enumerate(simulation.class_names)),
    }
    arguments = (methods, simulation.data, simulation.target)
    options = {"groups": simulation.groups, "group_names": simulation.group_names}
    baseline, report, size = [], [], None
    for _ in range(repeats):
        started = time.perf_counter()
        compare_methods(*arguments, **options)
        baseline.append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = compare_methods(*arguments, keep_predictions=True, **options)
        page = build_report_html(rows, title=f"simulated, {n} images", model="simulated", images=images)
        report.append(time.perf_counter() - started)
        size = len(page.encode("utf-8"))
    return len(methods), size, baseline, report


def demo(folder, repeats):
    from skclip_sage.comparison import build_report_html
    from skclip_sage.demo import DIGIT_NAMES, run_demo

    baseline, comparison, report, size, n_rows, n_images = [], [], [], None, None, None
    for _ in range(repeats):
        started = time.perf_counter()
        plain = run_demo(folder, plot=False, verbose=False)
        baseline.append(time.perf_counter() - started)
        comparison.append(sum(row["seconds"] for row in plain.rows))
        kept = run_demo(folder, plot=True, verbose=False)
        digits = kept.benchmark
        test = digits.split == "test"
        started = time.perf_counter()
        page = build_report_html(
            kept.rows,
            title="coloured digits",
            model="tiny CLIP",
            images={
                "sources": list(digits.data[test]),
                "labels": digits.target[test],
                "groups": np.asarray(digits.group_names, dtype=object)[digits.groups[test]],
                "label_names": dict(enumerate(DIGIT_NAMES)),
            },
        )
        page_seconds = time.perf_counter() - started
        # What keeping the per-image answers added to the comparison itself.
        keeping = sum(row["seconds"] for row in kept.rows) - sum(row["seconds"] for row in plain.rows)
        report.append(page_seconds + max(0.0, keeping))
        size = len(page.encode("utf-8"))
        n_rows, n_images = len(kept.rows), kept.rows[0]["n_images"]
    # Leave the folder as the demo writes it, results.png and report.html included.
    return n_rows, n_images, size, baseline, comparison, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", metavar="FOLDER", help="an existing `skclip-sage demo --output FOLDER`")
    parser.add_argument("--n", type=int, default=20_000, help="synthetic images (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs; load before: {os.getloadavg()[0]:.2f}")
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; repeats: {args.repeats}")
    print("| evaluation | rows | images | page (bytes) | without report (s) | with report (s) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    if args.demo:
        n_rows, n_images, size, baseline, comparison, report = demo(args.demo, args.repeats)
        ratios = [with_page / without for with_page, without in zip(report, baseline)]
        print(
            f"| demo rerun (model and embeddings reused) | {n_rows} | {n_images} | {size:,} | "
            f"{_range(baseline)} | +{_range(report)} (page + kept answers) | +{_range(ratios)} |"
        )
        ratios = [with_page / without for with_page, without in zip(report, comparison)]
        print(
            f"| demo: its comparison alone (51 rows fitted and scored) | {n_rows} | {n_images} | {size:,} | "
            f"{_range(comparison)} | +{_range(report)} | +{_range(ratios)} |"
        )
    n_rows, size, baseline, report = synthetic(args.n, args.repeats)
    ratios = [with_page / without for with_page, without in zip(report, baseline)]
    print(f"| synthetic | {n_rows} | {args.n} | {size:,} | {_range(baseline)} | {_range(report)} | {_range(ratios)} |")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
