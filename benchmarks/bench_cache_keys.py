"""Warm-rerun cost of the image cache key that covers inode and status-change time (issue 21 item 3).

Writes ``--images`` small PNG files, fills a ``cache_dir`` once, then times in one
process, interleaved ``--repeats`` times:

- **key only**: building the key parts of every file, with today's (absolute path,
  inode, size, modification and status-change times) and with the previous ones
  (resolved path, size and modification time);
- **warm transform**: ``ClipImageEmbedder.transform(paths)`` served wholly from
  ``cache_dir`` (``memory_cache=0``, so every row is read from disk), with each key;
- **warm transform, in memory**: the same with the in-memory store warm.

The model is a toy encoder (no forward pass is timed: every row is a hit). Prints a
markdown table of the ratios new/old (min-max over the repeats). Nothing is asserted.

Example: ``OMP_NUM_THREADS=1 python benchmarks/bench_cache_keys.py --images 2000 --repeats 5``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


class ToyEncoder:
    """A model stand-in whose forward pass is never timed (every row comes from the cache)."""

    identity, embedding_dim, logit_scale = "bench-cache-keys", 512, 100.0

    def preprocess(self, image):
        import torch

        return torch.tensor(np.asarray(image, dtype=np.float32).mean(axis=(0, 1)))

    def encode_images(self, pixels):
        import torch

        return torch.nn.functional.pad(pixels + 1.0, (0, 512 - pixels.shape[1]))


def previous_parts(source):
    """The key parts before issue 21: resolved path, size and modification time."""
    status = os.stat(source)
    return ("file", os.path.realpath(source), str(status.st_size), str(status.st_mtime_ns))


def timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()

    from PIL import Image

    import skclip_sage._embedder as embedder_module
    from skclip_sage import ClipImageEmbedder
    from skclip_sage.io import clear_memory_caches, image_key_parts

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(arguments.images):
            path = Path(folder, "images", f"{index // 100:03d}", f"{index}.png")
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (index % 256, index // 256 % 256, 7)).save(path)
            paths.append(str(path))
        keys = {"new": image_key_parts, "old": previous_parts}
        on_disk = ClipImageEmbedder(ToyEncoder(), cache_dir=Path(folder, "cache"), memory_cache=0).fit()
        in_memory = ClipImageEmbedder(ToyEncoder()).fit()
        for key in keys.values():  # fill the caches under both keys
            embedder_module.image_key_parts = key
            on_disk.transform(paths)
            in_memory.transform(paths)
        seconds = {(what, name): [] for what in ("key only", "warm, cache_dir", "warm, memory") for name in keys}
        for _ in range(arguments.repeats):
            for name, key in keys.items():
                embedder_module.image_key_parts = key
                seconds["key only", name].append(timed(lambda: [key(path) for path in paths]))  # noqa: B023
                seconds["warm, cache_dir", name].append(timed(lambda: on_disk.transform(paths)))
                seconds["warm, memory", name].append(timed(lambda: in_memory.transform(paths)))
        embedder_module.image_key_parts = image_key_parts
        clear_memory_caches()

    print(f"{arguments.images} PNG files, {arguments.repeats} repeats, load {os.getloadavg()[0]:.2f}, ")
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
    print("| measurement | old key, us per image (min-max) | new key, us per image (min-max) | new/old (min-max) |")
    print("|---|---:|---:|---:|")
    for what in ("key only", "warm, cache_dir", "warm, memory"):
        old, new = np.array(seconds[what, "old"]), np.array(seconds[what, "new"])
        ratios = new / old
        per_image = 1e6 / arguments.images
        print(
            f"| {what} | {old.min() * per_image:.1f}-{old.max() * per_image:.1f} "
            f"| {new.min() * per_image:.1f}-{new.max() * per_image:.1f} | {ratios.min():.2f}-{ratios.max():.2f} |"
        )


if __name__ == "__main__":
    main()
