"""What runs on a Dask worker: embed one partition of images, with a resume cache.

Nothing here imports dask, and the task arguments are plain Python (a list of
paths and a dict of estimator parameters), so a task graph never carries a
torch object or model weights. The model comes from the per-process registry
(:func:`skclip_sage.encoders.load_encoder`), so a worker process loads it once
and every later partition on that worker reuses it.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import SkippedImagesWarning, UnreadableImagesError
from ..io._cache import cache_key, image_source_key, load_cached_array, save_cached_array
from ..io._sources import as_image_sources

# Bump when the partition format changes, so old cache entries stop matching.
PARTITION_CACHE_VERSION = "embed_images partition v1"
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
    from .._embedder import ClipImageEmbedder

    sources = as_image_sources(paths, owner="embed_images").items
    embedder = ClipImageEmbedder(**embedder_params)
    _check_can_start_loader_processes(embedder.num_workers)
    embedder.fit()
    folder, key = _partition_cache_entry(embedder, sources, cache_dir)
    if key is not None:
        cached = load_cached_array(folder, key)
        expected_shape = (len(sources), embedder.embedding_dim_)
        if cached is not None and cached.shape == expected_shape and cached.dtype == np.float32:
            _count(partitions_from_cache=1)
            return cached, []
    with warnings.catch_warnings(record=True) as caught:
        # Record rather than show: a worker's warnings never reach the client, so
        # the failures travel back as data instead (see embed_images' failures).
        warnings.simplefilter("always", SkippedImagesWarning)
        try:
            embeddings = embedder.transform(sources)
        except UnreadableImagesError as err:
            where, offset = f"partition {partition} of {n_partitions} (0-based)", 0
            if first_row is not None:
                where, offset = f"{where}, rows {first_row} to {first_row + len(sources) - 1}", first_row
            failures = [(offset + position, source, reason) for position, source, reason in err.failures]
            raise UnreadableImagesError(f"embed_images, {where}: {err}", failures) from err
    failures = []
    for warning in caught:
        # Worker logs are the only place a worker's warnings can show up.
        _LOGGER.warning("embed_images, partition %d of %d: %s", partition, n_partitions, warning.message)
        if isinstance(warning.message, SkippedImagesWarning):
            failures.extend(warning.message.failures)
    if not failures and key is not None:
        # Partitions with failures are never cached: the failure may be transient
        # (a network file system hiccup), and a rerun should try those files again.
        save_cached_array(folder, key, embeddings)
    _count(partitions_embedded=1, images_embedded=len(sources))
    return embeddings, failures


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
    from .._embedder import ClipImageEmbedder

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
    from ..encoders._registry import encoder_load_count

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
    """The cache folder and key of a partition, or ``(None, None)`` when it cannot be cached."""
    if cache_dir is None:
        return None, None
    source_keys = [image_source_key(source) for source in sources]
    if any(key is None for key in source_keys):
        return None, None  # a missing file: read it, so that it is reported
    encoder = embedder._encoder()
    device = getattr(encoder, "device", "cpu")
    # The model identity covers the weights (names, tags or file fingerprints);
    # device kind and precision change the numbers, so they are part of the key.
    key = cache_key(
        PARTITION_CACHE_VERSION,
        str(encoder.identity),
        getattr(device, "type", str(device)),
        str(embedder.precision),
        *source_keys,
    )
    return Path(cache_dir) / PARTITION_CACHE_FOLDER, key
