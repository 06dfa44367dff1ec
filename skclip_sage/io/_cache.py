"""Cache entries on disk: one key builder, self-describing ``.npy`` records, atomic writes.

Every cache of the library (per-image embeddings, text banks, the Dask resume
cache) keys its entries with :func:`entry_key` and writes them with
:func:`save_cached_array`. A file is a plain ``.npy`` holding one record: the
array and the *producer* string naming what computed it (model identity,
precision, device kind, library version), so a reader can tell another model's
entry from its own. Never a pickle. Files live at
``<directory>/<key[:2]>/<key>.npy`` so no folder grows too large.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__

# Part of every key: bump it when the record layout changes, so old files stop matching.
CACHE_FORMAT = "skclip-sage cache record v2"
PRODUCER_FIELD, VALUES_FIELD = "producer", "values"


def cache_key(*parts: str) -> str:
    """A SHA-256 hex digest of the parts, separated so ("ab", "c") != ("a", "bc")."""
    digest = hashlib.sha256()
    for part in parts:
        # surrogateescape: a file name that is not valid UTF-8 (os.fsdecode gives it
        # lone surrogates) keys as its own bytes instead of failing.
        encoded = part.encode("utf-8", "surrogateescape")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def producer_of(encoder) -> str | None:
    """What an encoder's embeddings depend on besides their inputs, or None if it has no identity.

    The model identity (names, tags or weight-file fingerprints), the autocast
    precision and the device kind all change the numbers; the library version
    guards against a change in how embeddings are post-processed.

    Parameters
    ----------
    encoder : object
        Read for ``identity``, ``resolved_precision`` (else ``precision``) and
        ``device`` (absent ones are written as ``unspecified`` and ``cpu``).

    Returns
    -------
    producer : str or None
    """
    identity = getattr(encoder, "identity", None)
    if identity is None:
        return None
    device = getattr(encoder, "device", "cpu")
    device_kind = getattr(device, "type", None) or str(device).split(":")[0]
    # The precision really used ("auto" differs between GPUs), where the encoder can say.
    precision = getattr(encoder, "resolved_precision", None) or getattr(encoder, "precision", None) or "unspecified"
    return f"model={identity} | precision={precision} | device={device_kind} | skclip-sage={__version__}"


def entry_key(producer: str, kind: str, *parts: str) -> str:
    """The key of one cache entry: its producer, the cache's kind and the entry's own parts.

    Parameters
    ----------
    producer : str
        From :func:`producer_of`.
    kind : str
        The cache, e.g. ``"image"``, ``"text bank"``, ``"partition"``.
    *parts : str
        What identifies the entry within it (an image's key, the prompts).

    Returns
    -------
    key : str
        A SHA-256 hex digest.
    """
    return cache_key(CACHE_FORMAT, producer, kind, *parts)


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
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(CACHE_TAG_TEXT.encode("ascii"))
        os.replace(temporary, os.path.join(folder, CACHE_TAG_NAME))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def cached_array_path(directory: str | os.PathLike, key: str) -> Path:
    """Where the entry for ``key`` lives under ``directory``."""
    return Path(directory) / key[:2] / f"{key}.npy"


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
    path = cached_array_path(directory, key)
    try:
        record = np.load(path, allow_pickle=False)
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
    record = np.empty(
        (), dtype=[(PRODUCER_FIELD, f"U{max(len(producer), 1)}"), (VALUES_FIELD, array.dtype, array.shape)]
    )
    record[PRODUCER_FIELD] = producer
    record[VALUES_FIELD] = array
    path = cached_array_path(directory, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, record, allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        # Also on KeyboardInterrupt: an interrupted write leaves no temporary file.
        Path(temporary).unlink(missing_ok=True)
        raise


def image_source_key(source) -> str | None:
    """A cache key for one image source, or None when it cannot be keyed.

    Each key holds everything that decides the pixels the model is fed:

    - a file: its resolved path, inode number, size, and modification and
      status-change times in nanoseconds (one ``os.stat``, no read). Any
      write changes the status-change time, even when the modification time is
      put back, and a file replaced by another (``cp -p``, ``rsync -t``, a
      rename) has a new inode, so either recomputes;
    - bytes: a SHA-256 of the bytes;
    - a PIL image: its mode, size, pixels (current frame) and what the
      conversion to RGB reads besides them (:func:`pil_conversion_state`);
    - an array: its dtype, shape and a SHA-256 of its bytes.

    A missing file gets None, so it goes on to be read and reported.
    """
    from PIL import Image

    if isinstance(source, (str, os.PathLike)):
        try:
            status = os.stat(source)
        except OSError:
            return None
        return cache_key("file", os.path.realpath(source), *file_state(status))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return cache_key("bytes", hashlib.sha256(source).hexdigest())
    if isinstance(source, Image.Image):
        try:
            state = pil_conversion_state(source)
            pixels = hashlib.sha256(source.tobytes()).hexdigest()
        except Exception:  # noqa: BLE001 - an image that cannot even be read is decoded, and reported, there
            return None
        return cache_key("pil", source.mode, str(source.size), pixels, *state)
    if isinstance(source, np.ndarray):
        pixels = np.ascontiguousarray(source)
        return cache_key("array", str(pixels.dtype), str(pixels.shape), hashlib.sha256(pixels.data).hexdigest())
    return None


def file_state(status: os.stat_result) -> tuple[str, ...]:
    """What a file's key holds from its ``os.stat``: inode, size, mtime and ctime (ns)."""
    return (
        f"ino={status.st_ino}",
        f"size={status.st_size}",
        f"mtime={status.st_mtime_ns}",
        f"ctime={status.st_ctime_ns}",
    )


def pil_conversion_state(image) -> tuple[str, ...]:
    """What turning a PIL image into the model's RGB input reads besides its mode, size and pixels.

    The palette (a ``P`` or ``PA`` image's colours), ``info["transparency"]``
    (composited over white) and the EXIF orientation (applied by
    ``ImageOps.exif_transpose``, which also reads an XMP orientation).
    """
    palette = image.palette if image.mode in ("P", "PA") else None
    palette_part = (
        "palette=none"
        if palette is None
        else f"palette={palette.mode}:" + hashlib.sha256(palette.tobytes()).hexdigest()
    )
    orientation = image.getexif().get(0x0112) if hasattr(image, "getexif") else None
    return (palette_part, f"transparency={image.info.get('transparency')!r}", f"orientation={orientation!r}")
