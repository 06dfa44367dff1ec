"""Working memory of every selection mode as the number of images grows (tracemalloc).

``python benchmarks/bench_memory.py [--classes 2 100] [--n 20000 80000]`` scores random unit
embeddings with ``skclip_sage.selection.score_embeddings`` under every mode and prints, per
mode, the peak of NumPy's traced allocations beyond the ``(n, C)`` float32 scores and the
``(n, K)`` template indices it returns, in MiB and in ``(n, C)`` float32 arrays. Working
memory that is flat in ``n`` shows the same MiB at every ``n``; memory that grows with
``n`` shows the same count of ``(n, C)`` arrays. Deterministic: no timings.

``--estimator`` measures ``SageZeroShotClassifier.predict_proba`` (a toy encoder with random
unit text embeddings) the same way, beyond its ``(n, C)`` float64 probabilities.
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


class RandomTextEncoder:
    """Random unit text embeddings, one per distinct prompt (a fixed seed per text)."""

    identity, logit_scale = "bench-memory-random", 100.0

    def __init__(self, dim):
        self.embedding_dim = dim

    def encode_text(self, texts):
        rows = [np.random.default_rng(list(text.encode())).normal(size=self.embedding_dim) for text in texts]
        return np.asarray(rows, dtype=np.float32)


def estimator_peaks(args, rng, modes) -> None:
    """Peak beyond the float64 probabilities while ``predict_proba`` runs, per mode."""
    from skclip_sage import SageZeroShotClassifier

    print()
    print("| C | n | mode | predict_proba peak beyond output (MiB) | in (n, C) float32 arrays |")
    print("|---:|---:|---|---:|---:|")
    encoder = RandomTextEncoder(args.dim)
    templates = [f"template {index} of a {{}}." for index in range(args.templates)]
    for n_classes in args.classes:
        names = [f"class {index}" for index in range(n_classes)]
        for n in args.n:
            images = unit_rows(rng, (n, args.dim))
            one_output = n * n_classes * 4
            for mode in modes:
                clf = SageZeroShotClassifier(
                    encoder, templates=templates, class_names=names, selection=mode, k=args.k, random_state=0
                ).fit(images[:200])
                clf.predict_proba(images[:200])  # lazy imports are not working memory
                tracemalloc.start()
                try:
                    probabilities = clf.predict_proba(images)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                extra = peak - probabilities.nbytes
                print(f"| {n_classes} | {n:,} | {mode} | {extra / 2**20:,.1f} | {extra / one_output:.2f} |", flush=True)


def main() -> None:
    from skclip_sage.selection import SELECTION_METHODS, score_embeddings, zpe_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 100])
    parser.add_argument("--n", type=int, nargs="+", default=[20_000, 80_000])
    parser.add_argument("--templates", type=int, default=80)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=None, help="default: every mode")
    parser.add_argument("--estimator", action="store_true", help="measure the classifier's predict_proba instead")
    args = parser.parse_args()
    print(f"Machine: python {platform.python_version()}, numpy {np.__version__}; tracemalloc peaks, no timings")
    rng = np.random.default_rng(0)
    modes = args.modes or list(SELECTION_METHODS)
    if args.estimator:
        estimator_peaks(args, rng, modes)
        return
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
