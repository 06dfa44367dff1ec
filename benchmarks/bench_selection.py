"""Time SAGE selection against the bare similarity product and the paper's formulation.

Three ways to score ``n`` image embeddings against a ``(T, C, D)`` text bank:

- **floor**: the similarity product ``X @ bank.reshape(T * C, D).T`` alone, which
  any method that looks at every (template, class) pair must at least pay;
- **ours**: :func:`skclip_sage.selection._sage.sage_scores` (selection, prototype scores,
  Gram-matrix norms, chunked over images);
- **paper**: the reference formulation of SPEC.md section 3, batches of 512 images
  that materialise a ``(B, T, C, D)`` tensor, then a Python loop over images that
  gathers each image's ``K x C x D`` text embeddings, averages and renormalises them.
  It is timed on a subset (``--paper-images``) and extrapolated linearly to ``n``;
  it is given the text bank, so the per-batch re-encoding of the prompts that the
  reference code also does is *not* counted (the real reference is slower still).

It also measures the peak memory of ``sage_scores`` at two sizes of ``n`` to show
that it does not grow with ``n`` beyond the ``(n, C)`` output, and what the estimator
adds on top of the scoring core: ``SageZeroShotClassifier.predict`` (input checks,
parameter re-validation, the one-pass row norms and finiteness check, scoring,
argmax) against ``sage_scores`` on the same input, beside the former pipeline
(``np.isfinite`` over ``X``, then ``np.linalg.norm`` and a normalised copy).

It also times SAGE's training-free relatives, each as a ratio to the bare similarity
product timed in the same rounds: the score average (WaffleCLIP's aggregation), AutoCLIP
(per-image weights, chunked), ZPE's prediction (a fixed linear head) and its fit-time
template scoring on the unlabelled images, and PerceptionCLIP (chunked, in log space).

Run ``python benchmarks/bench_selection.py`` (CPU, the issue's sizes) or, for a quick
look, ``python benchmarks/bench_selection.py --n 4000 --classes 2 --k 1 5``; on a GPU
machine add ``--device cuda`` (torch tensors on the device). Nothing is asserted:
the tables are printed.
"""

from __future__ import annotations

import argparse
import gc
import platform
import time
import tracemalloc

import numpy as np

from skclip_sage.selection._sage import CHUNK_BYTES, sage_scores

MIB = 2**20


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="images (default: 20000)")
    parser.add_argument("--dim", type=int, default=512, help="embedding width D (default: 512)")
    parser.add_argument("--templates", type=int, default=80, help="templates T (default: 80)")
    parser.add_argument("--classes", type=int, nargs="+", default=[2, 100], help="class counts C (default: 2 100)")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 20], help="templates kept K (default: 1 5 20)")
    parser.add_argument("--device", default="cpu", help="'cpu' (NumPy) or 'cuda' (torch tensors on the GPU)")
    parser.add_argument(
        "--backend",
        choices=["numpy", "torch"],
        default=None,
        help="array kind on the CPU (default: numpy; always torch on CUDA)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the fastest is reported (default: 3)")
    parser.add_argument(
        "--paper-images",
        type=int,
        default=1024,
        help="images the paper's loop is timed on before extrapolating to n (default: 1024)",
    )
    parser.add_argument("--paper-batch", type=int, default=512, help="the reference's batch size (default: 512)")
    parser.add_argument(
        "--paper-repeats",
        type=int,
        default=2,
        help="timed runs of the paper's loop; the fastest is reported (default: 2)",
    )
    parser.add_argument(
        "--paper-max-gib",
        type=float,
        default=2.0,
        help="cap on the (B, T, C, D) tensor; the batch shrinks to fit and this is reported "
        "(default: 2 GiB; the reference's 512 x 80 x 100 x 512 float32 is 7.8 GiB)",
    )
    parser.add_argument(
        "--memory-n",
        type=int,
        nargs="+",
        default=[5_000, 20_000],
        help="sizes at which peak memory is measured (default: 5000 20000)",
    )
    parser.add_argument(
        "--estimator-classes",
        type=int,
        nargs="*",
        default=[2],
        help="class counts for the estimator-overhead table, with K = 1 (default: 2; none to skip)",
    )
    parser.add_argument(
        "--methods-classes",
        type=int,
        nargs="*",
        default=None,
        help="class counts for the training-free methods' table (default: --classes; none to skip)",
    )
    parser.add_argument("--only-methods", action="store_true", help="time only the training-free methods' table")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


# --- data and timing --------------------------------------------------------------------


def unit_rows(generator: np.random.Generator, shape: tuple) -> np.ndarray:
    values = generator.normal(size=shape).astype(np.float32)
    return values / np.linalg.norm(values, axis=-1, keepdims=True)


class Arrays:
    """Moves NumPy arrays to the benchmark's array kind and synchronises timings."""

    def __init__(self, device: str, backend: str | None):
        self.device = device
        self.kind = "torch" if device.startswith("cuda") else (backend or "numpy")
        if self.kind == "torch":
            import torch

            self.torch = torch
            if device.startswith("cuda") and not torch.cuda.is_available():
                raise SystemExit(f"--device {device} asked for, but CUDA is not available here.")

    def put(self, array: np.ndarray):
        if self.kind == "numpy":
            return array
        return self.torch.as_tensor(array, device=self.device)

    def synchronize(self) -> None:
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize()

    def best_times(self, functions: list, repeats: int) -> list:
        """Fastest wall time of each function, timed in alternating rounds after a warm-up round."""
        for function in functions:
            function()
        self.synchronize()
        times = [[] for _ in functions]
        for _ in range(repeats):
            for function, elapsed in zip(functions, times):
                start = time.perf_counter()
                function()
                self.synchronize()
                elapsed.append(time.perf_counter() - start)
        return [min(elapsed) for elapsed in times]

    def best_time(self, function, repeats: int) -> float:
        """Fastest wall time of ``repeats`` runs after one warm-up run, in seconds."""
        function()
        self.synchronize()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            self.synchronize()
            times.append(time.perf_counter() - start)
        return min(times)


# --- the paper's formulation ------------------------------------------------------------


def paper_reference_scores(images, text_bank, k: int, batch_size: int):
    """SAGE as the reference code computes it (SPEC.md section 3), minus prompt re-encoding.

    For every batch of images the ``(T, C, D)`` bank is repeated into a ``(B, T, C, D)``
    tensor; similarities, separations and the top-``k`` templates come from it; then a
    Python loop over the images gathers each one's ``(k, C, D)`` text embeddings,
    averages them over the templates, renormalises and scores.

    Parameters
    ----------
    images : torch.Tensor of shape (n, D)
    text_bank : torch.Tensor of shape (T, C, D)
    k : int
    batch_size : int

    Returns
    -------
    scores : torch.Tensor of shape (n, C)
    selected : torch.Tensor of shape (n, k)
    """
    import torch

    scores, selected = [], []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        # The reference's per-batch text tensor: one (T, C, D) copy per image.
        text = text_bank.unsqueeze(0).repeat(len(batch), 1, 1, 1)
        similarities = torch.einsum("bd,btcd->btc", batch, text)
        separation = similarities.amax(dim=-1) - similarities.amin(dim=-1)
        top = separation.topk(k, dim=1).indices
        batch_scores = torch.empty((len(batch), text_bank.shape[1]), dtype=images.dtype, device=images.device)
        for row in range(len(batch)):  # the per-image loop
            prototypes = text[row, top[row]].mean(dim=0)  # (C, D) from a (k, C, D) gather
            prototypes = prototypes / prototypes.norm(dim=-1, keepdim=True)
            batch_scores[row] = prototypes @ batch[row]
        scores.append(batch_scores)
        selected.append(top)
    return torch.cat(scores), torch.cat(selected)


def paper_batch_size(args, n_classes: int) -> int:
    bytes_per_image = args.templates * n_classes * args.dim * 4
    fitting = max(1, int(args.paper_max_gib * 2**30 // bytes_per_image))
    return min(args.paper_batch, fitting)


# --- memory -----------------------------------------------------------------------------


def peak_memory_numpy(images: np.ndarray, text_bank: np.ndarray, k: int) -> int:
    """Peak bytes NumPy allocated during ``sage_scores`` (NumPy reports to tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    sage_scores(images, text_bank, k)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def peak_memory_cuda(arrays: Arrays, images, text_bank, k: int) -> int:
    torch = arrays.torch
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    baseline = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    result = sage_scores(images, text_bank, k)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - baseline
    del result
    return peak


# --- main -------------------------------------------------------------------------------


def run(args) -> None:
    arrays = Arrays(args.device, args.backend)
    generator = np.random.default_rng(args.seed)
    describe_machine(args, arrays)
    host_images = unit_rows(generator, (args.n, args.dim))
    methods_classes = args.classes if args.methods_classes is None else args.methods_classes
    if args.only_methods:
        print_methods_table(args, arrays, host_images, generator, methods_classes)
        return
    images = arrays.put(host_images)
    timing_rows, notes = [], []
    for n_classes in args.classes:
        host_bank = unit_rows(generator, (args.templates, n_classes, args.dim))
        bank = arrays.put(host_bank)
        flat_bank = arrays.put(np.ascontiguousarray(host_bank.reshape(args.templates * n_classes, args.dim)))
        batch = paper_batch_size(args, n_classes)
        if batch < args.paper_batch:
            notes.append(
                f"C={n_classes}: the paper's batch is {batch} images, not {args.paper_batch}: its "
                f"({args.paper_batch}, {args.templates}, {n_classes}, {args.dim}) float32 tensor would take "
                f"{args.paper_batch * args.templates * n_classes * args.dim * 4 / 2**30:.1f} GiB "
                f"(cap --paper-max-gib {args.paper_max_gib:g}); time per image is what is extrapolated."
            )
        for k in args.k:
            if k > args.templates:
                continue
            # Floor and ours alternate, so a busy spell on a shared machine hits both.
            floor, ours = arrays.best_times(
                [lambda: images @ flat_bank.T, lambda: sage_scores(images, bank, k)], args.repeats
            )
            paper, difference = time_paper(arrays, host_images, host_bank, k, batch, args)
            timing_rows.append((n_classes, k, floor, ours, paper, difference))
            print(f"  measured C={n_classes} K={k}", flush=True)
    print_timing_table(args, timing_rows, notes)
    print_memory_table(args, arrays, generator)
    if args.estimator_classes and arrays.kind == "numpy":
        print_estimator_table(args, arrays, host_images, generator)
    if methods_classes:
        print_methods_table(args, arrays, host_images, generator, methods_classes)


# --- the training-free relatives --------------------------------------------------------


def print_methods_table(args, arrays: Arrays, host_images: np.ndarray, generator, class_counts) -> None:
    """Each training-free method against the similarity product, timed in alternating rounds."""
    from skclip_sage import SageZeroShotClassifier
    from skclip_sage.selection import score_embeddings, zpe_template_scores

    device = args.device if args.device.startswith("cuda") else "cpu"
    rows = []
    for n_classes in class_counts:
        host_bank = unit_rows(generator, (args.templates, n_classes, args.dim))
        classifier = SageZeroShotClassifier(
            BankEncoder(host_bank),
            templates=[f"template {t}: {{}}" for t in range(args.templates)],
            class_names=[f"class {c}" for c in range(n_classes)],
            selection="zpe",
            device=device,
        ).fit(host_images)
        bank = classifier.text_embeddings_
        flat_bank = np.ascontiguousarray(bank.reshape(args.templates * n_classes, args.dim))
        options = {
            "autoclip_beta": 0.85,
            "perception_temperature": 1.0,
            "logit_scale": 100.0,
            "template_weights": classifier.template_weights_,
        }

        def scored(selection):
            return lambda: score_embeddings(host_images, bank, selection=selection, k=1, device=device, options=options)

        names = ["score_average", "autoclip", "zpe", "perception"]
        floor, *times, zpe_fit, zpe_predict = arrays.best_times(
            [
                lambda: host_images @ flat_bank.T,
                *(scored(name) for name in names),
                lambda: zpe_template_scores(host_images, bank, 100.0),
                lambda: classifier.predict(host_images),
            ],
            args.repeats,
        )
        rows.append((n_classes, floor, dict(zip(names, times)), zpe_fit, zpe_predict))
        print(f"  measured the training-free methods at C={n_classes}", flush=True)
    print()
    print(
        f"### Training-free methods, n = {args.n:,}, D = {args.dim}, T = {args.templates}, float32, "
        f"{device} (ratios to the similarity product `X @ bank.T` timed in the same rounds)"
    )
    print()
    print(
        "| C | floor `X @ bank.T` | score_average | autoclip | zpe predict (core) | zpe `predict` | zpe fit "
        "(template scores) | perception |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_classes, floor, times, zpe_fit, zpe_predict in rows:
        cells = [f"{times[name] * 1e3:,.1f} ms ({times[name] / floor:.2f}x)" for name in ("score_average", "autoclip")]
        cells.append(f"{times['zpe'] * 1e3:,.1f} ms ({times['zpe'] / floor:.2f}x)")
        cells.append(f"{zpe_predict * 1e3:,.1f} ms ({zpe_predict / floor:.2f}x)")
        cells.append(f"{zpe_fit * 1e3:,.1f} ms ({zpe_fit / floor:.2f}x)")
        cells.append(f"{times['perception'] * 1e3:,.1f} ms ({times['perception'] / floor:.2f}x)")
        print(f"| {n_classes} | {floor * 1e3:,.1f} ms | " + " | ".join(cells) + " |")
    print()
    print(
        f"Fastest of {args.repeats} alternating rounds after a warm-up. Core columns call "
        "`skclip_sage.selection.score_embeddings` (row norms, scoring); `predict` is "
        "`SageZeroShotClassifier.predict` with input validation. ZPE's fit-time scoring is one chunked pass "
        "over the unlabelled images; its prediction is one (n, D) @ (D, C) product."
    )


def time_paper(arrays: Arrays, host_images, host_bank, k: int, batch: int, args):
    """Seconds the paper's loop would take on all ``n`` images, and its max deviation from ours."""
    import torch

    subset = min(args.paper_images, args.n)
    device = args.device if args.device.startswith("cuda") else "cpu"
    images = torch.as_tensor(host_images[:subset], device=device)
    bank = torch.as_tensor(host_bank, device=device)
    arrays_for_paper = Arrays(args.device, "torch")
    with torch.inference_mode():
        seconds = arrays_for_paper.best_time(lambda: paper_reference_scores(images, bank, k, batch), args.paper_repeats)
        paper_scores, _ = paper_reference_scores(images[:64], bank, k, batch)
    our_scores, _ = sage_scores(host_images[: len(paper_scores)], host_bank, k)
    difference = float(np.abs(paper_scores.cpu().numpy() - our_scores).max())
    return seconds * args.n / subset, difference


def print_timing_table(args, rows, notes) -> None:
    subset = min(args.paper_images, args.n)
    print()
    print(
        f"### SAGE scoring time, n = {args.n:,}, D = {args.dim}, T = {args.templates}, float32, "
        f"{args.device} ({'NumPy' if args.device == 'cpu' and args.backend != 'torch' else 'torch'})"
    )
    print()
    print(
        "| C | K | floor `X @ bank.T` | ours `sage_scores` | ours / floor | paper loop* | "
        "ours vs paper | max abs diff vs paper |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_classes, k, floor, ours, paper, difference in rows:
        print(
            f"| {n_classes} | {k} | {floor * 1e3:,.1f} ms | {ours * 1e3:,.1f} ms | {ours / floor:.2f}x | "
            f"{paper:,.2f} s | {paper / ours:,.0f}x faster | {difference:.1e} |"
        )
    print()
    print(
        f"\\* paper loop: timed on the first {subset:,} images and scaled by n / {subset:,}; the bank is "
        "given, so its per-batch prompt re-encoding is not counted. Fastest of "
        f"{args.repeats} runs ({args.paper_repeats} for the paper loop) after a warm-up run."
    )
    for note in notes:
        print(f"- {note}")


def print_memory_table(args, arrays: Arrays, generator) -> None:
    if arrays.kind == "torch" and not args.device.startswith("cuda"):
        print("\n(peak memory is measured for NumPy and CUDA only)")
        return
    print()
    print(
        f"### Peak memory of `sage_scores` ({'tracemalloc' if arrays.kind == 'numpy' else 'CUDA allocator'}), "
        f"D = {args.dim}, T = {args.templates}"
    )
    print()
    print("| C | K | n | peak | output (n x C scores + n x K indices) | peak - output |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n_classes in args.classes:
        host_bank = unit_rows(generator, (args.templates, n_classes, args.dim))
        for k in sorted({min(args.k), max(k for k in args.k if k <= args.templates)}):
            for n in args.memory_n:
                host_images = unit_rows(generator, (n, args.dim))
                if arrays.kind == "numpy":
                    peak = peak_memory_numpy(host_images, host_bank, k)
                else:
                    peak = peak_memory_cuda(arrays, arrays.put(host_images), arrays.put(host_bank), k)
                output = n * n_classes * 4 + n * k * 8
                print(
                    f"| {n_classes} | {k} | {n:,} | {peak / MIB:,.1f} MiB | {output / MIB:,.1f} MiB | "
                    f"{(peak - output) / MIB:,.1f} MiB |"
                )
    print()
    print(
        f"Working memory is bounded by the chunk budget (_selection.CHUNK_BYTES = {CHUNK_BYTES / MIB:.0f} MiB of "
        "similarities and temporaries per chunk of images), not by n; below one chunk it grows with n up to "
        "that bound. For comparison, the floor's own output (n x T*C float32) at n = "
        f"{args.n:,} is "
        + ", ".join(f"{args.n * args.templates * c * 4 / MIB:,.0f} MiB (C={c})" for c in args.classes)
        + "; the paper's (B, T, C, D) batch tensor at B = 512 is "
        + ", ".join(f"{512 * args.templates * c * args.dim * 4 / MIB:,.0f} MiB (C={c})" for c in args.classes)
        + "."
    )


# --- the estimator on top of the core ---------------------------------------------------


class BankEncoder:
    """A text encoder that returns the rows of a given bank, so the classifier scores exactly that bank."""

    logit_scale = 100.0

    def __init__(self, text_bank: np.ndarray):
        self.embedding_dim = text_bank.shape[2]
        self.identity = f"bank-{id(text_bank)}"
        self.rows = {
            f"template {t}: class {c}": text_bank[t, c]
            for t in range(text_bank.shape[0])
            for c in range(text_bank.shape[1])
        }

    def encode_text(self, texts):
        return np.stack([self.rows[text] for text in texts])


def former_predict(images: np.ndarray, text_bank: np.ndarray, k: int) -> np.ndarray:
    """The checks and normalisation as ``predict`` did them before the one-pass row norms, then the core."""
    bad_rows = np.flatnonzero(~np.isfinite(images).all(axis=1))
    assert not len(bad_rows)
    norms = np.linalg.norm(images, axis=-1, keepdims=True)
    unit = images / np.where(norms == 0, 1.0, norms)
    scores, _ = sage_scores(unit, text_bank, k)
    return np.argmax(scores, axis=1)


def print_estimator_table(args, arrays: Arrays, host_images: np.ndarray, generator) -> None:
    from skclip_sage import SageZeroShotClassifier
    from skclip_sage.selection import score_embeddings

    rows = []
    for n_classes in args.estimator_classes:
        host_bank = unit_rows(generator, (args.templates, n_classes, args.dim))
        classifier = SageZeroShotClassifier(
            BankEncoder(host_bank),
            templates=[f"template {t}: {{}}" for t in range(args.templates)],
            class_names=[f"class {c}" for c in range(n_classes)],
            k=1,
            device="cpu",
        ).fit()
        bank = classifier.text_embeddings_  # what predict scores against, bit for bit
        core, scoring, predict, former = arrays.best_times(
            [
                lambda: sage_scores(host_images, bank, 1),
                lambda: score_embeddings(host_images, bank, selection="sage", k=1, device="cpu"),
                lambda: classifier.predict(host_images),
                lambda: former_predict(host_images, bank, 1),
            ],
            args.repeats,
        )
        agree = float(
            (classifier.predict(host_images) == classifier.classes_[former_predict(host_images, bank, 1)]).mean()
        )
        rows.append((n_classes, core, scoring, predict, former, agree))
    print()
    print(
        f"### Estimator overhead, n = {args.n:,}, D = {args.dim}, T = {args.templates}, K = 1, float32 "
        "(same input, same process)"
    )
    print()
    print(
        "| C | core `sage_scores` | `score_embeddings` | `predict` | predict / core | former checks + "
        "normalise + core | former / core | same predictions |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_classes, core, scoring, predict, former, agree in rows:
        print(
            f"| {n_classes} | {core * 1e3:,.1f} ms | {scoring * 1e3:,.1f} ms | {predict * 1e3:,.1f} ms | "
            f"{predict / core:.2f}x | {former * 1e3:,.1f} ms | {former / core:.2f}x | {agree:.1%} |"
        )
    print()
    print(
        f"Fastest of {args.repeats} alternating runs after a warm-up. ``predict`` includes sklearn's input "
        "validation, the re-check of parameters changed since fit, the one-pass row norms (which also find "
        "NaN/inf rows) and the argmax; the former pipeline is rebuilt here from the previous code."
    )


def describe_machine(args, arrays: Arrays) -> None:
    import os

    details = [f"python {platform.python_version()}", f"numpy {np.__version__}", f"{os.cpu_count()} CPUs"]
    try:
        import torch

        details.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
        if args.device.startswith("cuda"):
            details.append(torch.cuda.get_device_name())
    except ImportError:
        pass
    print("Machine: " + ", ".join(details), flush=True)


if __name__ == "__main__":
    run(parse_arguments())
