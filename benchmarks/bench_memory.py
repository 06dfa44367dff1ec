"""Working memory of every selection mode as the number of images grows (tracemalloc).

``python benchmarks/bench_memory.py [--classes 2 100] [--n 20000 80000]`` scores random unit
embeddings with ``skclip_sage.selection.score_embeddings`` under every mode and prints, per
mode, the peak of NumPy's traced allocations beyond the ``(n, C)`` float32 scores and the
``(n, K)`` template indices it returns, in MiB and in ``(n, C)`` float32 arrays. Working
memory that is flat in ``n`` shows the same MiB at every ``n``; memory that grows with
``n`` shows the same count of ``(n, C)`` arrays. Deterministic: no timings.
"""

from __future__ import annotations

import argparse
import platform
import tracemalloc

import numpy as np


def unit_rows(rng, shape):
    values = rng.normal(size=shape).astype(np.float32)
    return values / np.linalg.norm(values, axis=-1, keepdims=True)


def peak_beyond_output(function) -> tuple[int, int]:
    """(peak traced bytes while ``function`` ran, bytes of what it returned)."""
    tracemalloc.start()
    try:
        scores, selected = function()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    returned = scores.nbytes + (selected.nbytes if selected.base is None else 0)
    return peak, returned


def main() -> None:
    from skclip_sage.selection import SELECTION_METHODS, score_embeddings, zpe_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 100])
    parser.add_argument("--n", type=int, nargs="+", default=[20_000, 80_000])
    parser.add_argument("--templates", type=int, default=80)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=None, help="default: every mode")
    args = parser.parse_args()
    print(f"Machine: python {platform.python_version()}, numpy {np.__version__}; tracemalloc peaks, no timings")
    rng = np.random.default_rng(0)
    modes = args.modes or list(SELECTION_METHODS)
    print()
    print("| C | n | mode | peak beyond output (MiB) | in (n, C) float32 arrays |")
    print("|---:|---:|---|---:|---:|")
    for n_classes in args.classes:
        bank = unit_rows(rng, (args.templates, n_classes, args.dim))
        weights = zpe_weights(np.linspace(0.0, 1.0, args.templates), np.arange(args.templates))
        options = {
            "autoclip_beta": 0.85,
            "perception_temperature": 1.0,
            "logit_scale": 100.0,
            "template_weights": weights,
        }
        for n in args.n:
            images = unit_rows(rng, (n, args.dim))
            one_output = n * n_classes * 4
            for mode in modes:
                # A first small call imports what the mode imports lazily (torch, for
                # AutoCLIP's released-arithmetic checks), which is not working memory.
                score_embeddings(images[:200], bank, selection=mode, k=args.k, random_state=0, options=options)
                peak, returned = peak_beyond_output(
                    lambda mode=mode: score_embeddings(
                        images, bank, selection=mode, k=args.k, random_state=0, options=options
                    )
                )
                extra = peak - returned
                print(f"| {n_classes} | {n:,} | {mode} | {extra / 2**20:,.1f} | {extra / one_output:.2f} |", flush=True)


if __name__ == "__main__":
    main()
