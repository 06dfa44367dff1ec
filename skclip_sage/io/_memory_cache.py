"""Embeddings kept in this process's memory, so a pipeline embeds each image once.

A ``Pipeline`` of :class:`~skclip_sage.ClipImageEmbedder` and a classifier embeds
its images in ``fit`` and again in ``predict``; ``cross_validate`` and
``GridSearchCV`` clone it for every fold and candidate, although only the text
side changes between them. Embedding is the whole cost of such a job, so the
embedder keeps the rows it computed here, under the same keys as the disk cache
(model identity, precision, device kind, library version and the image's own
key). Clones of one configuration share one store; each store holds at most
``max_bytes`` and forgets the least recently used rows first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

__all__ = ["DEFAULT_MEMORY_CACHE_BYTES", "MemoryCache", "clear_memory_caches", "memory_cache"]

DEFAULT_MEMORY_CACHE_BYTES = 256 * 2**20
"""The default bound of one configuration's store: 256 MiB, about 120,000 rows of 512 float32."""

# What one entry costs beside its row: the 64-character key string, the array
# header and the ordered dict's node (measured with sys.getsizeof: about 330 bytes).
ENTRY_OVERHEAD_BYTES = 330

_STORES: dict[str, MemoryCache] = {}
_STORES_LOCK = threading.Lock()


class MemoryCache:
    """Rows by key, least recently used forgotten first, bounded in bytes.

    Parameters
    ----------
    max_bytes : int
        The most bytes (rows plus per-entry overhead) kept; 0 keeps nothing.

    Attributes
    ----------
    hits, misses : int
        Lookups answered and not answered since the store was made.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> np.ndarray | None:
        """The row stored for ``key`` (a read-only array), or None."""
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                self.misses += 1
                return None
            self._rows.move_to_end(key)
            self.hits += 1
            return row

    def put(self, key: str, row: np.ndarray) -> None:
        """Keep a copy of ``row`` for ``key``, forgetting the oldest rows beyond ``max_bytes``."""
        row = np.array(row, copy=True)
        row.flags.writeable = False  # handed out to every caller: nobody may change it
        size = row.nbytes + ENTRY_OVERHEAD_BYTES
        with self._lock:
            if size > self.max_bytes:
                return
            previous = self._rows.pop(key, None)
            if previous is not None:
                self.nbytes -= previous.nbytes + ENTRY_OVERHEAD_BYTES
            self._rows[key] = row
            self.nbytes += size
            self._shrink()

    def resize(self, max_bytes: int) -> None:
        """Change the bound, forgetting the oldest rows if the store is now too large."""
        with self._lock:
            self.max_bytes = int(max_bytes)
            self._shrink()

    def _shrink(self) -> None:
        while self.nbytes > self.max_bytes and self._rows:
            _, row = self._rows.popitem(last=False)
            self.nbytes -= row.nbytes + ENTRY_OVERHEAD_BYTES


def memory_cache(producer: str, max_bytes: int) -> MemoryCache:
    """The store of one configuration (its producer string), bounded to ``max_bytes``.

    Parameters
    ----------
    producer : str
        What computes the rows: the model identity, precision, device kind and library version. Clones of an
        embedder share it, so they share the store.
    max_bytes : int
        The bound; the store takes the latest value asked for.

    Returns
    -------
    store : MemoryCache
    """
    with _STORES_LOCK:
        store = _STORES.get(producer)
        if store is None:
            store = _STORES[producer] = MemoryCache(max_bytes)
    if store.max_bytes != max_bytes:
        store.resize(max_bytes)
    return store


def clear_memory_caches() -> None:
    """Forget every embedding kept in this process's memory.

    Examples
    --------
    >>> from skclip_sage.io import clear_memory_caches
    >>> clear_memory_caches()
    """
    with _STORES_LOCK:
        _STORES.clear()
