"""Throughput of ClipImageEmbedder on JPEG files against the bare model forward.

Writes ``--images`` JPEG files (default 300 at 256 x 256) to a temporary folder,
loads ``ViT-B-32`` with random weights (``pretrained=None``: no download, works
offline) and measures, in images per second:

- **bare forward**: the model's ``encode_images`` on tensors decoded and
  preprocessed beforehand (the upper bound: no file is read in the timed part);
- **ClipImageEmbedder**: ``transform(paths)`` with ``num_workers`` in ``--workers``
  (reading, decoding, preprocessing in a DataLoader, then the same model object,
  which the embedder gets from the shared per-process registry);
- **decode only**: reading and preprocessing the files in this process, to show
  what the workers have to hide.

With ``--backend transformers`` the model is a randomly initialised transformers
``CLIPModel`` of ViT-B/32's size (``openai/clip-vit-base-patch32``'s architecture,
saved with ``save_pretrained`` to a temporary folder and loaded as
``transformers:<folder>``), preprocessed by its ``CLIPImageProcessor``, and the bare
forward is transformers' own ``get_image_features`` on the processed tensors.

Targets: the embedder at ``num_workers=2`` reaches at least 0.85x the bare forward
on the CPU with open_clip (issue 2) and 0.9x with transformers (issue 8). Nothing
is asserted; a markdown table is printed.

Examples: ``python benchmarks/bench_embedder.py`` (CPU),
``python benchmarks/bench_embedder.py --backend transformers`` and
``python benchmarks/bench_embedder.py --device cuda --precision bf16 --workers 0 4 8 --images 2000``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300, help="JPEG files to embed (default: 300)")
    parser.add_argument("--size", type=int, default=256, help="side of the square JPEGs in pixels (default: 256)")
    parser.add_argument("--model", default="ViT-B-32", help="open_clip model name, random weights (default: ViT-B-32)")
    parser.add_argument(
        "--backend",
        choices=["open_clip", "transformers"],
        default="open_clip",
        help="open_clip: --model with random weights; transformers: a random ViT-B/32-sized transformers "
        "CLIPModel (default: open_clip)",
    )
    parser.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'auto' (default: cpu)")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="autocast precision; 'auto' is fp32 on CPU, bf16 on GPU (default: auto)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2], help="num_workers values to measure (default: 0 2)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed rounds after a warm-up round; the fastest run of each setting counts (default: 3)",
    )
    parser.add_argument("--folder", default=None, help="where to write the JPEGs (default: a temporary folder)")
    return parser.parse_args(argv)


def write_jpegs(folder: Path, count: int, size: int) -> list[str]:
    """Photo-like JPEGs (smooth colour fields plus grain), so decoding costs what it does for photos."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(0)
    axis = np.linspace(0.0, 1.0, size, dtype=np.float32)
    paths = []
    for index in range(count):
        weights = generator.uniform(0, 255, size=(3, 3)).astype(np.float32)
        field = weights[0] * axis[:, None, None] + weights[1] * axis[None, :, None] + weights[2] * 0.5
        grain = generator.normal(0, 12, size=(size, size, 3)).astype(np.float32)
        pixels = np.clip(field / 2 + grain, 0, 255).astype(np.uint8)
        path = folder / f"image_{index:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(str(path))
    return paths


def best_seconds(function, repeats: int, synchronize) -> float:
    function()  # warm-up: allocator, kernels, worker start-up paths
    synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def run(args) -> None:
    from skclip_sage.encoders import load_encoder

    with tempfile.TemporaryDirectory() as models:
        if args.backend == "transformers":
            args.model = f"transformers:{random_transformers_clip(Path(models) / 'clip')}"
        try:
            encoder = load_encoder(args.model, None, device=args.device, precision=args.precision)
        except ValueError as err:  # e.g. --device cuda without CUDA: say so, no traceback
            raise SystemExit(str(err)) from err
        measure(args, encoder)


def random_transformers_clip(folder: Path) -> Path:
    """Save a random ViT-B/32-sized transformers CLIP (the test suite's builder) and return its folder."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from hf_fixtures import save_random_vit_b32_clip

    return save_random_vit_b32_clip(folder)


def bare_image_forward(encoder):
    """The backend library's own image forward pass: what the embedder is measured against."""
    import torch

    from skclip_sage.encoders import TransformersEncoder
    from skclip_sage.encoders._device import inference_context

    if not isinstance(encoder, TransformersEncoder):
        return encoder.encode_images
    model = encoder.model

    def forward(pixels):
        # The same inference mode and autocast as the embedder's, nothing else of ours.
        with inference_context(encoder.precision, encoder.device):
            output = model.get_image_features(pixel_values=pixels.to(encoder.device))
        return output if isinstance(output, torch.Tensor) else output.pooler_output

    return forward


def measure(args, encoder) -> None:
    import torch

    from skclip_sage import ClipImageEmbedder
    from skclip_sage.io import open_image

    cuda = encoder.device.type == "cuda"

    def synchronize():
        if cuda:
            torch.cuda.synchronize()

    print(
        f"Machine: python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, device {encoder.device}"
        + (f" ({torch.cuda.get_device_name()})" if cuda else "")
        + f", precision {args.precision}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.folder) if args.folder else Path(temporary)
        paths = write_jpegs(folder, args.images, args.size)

        def decode_all():
            return [encoder.preprocess(open_image(path)) for path in paths]

        decode_seconds = best_seconds(decode_all, 1, lambda: None)
        pixels = torch.stack(decode_all())

        forward = bare_image_forward(encoder)

        def bare_forward():
            for start in range(0, len(pixels), args.batch_size):
                embeddings = forward(pixels[start : start + args.batch_size])
                embeddings = embeddings / embeddings.norm(dim=-1, keepdim=True)
                embeddings.cpu()

        contenders = {"bare": bare_forward}
        for workers in args.workers:
            embedder = ClipImageEmbedder(
                args.model,
                pretrained=None,
                device=args.device,
                precision=args.precision,
                batch_size=args.batch_size,
                num_workers=workers,
            ).fit()
            contenders[workers] = lambda embedder=embedder: embedder.transform(paths)
        seconds = time_interleaved(contenders, args.repeats, synchronize)
    results = [(workers, seconds[workers]) for workers in args.workers]
    print_table(args, encoder, decode_seconds, seconds["bare"], results)


def time_interleaved(contenders: dict, repeats: int, synchronize) -> dict:
    """Fastest wall time of each contender, timed in rounds of one run each.

    Interleaving means a busy spell on a shared machine slows one round of every
    contender rather than all runs of one, so the ratios stay fair.
    """
    for function in contenders.values():  # warm-up round
        function()
        synchronize()
    times = {name: [] for name in contenders}
    for round_index in range(repeats):
        for name, function in contenders.items():
            start = time.perf_counter()
            function()
            synchronize()
            times[name].append(time.perf_counter() - start)
        print(
            f"  round {round_index + 1}/{repeats}: "
            + ", ".join(f"{name}={elapsed[-1]:.2f}s" for name, elapsed in times.items()),
            flush=True,
        )
    return {name: min(elapsed) for name, elapsed in times.items()}


def print_table(args, encoder, decode_seconds, bare_seconds, results) -> None:
    count = args.images
    bare_rate = count / bare_seconds
    print()
    print(
        f"### ClipImageEmbedder throughput: {count} JPEGs of {args.size}x{args.size}, {model_label(args)} "
        f"(random weights), {encoder.device}, precision {args.precision}, batch {args.batch_size}"
    )
    print()
    print("| what | images/s | vs bare forward |")
    print("|---|---:|---:|")
    print(f"| bare {args.backend} forward on pre-decoded tensors | {bare_rate:,.1f} | 1.00x |")
    for workers, seconds in results:
        rate = count / seconds
        print(f"| ClipImageEmbedder, num_workers={workers} | {rate:,.1f} | {rate / bare_rate:.2f}x |")
    print(
        f"| decode + preprocess only, one process | {count / decode_seconds:,.1f} | "
        f"{(count / decode_seconds) / bare_rate:.2f}x |"
    )
    print()
    print(
        f"Fastest of {args.repeats} rounds (each round times every row once, interleaved) after a warm-up "
        "round; decode only: one run."
    )


def model_label(args) -> str:
    return "transformers CLIPModel ViT-B/32" if args.backend == "transformers" else f"open_clip {args.model}"


if __name__ == "__main__":
    run(parse_arguments())
