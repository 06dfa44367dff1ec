"""One call's use of a cache folder: entries checked on read, write failures reported once.

A cache must never make a result wrong or lose one: an entry that fails its
checks is treated as absent (the caller recomputes and overwrites it), and a
folder that cannot be written costs only the caching, never the results. Each
kind of trouble is reported in one warning per call, naming ``cache_dir``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import CacheWriteWarning, InvalidCacheEntryWarning
from ._cache import load_cached_array, read_expected, save_cached_array, tag_cache_folder
from ._keys import key_maker

# Stored rows are unit-norm float32; anything further from 1 was damaged or forged.
NORM_TOLERANCE = 1e-3
# The same bound on the squared norm, a little tighter, for the float32 check of the fast path:
# a row it passes passes NORM_TOLERANCE too; one it fails is judged by entry_problem.
SQUARED_NORM_TOLERANCE = 1.9e-3
ENTRIES_SHOWN = 3


def entry_problem(stored_producer: str, values: np.ndarray, producer: str, shape: tuple) -> str | None:
    """Why a stored entry must not be used, or None when it passes every check.

    Parameters
    ----------
    stored_producer : str
        The producer written with the entry.
    values : ndarray
        The stored array.
    producer : str
        The producer the reader expects (:func:`~skclip_sage.io.producer_of`).
    shape : tuple of int or None
        The expected shape; None matches any length along that axis.

    Returns
    -------
    problem : str or None
    """
    if stored_producer != producer:
        return f"made by another model or setting ({stored_producer!r})"
    if values.dtype != np.float32:
        return f"dtype {values.dtype}, expected float32"
    if values.ndim != len(shape) or any(want is not None and got != want for got, want in zip(values.shape, shape)):
        expected = "(" + ", ".join("any" if want is None else str(want) for want in shape) + ")"
        return f"shape {values.shape}, expected {expected}"
    if not np.isfinite(values).all():
        return "NaN or infinity in its values"
    norms = np.linalg.norm(values.astype(np.float64), axis=-1)
    worst = float(norms.flat[np.argmax(np.abs(norms - 1.0))]) if norms.size else 1.0
    if abs(worst - 1.0) > NORM_TOLERANCE:
        return f"a row of norm {worst:.3g}, expected unit-norm rows"
    return None


class CheckedCache:
    """The entries of one cache kind under ``cache_dir``, as used by one call.

    Parameters
    ----------
    cache_dir : str or path-like
        The user's ``cache_dir``; entries go to ``<cache_dir>/<kind>/``.
    kind : str
        The cache's folder name, also part of every key (``"image_embeddings"``).
    producer : str
        What computes the entries (:func:`~skclip_sage.io.producer_of`).
    owner : str
        Who is caching, for the warnings (``"ClipImageEmbedder"``).
    """

    def __init__(self, cache_dir, kind: str, producer: str, *, owner: str):
        self.cache_dir = cache_dir
        self.folder = Path(cache_dir) / kind
        self.kind = kind
        self.producer = producer
        self.owner = owner
        self.hits = 0
        self.invalid: list[tuple[str, str]] = []
        self.write_error: OSError | None = None
        self._tagged = False
        self._write_warned = False
        self.key = key_maker(producer, kind)

    def read(self, key: str, shape: tuple, label: str = "an entry") -> np.ndarray | None:
        """The stored array for ``key`` if present and valid, else None (``label`` names it in the warning).

        ``self.key(*parts)`` gives the key of the entry identified by ``parts``.
        """
        if any(size is None for size in shape):
            return self._read_parsed(key, shape, label)
        try:
            values = read_expected(self.folder, key, self.producer, np.float32, shape)
        except OSError as err:
            self.invalid.append((label, str(err)))
            return None
        if values is None:
            return None
        if isinstance(values, bytes):  # not the record expected: parse it to say why, or accept an equal one
            return self._read_parsed(key, shape, label)
        squared = np.einsum("...i,...i->...", values, values)
        if not np.all(np.abs(squared - 1.0) <= SQUARED_NORM_TOLERANCE):  # also False for NaN and infinity
            return self._checked(lambda _: (self.producer, values), None, shape, label)
        self.hits += 1
        return values

    def _read_parsed(self, key, shape, label):
        return self._checked(lambda _: load_cached_array(self.folder, key), None, shape, label)

    def _checked(self, parse, data, shape, label):
        try:
            stored = parse(data)
        except (OSError, ValueError) as err:
            self.invalid.append((label, str(err)))
            return None
        if stored is None:
            return None
        problem = entry_problem(*stored, self.producer, shape)
        if problem is not None:
            self.invalid.append((label, problem))
            return None
        self.hits += 1
        return stored[1]

    def write(self, key: str, array: np.ndarray) -> bool:
        """Store ``array`` for ``key``; after the first failure, stop trying and return False."""
        if self.write_error is not None:
            return False
        try:
            if not self._tagged:
                # Before the first entry: a model folder holding this cache never fingerprints it.
                tag_cache_folder(self.folder)
                self._tagged = True
            save_cached_array(self.folder, key, array, self.producer)
        except OSError as err:
            self.write_error = err
            return False
        return True

    def warn(self, stacklevel: int = 2) -> None:
        """Emit one warning for the invalid entries read and one for a failed write, if any.

        What was reported is not reported again by a later call (reads and writes of
        one call may each end with one).
        """
        invalid, self.invalid = self.invalid, []
        write_error = None if self._write_warned else self.write_error
        self._write_warned = self._write_warned or write_error is not None
        if invalid:
            listing = "; ".join(f"{label}: {problem}" for label, problem in invalid[:ENTRIES_SHOWN])
            more = "; ..." if len(invalid) > ENTRIES_SHOWN else ""
            count = len(invalid)
            warnings.warn(
                InvalidCacheEntryWarning(
                    f"{self.owner} found {count} invalid cache entr{'y' if count == 1 else 'ies'} under "
                    f"cache_dir={os.fspath(self.cache_dir)!r} ({listing}{more}); they were not used but "
                    "recomputed, and replaced where the cache can be written."
                ),
                stacklevel=stacklevel + 1,
            )
        if write_error is not None:
            reason = str(write_error)
            if os.path.exists(self.cache_dir) and not os.path.isdir(self.cache_dir):
                reason += "; cache_dir is a file, not a folder"
            warnings.warn(
                CacheWriteWarning(
                    f"{self.owner} could not write its cache under cache_dir={os.fspath(self.cache_dir)!r} "
                    f"({reason}). The results are returned but not kept, so the next run computes them again: "
                    "make the folder writable, free disk space, or pass another cache_dir (or None)."
                ),
                stacklevel=stacklevel + 1,
            )
