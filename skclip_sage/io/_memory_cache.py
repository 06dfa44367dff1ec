"""Rows kept in this process's memory: one store, bounded in bytes, for every cache.

A ``Pipeline`` of :class:`~skclip_sage.ClipImageEmbedder` and a classifier embeds
its images in ``fit`` and again in ``predict``; ``cross_validate`` and
``GridSearchCV`` clone it for every fold and candidate, and refit the classifier
with the same prompts. The process therefore keeps the rows it computed, image
embeddings and text banks alike, under the same keys as the disk cache (model
identity, precision, device kind, library version, the cache's kind and the
entry's own parts), so the keys of different models and kinds never meet.

There is one store per process. Its bound is the largest one asked for since it
was made or cleared (an embedder's ``memory_cache``; text banks ask for
:data:`DEFAULT_MEMORY_CACHE_BYTES`): asking for less never forgets rows another
user keeps, and a user that wants no memory (``memory_cache=0``) does not ask at
all. Rows are forgotten least recently used first, whatever their kind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

__all__ = ["DEFAULT_MEMORY_CACHE_BYTES", "MemoryCache", "clear_memory_caches", "memory_cache", "memory_store"]

DEFAULT_MEMORY_CACHE_BYTES = 256 * 2**20
"""The default bound of the process's store: 256 MiB, about 120,000 rows of 512 float32."""

# What one entry costs beside its row: the 64-character key string, the array
# header and the ordered dict's node (measured with sys.getsizeof: about 330 bytes).
ENTRY_OVERHEAD_BYTES = 330

_STORE: MemoryCache | None = None
_STORE_LOCK = threading.Lock()


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
    nbytes : int
        Bytes held now, rows plus per-entry overhead.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._rows: OrderedDict[str, tuple[np.ndarray, str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> np.ndarray | None:
        """The row stored for ``key`` (a read-only array), or None."""
        with self._lock:
            entry = self._rows.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._rows.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: str, row: np.ndarray, kind: str = "") -> None:
        """Keep a copy of ``row`` for ``key``, forgetting the oldest rows beyond ``max_bytes``.

        ``kind`` (the cache's name) lets :meth:`forget` drop one kind of rows.
        """
        row = np.array(row, copy=True)
        row.flags.writeable = False  # handed out to every caller: nobody may change it
        size = row.nbytes + ENTRY_OVERHEAD_BYTES
        with self._lock:
            if size > self.max_bytes:
                return
            previous = self._rows.pop(key, None)
            if previous is not None:
                self.nbytes -= previous[0].nbytes + ENTRY_OVERHEAD_BYTES
            self._rows[key] = (row, kind)
            self.nbytes += size
            self._shrink()

    def resize(self, max_bytes: int) -> None:
        """Change the bound, forgetting the oldest rows if the store is now too large."""
        with self._lock:
            self.max_bytes = int(max_bytes)
            self._shrink()

    def grow(self, max_bytes: int) -> None:
        """Raise the bound to ``max_bytes`` if it is lower; compared and set under the lock, so
        two callers asking at once for different bounds leave the larger."""
        with self._lock:
            self.max_bytes = max(self.max_bytes, int(max_bytes))

    def forget(self, kind: str) -> None:
        """Forget every row of one kind (e.g. ``"text_banks"``)."""
        with self._lock:
            for key in [key for key, (_, stored_kind) in self._rows.items() if stored_kind == kind]:
                self.nbytes -= self._rows.pop(key)[0].nbytes + ENTRY_OVERHEAD_BYTES

    def _shrink(self) -> None:
        while self.nbytes > self.max_bytes and self._rows:
            _, (row, _) = self._rows.popitem(last=False)
            self.nbytes -= row.nbytes + ENTRY_OVERHEAD_BYTES


def memory_store(max_bytes: int) -> MemoryCache:
    """The process's store, its bound raised to ``max_bytes`` if that is larger.

    Parameters
    ----------
    max_bytes : int
        The bound this user asks for; the store keeps the largest asked for since
        it was made or cleared, so no user's smaller bound empties another's rows.

    Returns
    -------
    store : MemoryCache

    Examples
    --------
    >>> from skclip_sage.io import clear_memory_caches, memory_store
    >>> clear_memory_caches()
    >>> memory_store(1000) is memory_store(10), memory_store(10).max_bytes
    (True, 1000)
    """
    global _STORE
    with _STORE_LOCK:
        if _STORE is None:
            _STORE = MemoryCache(max_bytes)
        store = _STORE
    store.grow(max_bytes)
    return store


def memory_cache(producer: str, max_bytes: int) -> MemoryCache:
    """The store that keeps ``producer``'s rows: the process's one store (:func:`memory_store`).

    Parameters
    ----------
    producer : str
        What computes the rows; every producer's rows share the store, under keys
        that start with the producer.
    max_bytes : int
        The bound asked for (see :func:`memory_store`).

    Returns
    -------
    store : MemoryCache
    """
    return memory_store(max_bytes)


def clear_memory_caches() -> None:
    """Forget every row kept in this process's memory: image embeddings and text banks.

    The next user sets the store's bound afresh.

    Examples
    --------
    >>> from skclip_sage.io import clear_memory_caches
    >>> clear_memory_caches()
    """
    global _STORE
    with _STORE_LOCK:
        _STORE = None


def forget_kind(kind: str) -> None:
    """Forget the rows of one kind kept in memory (the other kinds stay)."""
    with _STORE_LOCK:
        store = _STORE
    if store is not None:
        store.forget(kind)
