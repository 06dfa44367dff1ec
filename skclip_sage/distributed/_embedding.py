"""Build the Dask graph that embeds an image collection partition by partition."""

from __future__ import annotations

import numpy as np

from ..encoders import model_forms
from ..utils._docstrings import code_terms_list, fill_docstring
from ..utils._optional import require_dask
from ._worker import embed_partition, embedding_width, gather_failures, partition_block, partition_summary

DEFAULT_PARTITION_SIZE = 256


@fill_docstring(model_forms=code_terms_list(model_forms()))
def embed_images(paths, embedder, *, partition_size=None, cache_dir=None, return_failures=False):
    """Embed images on a Dask cluster, one task per partition of paths.

    Only the embedder's parameters travel in the task graph; each worker
    process loads the model once (on its own GPU with ``device="auto"``) and
    reuses it for every partition it is given. Nothing is computed until the
    result is (except, for an unfitted embedder, one small task that loads the
    model on a worker to learn the embedding width).

    Parameters
    ----------
    paths : list, dask.bag.Bag, dask Series, one-column dask DataFrame or 1-D dask Array
        Image sources, usually file paths that every worker can read (absolute
        paths on a shared file system). A list is cut into partitions of
        ``partition_size``; a Dask collection keeps its own partitions.
    embedder : ClipImageEmbedder
        Its parameters are used, fitted or not. ``model`` must be a model string
        that every worker can load (a folder on a file system they share), not an
        encoder object; the forms are those of the table of backends
        (:func:`~skclip_sage.encoders.model_forms`):

        %(model_forms)s

        ``on_error`` decides whether an unreadable image fails the computation or
        becomes a NaN row.
    partition_size : int, default=None
        Images per partition (task) for a list; 256 when None. Must be None for
        a Dask collection: repartition it instead.
    cache_dir : str or path-like, default=None
        A folder every worker can write, for a per-partition resume cache:
        each finished partition is saved as one ``.npy`` file (atomic write),
        keyed by its files (path, size, modification time), the model identity,
        precision, device kind and library version. A rerun after a crash reads
        the finished partitions instead of embedding them again; an entry that
        fails its checks on read (model, dtype, shape, finite, unit norm) is
        embedded again. Partitions with unreadable images are not cached.
    return_failures : bool, default=False
        Also return a :class:`dask.delayed.Delayed` list of the unreadable
        images. It reads the same task per partition as the embeddings, so
        ``dask.compute(embeddings, failures)`` embeds every partition once;
        computing them one after the other runs the partitions twice.

    Returns
    -------
    embeddings : dask.array.Array of shape (n_images, embedding_dim), float32
        Unit-norm rows in input order, one chunk per partition (row counts are
        unknown, NaN, for a bag or dataframe until computed). With
        ``on_error="warn"``, unreadable images give NaN rows.
    failures : dask.delayed.Delayed
        Only when ``return_failures=True``: computes to a list of
        ``(position, source, reason)`` over the whole input, in order.

    Raises
    ------
    UnreadableImagesError
        At compute time, with ``on_error="raise"``: names the partition (and its
        rows, for a list) and its unreadable files; the first failing partition
        stops the computation.

    See Also
    --------
    skclip_sage.ClipImageEmbedder.transform : The same embeddings in one process.
    predict : Classify the embeddings where they lie.

    Examples
    --------
    A tiny random model saved as a ``local-dir:`` folder stands in for a real one;
    the synchronous scheduler stands in for a cluster.

    >>> import tempfile, dask, numpy as np, open_clip
    >>> from PIL import Image
    >>> from skclip_sage import ClipImageEmbedder
    >>> from skclip_sage.distributed import embed_images
    >>> from skclip_sage.encoders import save_local_dir
    >>> vision = {"image_size": 32, "layers": 1, "width": 32, "head_width": 32, "patch_size": 16}
    >>> text = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}
    >>> config = {"embed_dim": 8, "vision_cfg": vision, "text_cfg": text}
    >>> folder = tempfile.mkdtemp()
    >>> model = save_local_dir(folder, open_clip.CLIP(**config), config)
    >>> paths = [f"{folder}/image_{i}.png" for i in range(5)]
    >>> for i, path in enumerate(paths):
    ...     Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(path)
    >>> embeddings = embed_images(paths, ClipImageEmbedder(model, pretrained=None), partition_size=2)
    >>> embeddings.shape, embeddings.chunks[0]
    ((5, 8), (2, 2, 1))
    >>> with dask.config.set(scheduler="synchronous"):
    ...     X = embeddings.compute()
    >>> X.dtype, bool(np.allclose(np.linalg.norm(X, axis=1), 1.0))
    (dtype('float32'), True)
    """
    require_dask("embed_images")  # the error names the [dask] extra
    import dask.array

    params = _embedder_params(embedder)
    partitions, row_counts = _partitions(paths, partition_size)
    width = getattr(embedder, "embedding_dim_", None)
    if width is None:
        width = dask.delayed(embedding_width, pure=True)(params).compute()
    first_rows = [None] * len(partitions)
    if not np.isnan(row_counts).any():
        first_rows = np.concatenate([[0], np.cumsum(row_counts[:-1], dtype=np.int64)]).tolist()
    root = None if cache_dir is None else str(cache_dir)
    blocks, summaries = [], []
    for index, (partition, first_row, n_rows) in enumerate(zip(partitions, first_rows, row_counts)):
        # One task per partition returns (embeddings, failures); the array block and
        # the failures summary both read that task's key, so computing them together
        # runs it once. The block also takes the partition itself (checking one row
        # per image): with two inputs it is no linear chain, which dask's array
        # optimisation would fuse into a renamed copy of the partition task that the
        # failures, optimised as a separate collection, would not share.
        partition = partition if dask.is_dask_collection(partition) else dask.delayed(partition)
        result = dask.delayed(embed_partition, pure=True)(partition, params, index, len(partitions), first_row, root)
        block = dask.delayed(partition_block, pure=True)(result, partition)
        blocks.append(dask.array.from_delayed(block, shape=(n_rows, width), dtype=np.float32))
        summaries.append(dask.delayed(partition_summary, pure=True)(result))
    if blocks:
        embeddings = dask.array.concatenate(blocks, axis=0)
    else:
        embeddings = dask.array.zeros((0, width), dtype=np.float32)
    if not return_failures:
        return embeddings
    return embeddings, dask.delayed(gather_failures, pure=True)(*summaries)


def _embedder_params(embedder) -> dict:
    from .._embedder import ClipImageEmbedder

    if not isinstance(embedder, ClipImageEmbedder):
        raise TypeError(f"embed_images needs a ClipImageEmbedder; got {type(embedder).__name__}.")
    if not isinstance(embedder.model, str):
        raise ValueError(
            f"embed_images sends the embedder's parameters to the workers and each worker loads the model "
            f"by name; model must be an open_clip name, 'local-dir:...', 'hf-hub:...' or 'transformers:...', "
            f"got a {type(embedder.model).__name__} object. Save it with skclip_sage.encoders.save_local_dir "
            "(open_clip) or save_pretrained (transformers) and pass 'local-dir:<folder>' or 'transformers:<folder>'."
        )
    # Check the parameters here, where the error is readable, not on every worker.
    embedder._validate_params()
    return embedder.get_params(deep=False)


def _partitions(paths, partition_size):
    """The partitions of ``paths`` (lists or Delayed objects) and their row counts (NaN if unknown)."""
    import dask
    import dask.array
    import dask.bag

    if not dask.is_dask_collection(paths):
        from ..io import as_image_sources

        size = DEFAULT_PARTITION_SIZE if partition_size is None else partition_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"partition_size must be a positive integer; got {partition_size!r}.")
        items = as_image_sources(paths, owner="embed_images").items
        chunks = [items[start : start + size] for start in range(0, len(items), size)]
        return chunks, [len(chunk) for chunk in chunks]
    if partition_size is not None:
        raise ValueError(
            f"partition_size={partition_size!r} applies to a list of paths; a {type(paths).__name__} keeps its "
            "own partitions. Repartition it instead (e.g. bag.repartition(npartitions=...))."
        )
    if isinstance(paths, dask.array.Array):
        if paths.ndim == 2 and paths.shape[1] == 1:
            paths = paths[:, 0]
        if paths.ndim != 1:
            raise ValueError(f"embed_images takes a 1-D dask array of paths; got shape {paths.shape}.")
        return list(paths.to_delayed().ravel()), list(paths.chunks[0])
    if isinstance(paths, dask.bag.Bag):
        return list(paths.to_delayed()), [np.nan] * paths.npartitions
    if hasattr(paths, "divisions") and hasattr(paths, "to_delayed"):  # dask DataFrame or Series
        if paths.ndim == 2:
            if len(paths.columns) != 1:
                raise ValueError(
                    f"embed_images takes one column of image paths; got a dask DataFrame with columns "
                    f"{list(paths.columns)}. Select the path column: frame['path']."
                )
            paths = paths[paths.columns[0]]
        return list(paths.to_delayed()), [np.nan] * paths.npartitions
    raise ValueError(
        f"embed_images takes a list, a dask bag, a dask Series or a 1-D dask array of paths; "
        f"got {type(paths).__name__}."
    )
