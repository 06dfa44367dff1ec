"""Cache keys: what a cached row depends on, hashed once per entry.

A key is a SHA-256 over length-prefixed parts: the record format, the
*producer* (model identity, precision, device kind, library version), the
cache's kind and the entry's own parts (an image's state, the prompts).
:func:`key_maker` hashes the first three once per call and copies that state
for each entry, so keying n images costs n hashes of their own parts only.
"""

from __future__ import annotations

import hashlib
import os
from typing import Callable

import numpy as np

from .. import __version__

# Part of every key: bump it when the record layout changes, so old files stop matching.
CACHE_FORMAT = "skclip-sage cache record v2"


def _feed(digest, parts) -> None:
    for part in parts:
        # surrogateescape: a file name that is not valid UTF-8 (os.fsdecode gives it
        # lone surrogates) keys as its own bytes instead of failing.
        encoded = part.encode("utf-8", "surrogateescape")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)


def cache_key(*parts: str) -> str:
    """A SHA-256 hex digest of the parts, separated so ("ab", "c") != ("a", "bc")."""
    digest = hashlib.sha256()
    _feed(digest, parts)
    return digest.hexdigest()


def key_maker(producer: str, kind: str) -> Callable[..., str]:
    """``key(*parts)``, equal to ``entry_key(producer, kind, *parts)``, with the common prefix hashed once."""
    prefix = hashlib.sha256()
    _feed(prefix, (CACHE_FORMAT, producer, kind))

    def key(*parts: str) -> str:
        digest = prefix.copy()
        _feed(digest, parts)
        return digest.hexdigest()

    return key


def entry_key(producer: str, kind: str, *parts: str) -> str:
    """The key of one cache entry: its producer, the cache's kind and the entry's own parts.

    Parameters
    ----------
    producer : str
        From :func:`producer_of`.
    kind : str
        The cache, e.g. ``"image_embeddings"``, ``"text_banks"``.
    *parts : str
        What identifies the entry within it (an image's parts, the prompts).

    Returns
    -------
    key : str
        A SHA-256 hex digest.
    """
    return cache_key(CACHE_FORMAT, producer, kind, *parts)


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


def image_key_parts(source) -> tuple[str, ...] | None:
    """What identifies one image source in a key, or None when it cannot be keyed.

    The parts hold everything that decides the pixels the model is fed:

    - a file: its absolute path, inode number, size, and modification and
      status-change times in nanoseconds (one ``os.stat``, no read). Any write
      changes the status-change time, even when the modification time is put
      back, and a file replaced by another (``cp -p``, ``rsync -t``, a rename)
      has a new inode, so either recomputes;
    - bytes: a SHA-256 of the bytes;
    - a PIL image: its mode, size, pixels (current frame) and what the
      conversion to RGB reads besides them: the palette, ``info["transparency"]``
      and the EXIF orientation;
    - an array: its dtype, shape and a SHA-256 of its bytes.

    A missing file gets None, so it goes on to be read and reported. The first
    part names the kind, and each kind has a fixed number of parts, so the parts
    of several sources in a row (a partition) stay unambiguous.
    """
    from PIL import Image

    if isinstance(source, (str, os.PathLike)):
        try:
            status = os.stat(source)
        except (OSError, ValueError):
            return None
        # abspath, not realpath: the inode already tells files apart, and realpath costs an lstat per component.
        return ("file", os.path.abspath(os.fsdecode(source)), *file_state(status))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return ("bytes", hashlib.sha256(source).hexdigest())
    if isinstance(source, Image.Image):
        try:
            state = pil_conversion_state(source)
            pixels = hashlib.sha256(source.tobytes()).hexdigest()
        except Exception:  # noqa: BLE001 - an image that cannot even be read is decoded, and reported, there
            return None
        return ("pil", source.mode, str(source.size), pixels, *state)
    if isinstance(source, np.ndarray):
        pixels = np.ascontiguousarray(source)
        return ("array", str(pixels.dtype), str(pixels.shape), hashlib.sha256(pixels.data).hexdigest())
    return None


def image_source_key(source) -> str | None:
    """A SHA-256 of :func:`image_key_parts`, or None when the source cannot be keyed."""
    parts = image_key_parts(source)
    return None if parts is None else cache_key(*parts)


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
