"""Cache entries on disk: self-describing ``.npy`` records, read and written in one system call each.

Every cache of the library (per-image embeddings, text banks, the Dask resume
cache) writes its entries with :func:`save_cached_array`. A file is a plain
``.npy`` holding one record: the *producer* string naming what computed it
(model identity, precision, device kind, library version), so a reader can tell
another model's entry from its own, and the array. Never a pickle. Files live
at ``<directory>/<key[:2]>/<key>.npy`` so no folder grows too large, and every
such directory carries a ``CACHEDIR.TAG``.

For a given producer, dtype and shape every record starts with the same bytes
(the ``.npy`` header and the producer field), so :func:`read_expected` checks a
file by comparing that prefix and takes the array straight from the bytes read,
without parsing a header; anything else goes through ``numpy.load``
(:func:`load_cached_array`) to say what is wrong. A write is one temporary file, written whole and renamed over
the entry, so readers see the old file or the new one.
"""

from __future__ import annotations

import functools
import io
import os
import secrets
import threading
from pathlib import Path

import numpy as np

PRODUCER_FIELD, VALUES_FIELD = "producer", "values"
# O_EXCL: a temporary name that somehow exists already fails the write instead of being shared.
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


# The Cache Directory Tagging Specification (https://bford.info/cachedir/): every folder
# of cache entries carries this file, so backup tools skip it and a model folder's
# fingerprint can leave it out when cache_dir lies inside the model's own folder.
CACHE_TAG_NAME = "CACHEDIR.TAG"
CACHE_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
CACHE_TAG_TEXT = (
    f"{CACHE_TAG_SIGNATURE}\n"
    "# This folder holds skclip-sage cache entries (embeddings), which can be recomputed.\n"
    "# See https://bford.info/cachedir/ for what this file means.\n"
)


def is_cache_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is tagged as a cache (skclip-sage's, or any tool's following the tagging spec).

    Parameters
    ----------
    folder : path-like

    Returns
    -------
    tagged : bool
        True when ``folder/CACHEDIR.TAG`` starts with the specification's signature.
    """
    try:
        with open(os.path.join(folder, CACHE_TAG_NAME), "rb") as file:
            return file.read(len(CACHE_TAG_SIGNATURE)) == CACHE_TAG_SIGNATURE.encode()
    except OSError:
        return False


def tag_cache_folder(folder: str | os.PathLike) -> None:
    """Create ``folder`` if needed and tag it as a cache (atomically; a no-op when already tagged).

    Raises
    ------
    OSError
        The folder cannot be created or written.
    """
    if is_cache_folder(folder):
        return
    write_atomically(os.path.join(folder, CACHE_TAG_NAME), CACHE_TAG_TEXT.encode("ascii"))


def cached_array_path(directory: str | os.PathLike, key: str) -> Path:
    """Where the entry for ``key`` lives under ``directory``."""
    return Path(directory) / key[:2] / f"{key}.npy"


def _entry_path(directory, key: str) -> str:
    return os.path.join(directory, key[:2], key + ".npy")


def _record_dtype(producer: str, dtype: np.dtype, shape: tuple) -> np.dtype:
    return np.dtype([(PRODUCER_FIELD, f"<U{max(len(producer), 1)}"), (VALUES_FIELD, dtype, shape)])


@functools.lru_cache(maxsize=64)
def record_prefix(producer: str, dtype_str: str, shape: tuple) -> bytes:
    """The bytes every record of this producer, dtype and shape starts with: the header, then the producer."""
    dtype = np.dtype(dtype_str)
    record = np.zeros((), dtype=_record_dtype(producer, dtype, shape))
    record[PRODUCER_FIELD] = producer
    buffer = io.BytesIO()
    np.save(buffer, record, allow_pickle=False)
    whole = buffer.getvalue()
    return whole[: len(whole) - dtype.itemsize * int(np.prod(shape, dtype=np.int64))]


def read_expected(directory, key: str, producer: str, dtype: np.dtype, shape: tuple):
    """The array of ``key`` if its file is exactly a record of ``producer``, ``dtype`` and ``shape``.

    Returns
    -------
    values : ndarray, None or bytes
        The array (a writable copy) when the file is such a record; None when there is
        no file; the file's bytes when it is anything else (:func:`load_cached_array`
        then says what).

    Raises
    ------
    OSError
        The file exists but cannot be read (e.g. permissions).
    """
    try:
        descriptor = os.open(_entry_path(directory, key), _READ_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        return None
    prefix = record_prefix(producer, np.dtype(dtype).str, tuple(shape))
    size = len(prefix) + np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64))
    try:
        data = os.read(descriptor, size + 1)  # one byte more: a longer file is not a match
        if len(data) == size + 1:
            data += _read_rest(descriptor)
    finally:
        os.close(descriptor)
    if len(data) != size or not data.startswith(prefix):
        return data
    return np.frombuffer(data, dtype=dtype, offset=len(prefix)).reshape(shape).copy()  # writable, like np.load


def _read_rest(descriptor) -> bytes:
    parts = []
    while chunk := os.read(descriptor, 1 << 20):
        parts.append(chunk)
    return b"".join(parts)


def load_cached_array(directory: str | os.PathLike, key: str) -> tuple[str, np.ndarray] | None:
    """The ``(producer, array)`` stored for ``key``; None when there is no entry.

    Raises
    ------
    ValueError
        The file exists but is not a readable record (damaged, truncated, a
        pickle, or not written by this module); the message says which.
    OSError
        The file exists but cannot be read (e.g. permissions).
    """
    try:
        record = np.load(_entry_path(directory, key), allow_pickle=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except EOFError as err:
        raise ValueError("the file is empty or truncated") from err
    except ValueError as err:
        # numpy refuses object arrays (pickles) and damaged headers with ValueError.
        raise ValueError(f"the file is not a valid .npy record ({err})") from err
    if not isinstance(record, np.ndarray) or record.dtype.names != (PRODUCER_FIELD, VALUES_FIELD) or record.shape:
        raise ValueError(f"the file holds a {getattr(record, 'dtype', type(record))} array, not a cache record")
    return str(record[PRODUCER_FIELD]), np.array(record[VALUES_FIELD])


def save_cached_array(directory: str | os.PathLike, key: str, array: np.ndarray, producer: str) -> None:
    """Write ``array`` and its ``producer`` for ``key`` atomically: readers see the old file or the new one.

    Raises
    ------
    OSError
        The folder cannot be created or written (read-only, full disk, a file
        in the way); no partial or temporary file is left behind.
    ValueError
        ``array`` holds Python objects, which would need a pickle.
    """
    array = np.asarray(array)
    if array.dtype.hasobject:
        raise ValueError("cache entries never hold Python objects: they would need allow_pickle=True.")
    array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    data = record_prefix(producer, array.dtype.str, array.shape) + array.tobytes()
    write_atomically(_entry_path(directory, key), data)


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    The temporary name carries the process, the thread and a random token: Dask
    workers on several hosts sharing one ``cache_dir`` may have equal process ids.
    The folder is created on the first failure to open. The file gets the mode
    ``open()`` would give it (``0o666`` less the umask). Cache entries, the demo's
    file record and the HTML report are all written this way.

    Parameters
    ----------
    path : str or os.PathLike
        Where the file lands.
    data : bytes
        Its whole content.

    Raises
    ------
    OSError
        Nothing was written; no temporary file is left behind.
    """
    temporary = f"{path}.{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}.tmp"
    try:
        descriptor = open_temporary(temporary)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        descriptor = open_temporary(temporary)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(descriptor, view) :]
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
    except BaseException:
        # Also on KeyboardInterrupt: an interrupted write leaves no temporary file.
        Path(temporary).unlink(missing_ok=True)
        raise


def open_temporary(path: str) -> int:
    """Open (create or truncate) a temporary file for writing; where every cache write starts."""
    return os.open(path, _WRITE_FLAGS, 0o666)
