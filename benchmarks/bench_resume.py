"""How much work an interrupted ``skclip-sage embed --cache-dir`` loses, measured on a real interrupt.

Writes ``--images`` JPEG files to a temporary folder, saves an open_clip model with
random weights as a ``local-dir:`` folder (a stable identity, so separate
processes share the cache; no download) and then:

1. **interrupted**: runs ``skclip-sage embed FOLDER --cache-dir CACHE`` in a
   subprocess and sends it SIGINT (or ``--signal TERM``) as soon as the cache holds
   ``--interrupt-after`` batches, i.e. while a later batch is in flight;
2. **resumed**: runs the same command again to the end; the images it recomputed
   are counted as the cache entries it wrote (modification time after its start);
3. **uninterrupted**: the same command with an empty cache (the baseline), and once
   more on the full cache;

then prints a markdown table (images, batches finished before the signal, entries
kept, images recomputed, lost work in batches, wall-clock per run as a share of the
uninterrupted run) and the largest difference between the resumed and the
uninterrupted embeddings. Nothing is asserted.

Example: ``python benchmarks/bench_resume.py --images 512 --batch-size 32 --interrupt-after 5``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# A small ViT (about 11 M parameters): batches take a fraction of a second on a CPU,
# long enough to interrupt one in flight, short enough for a quick benchmark.
MODEL_CONFIG = {
    "embed_dim": 256,
    "vision_cfg": {"image_size": 224, "layers": 6, "width": 384, "head_width": 64, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 256, "heads": 4, "layers": 2},
}


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=512, help="JPEG files to embed (default: 512)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    parser.add_argument(
        "--interrupt-after", type=int, default=5, help="finished batches before the signal (default: 5)"
    )
    parser.add_argument("--signal", choices=["INT", "TERM"], default="INT", help="signal to send (default: INT)")
    parser.add_argument("--folder", default=None, help="working folder (default: a temporary one)")
    return parser.parse_args(argv)


def write_jpegs(folder: Path, count: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((256, 256), Image.BILINEAR).save(folder / f"image_{index:05d}.jpg")


def cache_entries(cache_dir: Path) -> list[Path]:
    return list((cache_dir / "image_embeddings").rglob("*.npy"))


def embed_command(images: Path, output: Path, model: str, cache_dir: Path, batch_size: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "skclip_sage",
        "embed",
        str(images),
        "--output",
        str(output),
        "--model",
        model,
        "--cache-dir",
        str(cache_dir),
        "--batch-size",
        str(batch_size),
        "--quiet",
    ]


def run(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def interrupted_run(command, cache_dir: Path, entries_wanted: int, signal_number) -> tuple[int, float]:
    """Run ``command`` until the cache holds ``entries_wanted`` entries, signal it; (exit code, seconds)."""
    start = time.perf_counter()
    # A benchmark started in the background inherits SIGINT ignored; the child gets the
    # default back, so Python in it raises KeyboardInterrupt as in an interactive run.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    while len(cache_entries(cache_dir)) < entries_wanted:
        if process.poll() is not None:
            raise RuntimeError(f"the run ended before the signal: {process.communicate()[1].decode()[-2000:]}")
        time.sleep(0.01)
    process.send_signal(signal_number)
    process.communicate(timeout=120)
    return process.returncode, time.perf_counter() - start


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    import open_clip
    import torch

    from skclip_sage.encoders import save_local_dir

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(arguments.folder or temporary)
        images = root / "images"
        write_jpegs(images, arguments.images)
        torch.manual_seed(0)
        model = save_local_dir(root / "model", open_clip.CLIP(**MODEL_CONFIG), MODEL_CONFIG)
        batch = arguments.batch_size
        signal_number = getattr(signal, f"SIG{arguments.signal}")

        cache = root / "cache"
        command = embed_command(images, root / "resumed.npy", model, cache, batch)
        code, interrupted_seconds = interrupted_run(command, cache, arguments.interrupt_after * batch, signal_number)
        kept = len(cache_entries(cache))
        rerun_start = time.time()
        resumed_seconds = run(command)
        written = sum(path.stat().st_mtime >= rerun_start for path in cache_entries(cache))

        fresh = root / "fresh_cache"
        baseline = embed_command(images, root / "uninterrupted.npy", model, fresh, batch)
        uninterrupted_seconds = run(baseline)
        cached_seconds = run(baseline)
        difference = np.abs(np.load(root / "resumed.npy") - np.load(root / "uninterrupted.npy")).max()

    n_batches = -(-arguments.images // batch)
    print(
        f"{arguments.images} JPEGs, batch {batch} ({n_batches} batches), CPU, SIG{arguments.signal}, {os.cpu_count()} cores\n"
    )
    print("| images | batches finished at the signal | entries kept | recomputed on rerun | exit code |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {arguments.images} | {kept // batch} (+{kept % batch}) | {kept} | {written} | {code} |\n")
    print("| run | seconds | vs uninterrupted |")
    print("|---|---:|---:|")
    for name, seconds in [
        ("uninterrupted, empty cache (baseline)", uninterrupted_seconds),
        ("interrupted run, until the signal", interrupted_seconds),
        ("resumed run", resumed_seconds),
        ("rerun on the full cache", cached_seconds),
    ]:
        print(f"| {name} | {seconds:.1f} | {seconds / uninterrupted_seconds:.2f}x |")
    print(
        f"\nlargest |resumed - uninterrupted| = {difference:.2e}; images neither kept nor recomputed: "
        f"{arguments.images - kept - written}"
    )


if __name__ == "__main__":
    main()
