"""Throughput of skclip_sage.distributed.embed_images against the in-process embedder.

Embeds a few hundred generated JPEGs with a ViT-B-32 of random weights (offline;
the speed is that of the real model) and prints a markdown table:

- in-process ``ClipImageEmbedder.transform``, with torch's default threads (the
  baseline) and with one torch thread (what a Dask worker gets: the nanny sets
  ``OMP_NUM_THREADS=1``), so the Dask overhead can be read at equal resources;
- ``embed_images`` on LocalClusters of 1 worker x 1 thread, 1 worker x 2 threads
  and 2 workers x 1 thread; 2 x 1 with ``return_failures=True`` and both outputs
  computed together (each partition must run once: the note counts the partition
  tasks); and again 1 x 1 and 2 x 1 with glibc's own malloc
  trimming. Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its workers,
  which turns off glibc's adaptive thresholds, so every large torch buffer is
  mapped and unmapped anew (page faults); unsetting it through the config
  ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null`` measures
  what that costs.

All clusters are started and warmed (model loaded on every worker) first; then
the configurations are timed in turn, ``--repeats`` rounds, keeping each one's
best time, so a change in the machine's load during the run hits every
configuration alike. "busy" is the share of the workers' thread time spent inside
the embedding tasks; the rest is Dask's overhead (scheduling, transfers, idling).

Run::

    python benchmarks/bench_distributed.py --n-images 256 --partition-size 32
    python benchmarks/bench_distributed.py --failures-only   # baseline, 2 x 1, 2 x 1 with failures
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

MODEL = "ViT-B-32"
# (workers, threads per worker, keep the nanny's MALLOC_TRIM_THRESHOLD_)
CLUSTER_SHAPES = ((1, 1, True), (1, 2, True), (2, 1, True), (1, 1, False), (2, 1, False))


def make_jpegs(folder: str, n_images: int, seed: int = 0) -> list:
    """Photo-like JPEGs (smooth colour fields, 320x240), cheap to make and realistic to decode."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for index in range(n_images):
        coarse = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((320, 240), Image.BICUBIC)
        path = os.path.join(folder, f"image_{index:04d}.jpg")
        image.save(path, quality=90)
        paths.append(path)
    return paths


def load_model(params) -> int:
    """Run on a worker: load the model into its registry (the warm-up)."""
    from skclip_sage import ClipImageEmbedder

    return ClipImageEmbedder(**params).fit().embedding_dim_


class InProcess:
    """The plain embedder in this process, with ``torch_threads`` torch threads."""

    def __init__(self, embedder, torch_threads):
        self.embedder, self.torch_threads = embedder, torch_threads
        self.name = f"in-process transform, torch {torch_threads} thread(s)"
        self.note = ""

    def run(self, paths):
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads)
        try:
            start = time.perf_counter()
            self.embedder.transform(paths)
            return time.perf_counter() - start, None
        finally:
            torch.set_num_threads(previous)

    def close(self):
        pass


class OnCluster:
    """``embed_images`` on a warmed LocalCluster of ``n_workers`` x ``threads``."""

    def __init__(self, embedder, n_workers, threads, partition_size, keep_malloc_trim=True):
        import dask
        from distributed import Client, LocalCluster

        self.name = f"embed_images, {n_workers} worker(s) x {threads} thread(s)"
        if not keep_malloc_trim:
            self.name += ", MALLOC_TRIM_THRESHOLD_ unset"
        self.embedder, self.partition_size, self.threads = embedder, partition_size, n_workers * threads
        start = time.perf_counter()
        trim = {} if keep_malloc_trim else {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
        with dask.config.set(trim):
            self.cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
            )
        self.client = Client(self.cluster, set_as_default=False)
        self.client.wait_for_workers(n_workers)
        params = embedder.get_params()
        # One warm-up task pinned to each worker, so every worker holds the model.
        warm = [
            self.client.submit(load_model, params, workers=[address], allow_other_workers=False, pure=False)
            for address in self.client.scheduler_info(n_workers=-1)["workers"]
        ]
        self.client.gather(warm)
        from skclip_sage.distributed import worker_statistics

        loads = sum(numbers["models_loaded"] for numbers in self.client.run(worker_statistics).values())
        self.note = f"models loaded: {loads}; start + load {time.perf_counter() - start:.1f} s"

    def run(self, paths):
        from distributed import get_task_stream

        from skclip_sage.distributed import embed_images

        embeddings = embed_images(paths, self.embedder, partition_size=self.partition_size)
        with get_task_stream(client=self.client) as stream:
            start = time.perf_counter()
            result = self.client.compute(embeddings).result()
            seconds = time.perf_counter() - start
        assert result.shape[0] == len(paths)
        busy = sum(
            period["stop"] - period["start"]
            for task in stream.data
            if "embed_partition" in str(task["key"])
            for period in task["startstops"]
            if period["action"] == "compute"
        )
        return seconds, busy / (seconds * self.threads)

    def close(self):
        self.client.close()
        self.cluster.close()


class WithFailures(OnCluster):
    """``embed_images(..., return_failures=True)``, both outputs computed together."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = self.name.replace("embed_images", "embed_images + failures, computed together")

    def run(self, paths):
        from distributed import get_task_stream

        from skclip_sage.distributed import embed_images

        embeddings, failures = embed_images(
            paths, self.embedder, partition_size=self.partition_size, return_failures=True
        )
        with get_task_stream(client=self.client) as stream:
            start = time.perf_counter()
            result, failed = self.client.gather(self.client.compute([embeddings, failures]))
            seconds = time.perf_counter() - start
        assert result.shape[0] == len(paths) and failed == []
        tasks = [task for task in stream.data if "embed_partition" in str(task["key"])]
        # Each partition must run once: the array and the failures share its task.
        self.note = f"partition tasks run: {len(tasks)} for {embeddings.numblocks[0]} partitions"
        busy = sum(
            period["stop"] - period["start"]
            for task in tasks
            for period in task["startstops"]
            if period["action"] == "compute"
        )
        return seconds, busy / (seconds * self.threads)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=256)
    parser.add_argument("--partition-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--failures-only",
        action="store_true",
        help="time only 2 workers x 1 thread with and without return_failures (computed together)",
    )
    arguments = parser.parse_args(argv)

    import torch

    from skclip_sage import ClipImageEmbedder

    default_threads = torch.get_num_threads()
    loads = []
    with tempfile.TemporaryDirectory() as folder:
        paths = make_jpegs(folder, arguments.n_images)
        # Fitted here, so embed_images knows the width without a probe task; the
        # workers still load the model themselves, from the parameters.
        embedder = ClipImageEmbedder(MODEL, pretrained=None, batch_size=arguments.batch_size).fit()
        embedder.transform(paths[: arguments.batch_size])  # first-call allocations
        configurations = [InProcess(embedder, default_threads), InProcess(embedder, 1)]
        if arguments.failures_only:
            configurations = configurations[:1]
        try:
            shapes = ((2, 1, True),) if arguments.failures_only else CLUSTER_SHAPES
            for n_workers, threads, keep_malloc_trim in shapes:
                configurations.append(
                    OnCluster(embedder, n_workers, threads, arguments.partition_size, keep_malloc_trim)
                )
            configurations.append(WithFailures(embedder, 2, 1, arguments.partition_size))
            best = {configuration.name: (np.inf, None) for configuration in configurations}
            for _ in range(arguments.repeats):
                for configuration in configurations:
                    loads.append(os.getloadavg()[0])
                    seconds, busy = configuration.run(paths)
                    if seconds < best[configuration.name][0]:
                        best[configuration.name] = (seconds, busy)
        finally:
            for configuration in configurations:
                configuration.close()

    baseline = best[configurations[0].name][0]
    print(
        f"\n{arguments.n_images} JPEGs (320x240), {MODEL} random weights, CPU, {os.cpu_count()} cores, "
        f"batch {arguments.batch_size}, partition {arguments.partition_size}, best of {arguments.repeats} "
        f"interleaved warm runs; 1-minute load average {min(loads):.1f} to {max(loads):.1f} during the runs "
        f"(the benchmark itself keeps about 2 busy)\n"
    )
    print("| configuration | seconds | images/s | throughput vs baseline | busy | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for configuration in configurations:
        seconds, busy = best[configuration.name]
        busy_text = "" if busy is None else f"{100 * busy:.0f}%"
        name = configuration.name + (" (baseline)" if configuration is configurations[0] else "")
        print(
            f"| {name} | {seconds:.2f} | {arguments.n_images / seconds:.1f} | {baseline / seconds:.2f}x "
            f"| {busy_text} | {configuration.note} |"
        )


if __name__ == "__main__":
    main()
