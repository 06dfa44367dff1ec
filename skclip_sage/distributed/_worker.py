"""What runs on a Dask worker: embed one partition of images, with a resume cache.

Nothing here imports dask, and the task arguments are plain Python (a list of
paths and a dict of estimator parameters), so a task graph never carries a
torch object or model weights. The model comes from the per-process registry
(:func:`skclip_sage.encoders.load_encoder`), so a worker process loads it once
and every later partition on that worker reuses it.

A partition's unreadable images travel back with its embeddings, as data. They
never pass through the ``warnings`` machinery: its filters and its
``catch_warnings`` are process-wide, so two partitions embedded at once on the
threads of one worker (or of the threaded scheduler) would lose, duplicate or swap
each other's failures.
"""

from __future__ import annotations

import logging
import threading

from .._embedder import ClipImageEmbedder, describe_failures, image_cache, jpeg_draft_size
from ..exceptions import UnreadableImagesError
from ..io import as_image_sources, image_key_parts

PARTITION_CACHE_FOLDER = "partition_embeddings"

_LOGGER = logging.getLogger(__name__)
_LOCK = threading.Lock()
_STATISTICS = {"partitions_embedded": 0, "partitions_from_cache": 0, "images_embedded": 0}


def embed_partition(paths, embedder_params, partition, n_partitions, first_row=None, cache_dir=None):
    """Embed one partition of image sources on the current process.

    Parameters
    ----------
    paths : list, pandas Series or ndarray
        The partition's image sources.
    embedder_params : dict
        ``ClipImageEmbedder.get_params()``; ``model`` is a name, never an object.
    partition, n_partitions : int
        Where this partition sits, for error messages.
    first_row : int or None, default=None
        Position of its first image in the whole input, when known (a list input);
        errors then name whole-input rows.
    cache_dir : str, path-like or None, default=None
        Root of the per-partition resume cache.

    Returns
    -------
    embeddings : ndarray of shape (n_images, embedding_dim), float32
        Unit-norm rows in the partition's order (NaN rows for unreadable images
        under ``on_error="warn"``).
    failures : list of (int, str, str)
        ``(position in the partition, source, reason)``; empty unless
        ``on_error="warn"`` and some images were unreadable.
    """
    sources = as_image_sources(paths, owner="embed_images").items
    embedder = _PartitionEmbedder(**embedder_params)
    _check_can_start_loader_processes(embedder.num_workers)
    embedder.fit()
    cache, key = _partition_cache_entry(embedder, sources, cache_dir)
    embeddings = None if cache is None else cache.get(key, (len(sources), embedder.embedding_dim_), "a partition")
    from_cache = embeddings is not None
    failures = []
    if not from_cache:
        embeddings = _embed_sources(embedder, sources, partition, n_partitions, first_row)
        failures = embedder.failures
    if cache is not None:
        if not from_cache and not failures:
            # Partitions with failures are never cached: the failure may be transient
            # (a network file system hiccup), and a rerun should try those files again.
            cache.put(key, embeddings)
        cache.warn()
    if from_cache:
        _count(partitions_from_cache=1)
    else:
        _count(partitions_embedded=1, images_embedded=len(sources))
    if failures:
        # A worker's log is where its notes can be read; the failures themselves go back as data.
        _LOGGER.warning(
            "embed_images, partition %d of %d: %s", partition, n_partitions, describe_failures(failures, len(sources))
        )
    return embeddings, failures


class _PartitionEmbedder(ClipImageEmbedder):
    """A ClipImageEmbedder that keeps the failures of its ``transform`` instead of warning about them.

    One instance embeds one partition, so its ``failures`` belong to that partition
    alone, whatever else runs in the process. Under ``on_error="raise"`` it raises
    as the embedder does.
    """

    failures = ()

    def _report(self, failures, n_images):
        if self.on_error == "raise":
            super()._report(failures, n_images)
        self.failures = list(failures)


def _embed_sources(embedder, sources, partition, n_partitions, first_row):
    try:
        return embedder.transform(sources)
    except UnreadableImagesError as err:
        where, offset = f"partition {partition} of {n_partitions} (0-based)", 0
        if first_row is not None:
            where, offset = f"{where}, rows {first_row} to {first_row + len(sources) - 1}", first_row
        failures = [(offset + position, source, reason) for position, source, reason in err.failures]
        raise UnreadableImagesError(f"embed_images, {where}: {err}", failures) from err


def partition_block(result, paths):
    """The embeddings of an :func:`embed_partition` result, checked to hold one row per image of ``paths``."""
    embeddings, _ = result
    if len(embeddings) != len(paths):
        raise RuntimeError(
            f"embed_images: a partition of {len(paths)} images gave {len(embeddings)} embedding rows. This is a bug "
            "in skclip-sage; please report it."
        )
    return embeddings


def partition_summary(result) -> tuple:
    """``(n_rows, failures)`` of an :func:`embed_partition` result, without its embeddings."""
    embeddings, failures = result
    return len(embeddings), failures


def gather_failures(*summaries) -> list:
    """Every failure of every partition, with positions in the whole input."""
    gathered, offset = [], 0
    for n_rows, failures in summaries:
        gathered.extend((offset + position, source, reason) for position, source, reason in failures)
        offset += n_rows
    return gathered


def embedding_width(embedder_params) -> int:
    """The embedding width of the model, loading it (once) on this process."""
    return int(ClipImageEmbedder(**embedder_params).fit().embedding_dim_)


def worker_statistics() -> dict:
    """What this process has done for :func:`embed_images` so far.

    Run it on every worker with ``client.run(worker_statistics)`` to see that
    each loaded its model once and how many partitions came from the cache.

    Returns
    -------
    statistics : dict
        ``models_loaded`` (models read from disk by this process),
        ``partitions_embedded``, ``partitions_from_cache`` and ``images_embedded``.

    Examples
    --------
    >>> from skclip_sage.distributed import worker_statistics
    >>> sorted(worker_statistics())
    ['images_embedded', 'models_loaded', 'partitions_embedded', 'partitions_from_cache']
    """
    from ..encoders import encoder_load_count

    with _LOCK:
        return {"models_loaded": encoder_load_count(), **_STATISTICS}


def _check_can_start_loader_processes(num_workers) -> None:
    import multiprocessing

    if num_workers > 0 and multiprocessing.current_process().daemon:
        raise ValueError(
            f"ClipImageEmbedder(num_workers={num_workers}) cannot start DataLoader processes inside this Dask "
            "worker: its process is daemonic. Use num_workers=0 (Dask workers already decode in parallel; give a "
            "GPU worker several threads, e.g. `dask worker --nthreads 4`), or start the workers with "
            "DASK_DISTRIBUTED__WORKER__DAEMON=False."
        )


def _count(**increments) -> None:
    with _LOCK:
        for name, increment in increments.items():
            _STATISTICS[name] += increment


def _partition_cache_entry(embedder, sources, cache_dir):
    """The tiered cache (disk only) and key of a partition, or ``(None, None)`` when it cannot be cached.

    The same cache as the embedder's own, of another kind: the same producer (model identity,
    precision, device kind, library version) and the same image key parts, ``jpeg_draft`` included.
    """
    if cache_dir is None:
        return None, None
    source_parts = [image_key_parts(source) for source in sources]
    if any(parts is None for parts in source_parts):
        return None, None  # a missing file: read it, so that it is reported
    cache = image_cache(embedder, PARTITION_CACHE_FOLDER, memory_bytes=0, cache_dir=cache_dir, owner="embed_images")
    if not cache.enabled:
        return None, None
    parts = [part for source in source_parts for part in source]
    return cache, cache.key(*parts, f"jpeg_draft={jpeg_draft_size(embedder)}")
