"""Warm reads and cold writes of the image cache against plain ``np.load`` / ``np.save`` (issue 22 item 3).

In one process, interleaved ``--repeats`` times, over ``--entries`` rows of 512
float32 (one image each):

- **warm transform**: ``ClipImageEmbedder.transform(paths)`` with every row in
  ``cache_dir`` (``memory_cache=0``, so every row is read from disk: key, read,
  checks), against ``np.load`` of the same entry files, path by path;
- **read**: the checked read of those entries alone (``CheckedCache.read``:
  producer, dtype, shape, finite, unit norm), against the same ``np.load`` loop;
- **cold write**: ``save_cached_array`` of each row into a fresh cache folder
  (atomic: a temporary file renamed over the entry; the 256 sub-folders created
  as needed), against a plain ``np.save`` of each row into a fresh folder of the
  same layout, made beforehand;
- for reference, the previous code's write (``mkstemp``, ``np.save`` of the
  record, ``os.replace``, a ``mkdir`` per entry) and read (``np.load`` of the
  record and float64 checks), rebuilt here.

Prints a markdown table of microseconds per entry and ratios (min-max over the
repeats). Nothing is asserted.

Example: ``OMP_NUM_THREADS=1 python benchmarks/bench_cache_io.py --entries 2000 --repeats 5``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH = 512


class ToyEncoder:
    """A model stand-in: every timed row comes from the cache, so its forward pass never runs there."""

    identity, embedding_dim, logit_scale = "bench-cache-io", WIDTH, 100.0

    def preprocess(self, image):
        import torch

        return torch.tensor(np.asarray(image, dtype=np.float32).mean(axis=(0, 1)))

    def encode_images(self, pixels):
        import torch

        return torch.nn.functional.pad(pixels + 1.0, (0, WIDTH - pixels.shape[1]))


def previous_save(directory, key, array, producer):
    """The write before issue 22: a structured record through mkstemp, np.save and os.replace."""
    record = np.empty((), dtype=[("producer", f"U{len(producer)}"), ("values", array.dtype, array.shape)])
    record["producer"], record["values"] = producer, array
    path = Path(directory) / key[:2] / f"{key}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as file:
        np.save(file, record, allow_pickle=False)
    os.replace(temporary, path)


def previous_read(directory, key, producer):
    """The read before issue 22: np.load of the record, then float64 checks."""
    record = np.load(Path(directory) / key[:2] / f"{key}.npy", allow_pickle=False)
    values = np.array(record["values"])
    assert str(record["producer"]) == producer and values.dtype == np.float32 and np.isfinite(values).all()
    assert abs(np.linalg.norm(values.astype(np.float64)) - 1.0) <= 1e-3
    return values


def timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--folder", default=None, help="where to write (default: the system's temporary folder)")
    arguments = parser.parse_args()

    from PIL import Image

    from skclip_sage import ClipImageEmbedder
    from skclip_sage.io import image_key_parts, producer_of
    from skclip_sage.io._cache import save_cached_array
    from skclip_sage.io._checked_cache import CheckedCache

    n = arguments.entries
    rows = np.random.default_rng(0).normal(size=(n, WIDTH)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    producer = producer_of(ToyEncoder())
    seconds = {name: [] for name in ("transform", "np.load", "read", "write", "np.save", "old write", "old read")}
    with tempfile.TemporaryDirectory(dir=arguments.folder) as folder:
        paths = []
        for index in range(n):
            path = Path(folder, "images", f"{index // 100:03d}", f"{index}.png")
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 4), (index % 256, index // 256 % 256, 7)).save(path)
            paths.append(str(path))
        embedder = ClipImageEmbedder(ToyEncoder(), cache_dir=Path(folder, "cache"), memory_cache=0).fit()
        embedder.transform(paths)  # fill cache_dir
        cache = CheckedCache(Path(folder, "cache"), "image_embeddings", producer, owner="bench")
        keys = [cache.key(*image_key_parts(path), "jpeg_draft=None") for path in paths]
        files = [str(cache.folder / key[:2] / f"{key}.npy") for key in keys]
        assert all(os.path.exists(file) for file in files)
        shape = (WIDTH,)
        write_keys = [f"{index:064x}"[::-1] for index in range(n)]
        for repeat in range(arguments.repeats):
            seconds["transform"].append(timed(lambda: embedder.transform(paths)))
            seconds["np.load"].append(timed(lambda: [np.load(file) for file in files]))
            seconds["read"].append(timed(lambda: [cache.read(key, shape) for key in keys]))
            ours, plain, old = (Path(folder, f"{name}{repeat}") for name in ("ours", "plain", "old"))
            for prefix in {key[:2] for key in write_keys}:
                (plain / prefix).mkdir(parents=True, exist_ok=True)
            writers = [
                ("write", lambda: [save_cached_array(ours, k, r, producer) for k, r in zip(write_keys, rows)]),  # noqa: B023
                ("np.save", lambda: [np.save(plain / k[:2] / f"{k}.npy", r) for k, r in zip(write_keys, rows)]),  # noqa: B023
                ("old write", lambda: [previous_save(old, k, r, producer) for k, r in zip(write_keys, rows)]),  # noqa: B023
            ]
            # A different writer goes first in each repeat: the file system's write-back favours no one.
            for name, write in writers[repeat % 3 :] + writers[: repeat % 3]:
                seconds[name].append(timed(write))
            seconds["old read"].append(timed(lambda: [previous_read(old, k, producer) for k in write_keys]))  # noqa: B023
            for path in (ours, plain, old):
                shutil.rmtree(path)

    where = arguments.folder or tempfile.gettempdir()
    print(f"{n} entries of {WIDTH} float32 in {where}, {arguments.repeats} repeats, ", end="")
    print(f"load {os.getloadavg()[0]:.2f}, ", end="")
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}\n")
    per = {name: np.array(values) * 1e6 / n for name, values in seconds.items()}
    print("| measurement | us per entry (min-max) | baseline | baseline us per entry | ratio (min-max) |")
    print("|---|---:|---|---:|---:|")
    for name, baseline in (
        ("transform", "np.load"),
        ("read", "np.load"),
        ("old read", "np.load"),
        ("write", "np.save"),
        ("old write", "np.save"),
    ):
        ratio = per[name] / per[baseline]
        print(
            f"| {name} | {per[name].min():.1f}-{per[name].max():.1f} | {baseline} | "
            f"{per[baseline].min():.1f}-{per[baseline].max():.1f} | {ratio.min():.2f}-{ratio.max():.2f} |"
        )


if __name__ == "__main__":
    main()
