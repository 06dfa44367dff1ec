"""Cost of tying equal text rows in the similarity product (issue 22: ties on torch).

``python benchmarks/bench_similarity_ties.py [--repeats 5]`` times, in one process and
alternating, the similarity product of a chunk of images against a class-major text bank:

- *plain*: ``images @ flat_bank.T`` reshaped, what ``template_similarities`` did before;
- *tied*: ``template_similarities`` now, with ``twin_rows`` computed once per call of the
  scoring loop (as ``score_in_chunks`` and ``aggregate_in_chunks`` pass it), so a chunk
  pays only the column copies of its twins;
- *tied, twins per chunk*: the same, finding the twins on every call (``twins=None``).

For NumPy and torch (CPU), float32, T = 80, D = 512, C = 2 and 100, on a bank without
twins and one whose last class copies class 1. Prints each variant's time over *plain*
per repeat, as the range over repeats and its median.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def bank_of(rng, n_classes, n_templates, width, twin):
    bank = rng.normal(size=(n_templates, n_classes, width)).astype(np.float32)
    if twin:
        bank[:, -1] = bank[:, 1]
    return bank / np.linalg.norm(bank, axis=2, keepdims=True)


def main() -> None:
    import torch

    from skclip_sage.selection._chunks import class_major, template_similarities, twin_rows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--templates", type=int, default=80)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    print(
        f"Machine: python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, torch {torch.get_num_threads()}; "
        f"load {os.getloadavg()[0]:.2f}; {args.repeats} repeats"
    )
    print()
    print("| backend | C | chunk | twins | plain (ms, median) | tied / plain | tied, twins per chunk / plain |")
    print("|---|---:|---:|---|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for backend in ("numpy", "torch"):
        for n_classes, n_images in ((2, 20_000), (100, 1_000)):
            for twin in (False, True):
                bank = bank_of(rng, n_classes, args.templates, args.dim, twin)
                images = rng.normal(size=(n_images, args.dim)).astype(np.float32)
                if backend == "torch":
                    bank, images = torch.from_numpy(bank), torch.from_numpy(images)
                flat = class_major(bank)
                twins = twin_rows(flat)

                def plain():
                    by_class = (images @ flat.T).reshape(-1, n_classes, args.templates)
                    return by_class.transpose(1, 2) if backend == "torch" else by_class.transpose(0, 2, 1)

                variants = {
                    "plain": plain,
                    "tied": lambda: template_similarities(images, bank, flat_bank=flat, twins=twins),
                    "per chunk": lambda: template_similarities(images, bank, flat_bank=flat),
                }
                times = {name: [] for name in variants}
                for _ in range(args.repeats):
                    for name, function in variants.items():
                        started = time.perf_counter()
                        function()
                        times[name].append(time.perf_counter() - started)
                base = np.array(times["plain"])
                ratios = {name: np.array(times[name]) / base for name in ("tied", "per chunk")}
                shown = {
                    name: f"{r.min():.2f}-{r.max():.2f}x (median {np.median(r):.2f}x)" for name, r in ratios.items()
                }
                print(
                    f"| {backend} | {n_classes} | {n_images:,} | {'class 1 twice' if twin else 'none'} | "
                    f"{1e3 * np.median(base):.1f} | {shown['tied']} | {shown['per chunk']} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
