"""The one caching policy: the memory store, then ``cache_dir``, then compute, then write back.

Image embeddings, text banks and the Dask resume cache all keep their rows
through :class:`TieredCache`, so they share one key builder, one byte-bounded
memory store (:func:`~skclip_sage.io.memory_store`), one checked disk cache and
one set of warnings.
"""

from __future__ import annotations

import numpy as np

from ._checked_cache import CheckedCache
from ._keys import key_maker
from ._memory_cache import memory_store


class TieredCache:
    """The rows of one kind and one producer, as one call sees them.

    Parameters
    ----------
    producer : str or None
        What computes the rows (:func:`~skclip_sage.io.producer_of`); None (an
        encoder without an identity) caches nothing.
    kind : str
        The cache: ``"image_embeddings"``, ``"text_banks"``, ... It names the
        folder under ``cache_dir`` and is part of every key.
    memory_bytes : int
        The bound asked of the process's memory store; 0 leaves memory out.
    cache_dir : path-like or None
        Where entries are kept on disk, under ``<cache_dir>/<kind>/``; None leaves
        the disk out.
    owner : str
        Who is caching, for the warnings (``"ClipImageEmbedder"``).

    Attributes
    ----------
    from_memory, from_disk : int
        Rows this object answered from each tier.
    """

    def __init__(self, producer, kind: str, *, memory_bytes: int, cache_dir, owner: str):
        self.kind = kind
        self.memory = None if producer is None or not memory_bytes else memory_store(memory_bytes)
        on_disk = cache_dir is not None and producer is not None
        self.disk = CheckedCache(cache_dir, kind, producer, owner=owner) if on_disk else None
        self.key = key_maker(producer, kind) if producer is not None else None
        self.from_memory = 0
        self.from_disk = 0

    @property
    def enabled(self) -> bool:
        """Whether any tier is on (keys are worth building)."""
        return self.memory is not None or self.disk is not None

    def get(self, key: str | None, shape: tuple, label: str = "an entry") -> np.ndarray | None:
        """The row of ``key`` from memory, else from ``cache_dir`` (then kept in memory too), else None.

        A row read from disk must pass its checks (producer, float32, ``shape``, finite,
        unit norm); one that does not is reported by :meth:`warn` and treated as absent.
        """
        if key is None:
            return None
        if self.memory is not None:
            row = self.memory.get(key)
            if row is not None:
                self.from_memory += 1
                return row
        if self.disk is None:
            return None
        row = self.disk.read(key, shape, label)
        if row is not None:
            self.from_disk += 1
            if self.memory is not None:
                self.memory.put(key, row, self.kind)
        return row

    def put(self, key: str | None, row: np.ndarray) -> None:
        """Keep a computed row in memory and under ``cache_dir`` (after a failed write, memory only)."""
        if key is None:
            return
        if self.memory is not None:
            self.memory.put(key, row, self.kind)
        if self.disk is not None:
            self.disk.write(key, row)

    def warn(self, stacklevel: int = 2) -> None:
        """One warning for the invalid entries read and one for a failed write, if any."""
        if self.disk is not None:
            self.disk.warn(stacklevel=stacklevel + 1)
