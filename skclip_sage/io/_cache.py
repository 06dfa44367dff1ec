"""Arrays cached on disk as ``.npy`` files: never pickles, atomic writes.

Keys are hex digests chosen by the caller; files live at
``<directory>/<key[:2]>/<key>.npy`` so no folder grows too large.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np


def cache_key(*parts: str) -> str:
    """A SHA-256 hex digest of the parts, separated so ("ab", "c") != ("a", "bc")."""
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def cached_array_path(directory: str | os.PathLike, key: str) -> Path:
    """Where the array for ``key`` lives under ``directory``."""
    return Path(directory) / key[:2] / f"{key}.npy"


def load_cached_array(directory: str | os.PathLike, key: str) -> np.ndarray | None:
    """The cached array for ``key``, or None when absent or unreadable.

    A damaged file (e.g. from a crash on another writer) counts as a miss; the
    caller recomputes and overwrites it.
    """
    path = cached_array_path(directory, key)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None


def save_cached_array(directory: str | os.PathLike, key: str, array: np.ndarray) -> None:
    """Write ``array`` for ``key`` atomically: readers see the old file or the new one."""
    path = cached_array_path(directory, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, np.ascontiguousarray(array), allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def image_source_key(source) -> str | None:
    """A cache key for one image source, or None when it cannot be keyed.

    Files are keyed by resolved path, size and modification time (no read needed,
    and any edit changes the key); in-memory images by a hash of their pixels.
    A missing file gets None, so it goes on to be read and reported.
    """
    from PIL import Image

    if isinstance(source, (str, os.PathLike)):
        try:
            status = os.stat(source)
        except OSError:
            return None
        return cache_key("file", os.path.realpath(source), str(status.st_size), str(status.st_mtime_ns))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return cache_key("bytes", hashlib.sha256(source).hexdigest())
    if isinstance(source, Image.Image):
        return cache_key("pil", source.mode, str(source.size), hashlib.sha256(source.tobytes()).hexdigest())
    if isinstance(source, np.ndarray):
        pixels = np.ascontiguousarray(source)
        return cache_key("array", str(pixels.dtype), str(pixels.shape), hashlib.sha256(pixels.data).hexdigest())
    return None
