"""A grid search over a Pipeline on image paths: forward passes and wall time, without and with the memory cache.

Writes ``--images`` PNG files to a temporary folder, saves a random-weight open_clip
model (``--model``, default ViT-B-32) as a ``local-dir:`` folder, and runs, in one
process, the composition the library promises::

    GridSearchCV(make_pipeline(ClipImageEmbedder(m), SageZeroShotClassifier(m, ...)),
                 {"k": [1, 3], "selection": ["sage", "ensemble"]}, cv=3).fit(paths, y)
    search.predict(paths)

twice: with ``memory_cache=0`` (what every version before it did: each fit, fold,
candidate and prediction embeds its images again) and with the default memory cache.
It counts the rows sent through the image tower and times each run; the ratio is
the result. Nothing is asserted; a markdown table is printed.

Example: ``python benchmarks/bench_pipeline.py --images 120``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=120, help="PNG files (default: 120)")
    parser.add_argument(
        "--model", default="ViT-B-32", help="open_clip architecture, random weights (default: ViT-B-32)"
    )
    parser.add_argument("--folds", type=int, default=3, help="cross-validation folds (default: 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    import open_clip
    import torch
    from PIL import Image
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier
    from skclip_sage.encoders import OpenClipEncoder, save_local_dir
    from skclip_sage.io import clear_memory_caches

    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    rows = []
    encode_images = OpenClipEncoder.encode_images

    def counting(self, pixels):
        rows.append(len(pixels))
        return encode_images(self, pixels)

    OpenClipEncoder.encode_images = counting
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        rng = np.random.default_rng(0)
        paths = []
        for index in range(arguments.images):
            path = folder / f"image_{index:04d}.png"
            Image.fromarray(rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)).save(path)
            paths.append(str(path))
        y = np.arange(arguments.images) % 2
        torch.manual_seed(0)
        config = open_clip.get_model_config(arguments.model)
        model = save_local_dir(folder / "model", open_clip.CLIP(**config), config)
        grid = {"sagezeroshotclassifier__k": [1, 3], "sagezeroshotclassifier__selection": ["sage", "ensemble"]}
        results = {}
        for label, memory in (("memory_cache=0 (before)", 0), ("default memory cache (after)", None)):
            clear_memory_caches()
            embedder = ClipImageEmbedder(model, pretrained=None, device="cpu")
            if memory is not None:
                embedder.set_params(memory_cache=memory)
            classifier = SageZeroShotClassifier(model, pretrained=None, device="cpu", class_names=["cat", "dog"])
            rows.clear()
            started = time.perf_counter()
            search = GridSearchCV(make_pipeline(embedder, classifier), grid, cv=arguments.folds, n_jobs=1)
            search.fit(paths, y)
            search.predict(paths)
            results[label] = (sum(rows), time.perf_counter() - started)
    before, after = results.values()
    print(f"{arguments.model} (random weights), {arguments.images} images, {len(grid)}x2 grid, cv={arguments.folds}, ")
    print(f"CPU {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}\n")
    print("| run | rows through the image tower | per image | wall time (s) |")
    print("|---|---:|---:|---:|")
    for label, (count, seconds) in results.items():
        print(f"| {label} | {count} | {count / arguments.images:.1f} | {seconds:.1f} |")
    print(f"\nforward passes: {before[0] / after[0]:.1f}x fewer; wall time: {before[1] / after[1]:.1f}x shorter")


if __name__ == "__main__":
    main()
