"""Peak memory and time of ``embed -o x.parquet``'s writer, from 10k to 1M rows (random embeddings).

Each measurement runs in a fresh process: it builds an (n, 512) float32 array of
random unit rows and n path strings (what ``embed`` holds anyway), resets the
kernel's peak-RSS counter (``/proc/self/clear_refs``), writes the Parquet file,
and reports the writer's own peak (VmHWM after the write minus VmRSS before it),
its time, and ``np.save`` of the same array in the same process as the baseline.
The old writer (512 columns of Python ``np.float32`` scalars through
``write_table``) runs only at small n: it needs about 20 KB per row.

Usage::

    python benchmarks/bench_parquet.py                 # 10k, 100k, 300k, 1M; old writer at 10k, 30k
    python benchmarks/bench_parquet.py --sizes 10000 100000 --repeats 3

Linux only (``/proc``). Prints one line per run; benchmarks/README.md records them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

WIDTH = 512


def _status(field):
    with open("/proc/self/status") as stream:
        for line in stream:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(n, writer, folder):
    """One run in this process: ``{"n", "writer", "extra_peak_mb", "seconds", "npy_seconds"}``."""
    import numpy as np
    import pyarrow.parquet  # noqa: F401 - imported before the peak is reset, as embed has by then

    from skclip_sage.cli._outputs import write_table
    from skclip_sage.cli._parquet import write_embeddings_parquet

    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((n, WIDTH), dtype=np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    paths = [f"images/{index // 1000:04d}/img_{index:07d}.png" for index in range(n)]
    target = os.path.join(folder, f"{writer}.parquet")
    started = time.perf_counter()
    np.save(os.path.join(folder, "baseline.npy"), embeddings)
    npy_seconds = time.perf_counter() - started
    os.unlink(os.path.join(folder, "baseline.npy"))
    with open("/proc/self/clear_refs", "w") as stream:
        stream.write("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS")
    started = time.perf_counter()
    if writer == "arrow":
        with open(target, "wb") as stream:
            write_embeddings_parquet(stream, embeddings, paths)
    else:
        columns = {"path": list(paths)}
        for feature in range(WIDTH):
            columns[f"embedding_{feature}"] = list(embeddings[:, feature])
        write_table(target, columns, option="--output")
    seconds = time.perf_counter() - started
    extra = _status("VmHWM") - before
    size = os.path.getsize(target)
    os.unlink(target)
    return {
        "n": n,
        "writer": writer,
        "extra_peak_mb": round(extra / 2**20, 1),
        "seconds": round(seconds, 2),
        "npy_seconds": round(npy_seconds, 2),
        "file_mb": round(size / 2**20, 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--old-sizes", type=int, nargs="*", default=[10_000, 30_000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("N", "WRITER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(measure(int(args.child[0]), args.child[1], folder)), flush=True)
        return 0
    print(f"# uptime: {os.popen('uptime').read().strip()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    runs = [(n, "arrow") for n in args.sizes] + [(n, "old") for n in args.old_sizes]
    for _ in range(args.repeats):
        for n, writer in runs:
            child = [sys.executable, __file__, "--child", str(n), writer]
            print(subprocess.run(child, check=True, capture_output=True, text=True).stdout.strip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
