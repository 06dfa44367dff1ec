"""Defensive image opening: a path, bytes, PIL image or array in, one RGB image out."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zlib
from typing import Union

import numpy as np
from PIL import Image, ImageOps

from ..exceptions import ImageLoadError

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Image.Image, np.ndarray]

# Pillow plugins raise all of these for malformed or truncated files, not just OSError.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, IndexError, TypeError, struct.error, zlib.error)
_BYTES_TYPES = (bytes, bytearray, memoryview)
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_NON_REGULAR_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a FIFO (named pipe)"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISSOCK, "is a socket"),
)
# White, not black: transparent web images (logos, icons, product cut-outs) are meant to be
# seen on a light page, often hold black under transparent pixels and dark foregrounds, and
# CLIP learned from such pages; compositing over black would turn many of them into a black square.
_BACKGROUND = (255, 255, 255, 255)
_BOMB_FIX = " Refusing to decode it; raise PIL.Image.MAX_IMAGE_PIXELS if you trust this file"


def describe_image_source(source: object, position: int | None = None) -> str:
    """Name an image source the same way in every message.

    Parameters
    ----------
    source : str, os.PathLike, bytes, PIL.Image.Image, ndarray or object
        An input as passed to :func:`open_image`.
    position : int or None, default=None
        Its index among the caller's inputs, added to the name of in-memory inputs.

    Returns
    -------
    description : str
        The path for paths, otherwise ``"<kind at position i>"`` (or ``"<kind>"``).

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage.io import describe_image_source
    >>> describe_image_source("photos/cat 1.jpg", 4)
    'photos/cat 1.jpg'
    >>> describe_image_source(np.zeros((2, 2), dtype=np.uint8), 3)
    '<array at position 3>'
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(os.fspath(source))
    kinds = ((_BYTES_TYPES, "bytes"), (Image.Image, "PIL image"), (np.ndarray, "array"))
    kind = next((text for types, text in kinds if isinstance(source, types)), type(source).__name__)
    return f"<{kind}>" if position is None else f"<{kind} at position {position}>"


def open_image(
    source: ImageSource,
    *,
    name: str | None = None,
    max_aspect_ratio: float | None = 100.0,
    draft_size: int | None = None,
) -> Image.Image:
    """Open, check and fully decode one image as an RGB ``PIL.Image.Image``.

    Parameters
    ----------
    source : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        A path to an image file (``str`` or ``pathlib.Path``; any characters), the
        encoded file content as ``bytes``, a PIL image (never modified; its current
        frame is used) or a ``uint8`` array of shape ``(H, W)``, ``(H, W, 3)`` or
        ``(H, W, 4)`` (grey, RGB, RGBA).
    name : str or None, default=None
        How errors and warnings name this input, e.g. ``"<image 3>"``; by default the
        path, or :func:`describe_image_source` for in-memory inputs.
    max_aspect_ratio : float or None, default=100.0
        Longest side over shortest side allowed, checked from the header before any pixel
        is decoded. CLIP preprocessing resizes the *short* side to 224 px, so a 1x20000
        image would become a 224x4480000 (3 GB) array before cropping; 100 caps that at
        about 15 MB while letting panoramas through. ``None`` disables the check.
    draft_size : int or None, default=None
        For JPEG files, let the decoder downscale by 1/2, 1/4 or 1/8 as long as both
        sides stay at least ``draft_size`` pixels (``Image.draft``): faster and lighter
        when the caller resizes to e.g. 224 anyway. Ignored for other inputs.

    Returns
    -------
    image : PIL.Image.Image
        Mode ``"RGB"``, pixels in memory, EXIF orientation applied, no file left open.

    Raises
    ------
    ImageLoadError
        Missing path, directory, FIFO, device or socket (checked with ``os.stat``
        before opening, so nothing blocks), empty or unidentifiable file ("cannot
        identify image file"), truncated data ("image file is truncated"), more than
        ``2 * PIL.Image.MAX_IMAGE_PIXELS`` pixels, an aspect ratio over
        ``max_aspect_ratio`` or a mode that cannot be converted.
    ValueError
        An array not ``uint8`` or not of an accepted shape; a limit out of its range.
    TypeError
        A source of any other type.

    Warns
    -----
    PIL.Image.DecompressionBombWarning
        Between 1x and 2x ``MAX_IMAGE_PIXELS`` pixels; the message names the input.

    Notes
    -----
    Conversion to RGB, by mode:

    - ``RGBA``, ``LA``, ``PA``, ``RGBa``, ``La`` and any mode with a ``transparency``
      key (palette or grey PNG/GIF): alpha-composited over opaque white.
    - ``1``: black and white become 0 and 255. ``L``, ``P``, ``CMYK``, ``YCbCr``,
      ``LAB``, ``HSV``: Pillow's ``convert("RGB")`` (CMYK without ICC colour management).
    - ``I;16*`` (16-bit): ``value >> 8``. ``I`` (32-bit): clipped to [0, 65535], then
      ``>> 8``, since Pillow uses it for 16-bit data. ``F``: clipped to [0, 1] and
      scaled to [0, 255] (NaN becomes 0); a fixed rule, so equal values give equal pixels.
    - Animated GIF, APNG and WebP: the first frame.

    ``ImageFile.LOAD_TRUNCATED_IMAGES`` is respected, not changed. Pillow's bomb warning
    is renamed inside ``warnings.catch_warnings``, which is not thread-safe before Python
    3.14 (other threads' warnings may be re-emitted from here): load in processes instead.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skclip_sage.io import open_image
    >>> open_image(np.zeros((2, 3), dtype=np.uint8)).size
    (3, 2)
    >>> buffer = io.BytesIO()
    >>> Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(buffer, "PNG")
    >>> open_image(buffer.getvalue()).getpixel((0, 0))
    (255, 255, 255)
    >>> open_image("no/such/file.jpg")
    Traceback (most recent call last):
    ...
    skclip_sage.exceptions.ImageLoadError: could not read image 'no/such/file.jpg': no such file or directory
    """
    label = name if name is not None else describe_image_source(source)
    if max_aspect_ratio is not None and not max_aspect_ratio >= 1:  # also rejects NaN
        raise ValueError(f"max_aspect_ratio must be None or >= 1; got {max_aspect_ratio!r}.")
    if draft_size is not None and draft_size < 1:
        raise ValueError(f"draft_size must be None or a positive int; got {draft_size!r}.")
    if isinstance(source, np.ndarray):
        return _convert_to_rgb(_image_from_array(source, label, max_aspect_ratio), label)
    if not isinstance(source, (str, os.PathLike, Image.Image, *_BYTES_TYPES)):
        raise TypeError(
            f"Cannot open {label}: expected a path (str or os.PathLike), bytes, "
            f"a PIL image or a uint8 numpy array; got {type(source).__name__}."
        )
    with warnings.catch_warnings(record=True) as caught:
        # Catch Pillow's bomb warning whatever the filters say, to re-emit it with a name.
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        if isinstance(source, Image.Image):
            image = _decode(source, label, max_aspect_ratio, None)
        elif isinstance(source, _BYTES_TYPES):
            image = _decode(io.BytesIO(source), label, max_aspect_ratio, draft_size)
        else:
            with _open_regular_file(source, label) as file:
                image = _decode(file, label, max_aspect_ratio, draft_size)
    _reemit_warnings(caught, label)
    return image


def _open_regular_file(path: str | os.PathLike[str], label: str) -> io.BufferedReader:
    """Open ``path`` for reading only if it is a non-empty regular file; never block."""
    try:
        # stat first: opening a FIFO blocks and opening some devices has side effects.
        status = os.stat(path)
    except FileNotFoundError as err:
        raise ImageLoadError(label, "no such file or directory") from err
    except (OSError, ValueError) as err:  # permissions, loops, embedded NUL byte ...
        raise ImageLoadError(label, getattr(err, "strerror", None) or str(err)) from err
    _check_regular_file(status, label)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as err:
        raise ImageLoadError(label, err.strerror or str(err)) from err
    try:
        # The path may have been swapped since stat; O_NONBLOCK (no effect on regular
        # files) kept this open from blocking, and fstat checks what was really opened.
        _check_regular_file(os.fstat(descriptor), label)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def _check_regular_file(status: os.stat_result, label: str) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = next(
            (description for is_kind, description in _NON_REGULAR_KINDS if is_kind(status.st_mode)), "is a special file"
        )
        raise ImageLoadError(label, f"{kind}, not an image file")
    if status.st_size == 0:
        raise ImageLoadError(label, "cannot identify image file (the file is empty)")


def _decode(
    source: Image.Image | io.IOBase, label: str, max_aspect_ratio: float | None, draft_size: int | None
) -> Image.Image:
    """Read the header, check the size, decode the (first) frame, orient, convert to RGB."""
    try:
        image = source if isinstance(source, Image.Image) else Image.open(source)
        _check_size(image.size, label, max_aspect_ratio)  # before any pixel is decoded
        if draft_size is not None:
            image.draft(None, (draft_size, draft_size))  # a no-op for non-JPEG formats
        image.load()  # the first frame: Image.open leaves animations on frame 0
    except ImageLoadError:
        raise  # from _check_size, already worded
    except Image.UnidentifiedImageError as err:
        raise ImageLoadError(
            label, "cannot identify image file (not an image, or a format Pillow cannot read)"
        ) from err
    except Image.DecompressionBombError as err:  # not an OSError; raised by open or load
        raise ImageLoadError(label, f"{err}{_BOMB_FIX}") from err
    except _DECODE_ERRORS as err:
        raise ImageLoadError(label, _decode_reason(err)) from err
    try:
        oriented = ImageOps.exif_transpose(image)  # a copy: a caller's image is not modified
    except _DECODE_ERRORS as err:
        warnings.warn(f"Ignoring the unreadable EXIF orientation of {label!r} ({err}).", UserWarning, stacklevel=2)
        oriented = image.copy()
    return _convert_to_rgb(oriented, label)


def _check_size(size: tuple[int, int], label: str, max_aspect_ratio: float | None) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageLoadError(label, f"image has no pixels (size {width}x{height})")
    if max_aspect_ratio is not None and max(size) / min(size) > max_aspect_ratio:
        raise ImageLoadError(
            label,
            f"aspect ratio of {width}x{height} is over max_aspect_ratio="
            f"{max_aspect_ratio:g}; resizing its short side for CLIP would need a huge "
            "array. Crop it, or pass max_aspect_ratio=None if that is intended",
        )


def _image_from_array(array: np.ndarray, label: str, max_aspect_ratio: float | None) -> Image.Image:
    if array.dtype != np.uint8:
        raise ValueError(
            f"Image array {label} has dtype {array.dtype}; only uint8 (0-255) is "
            "accepted. Convert it, e.g. (array * 255).round().astype(np.uint8) "
            "for floats in [0, 1]."
        )
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"Image array {label} has shape {array.shape}; expected (H, W), (H, W, 3) or (H, W, 4).")
    _check_size((array.shape[1], array.shape[0]), label, max_aspect_ratio)
    # fromarray may share memory with the array; _convert_to_rgb always returns a copy.
    return Image.fromarray(np.ascontiguousarray(array))


def _convert_to_rgb(image: Image.Image, label: str) -> Image.Image:
    """Apply the documented mode conversions; always returns a new RGB image."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image)
        if mode == "F":
            scaled = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * 255.0
            grey = np.round(scaled).astype(np.uint8)
        else:  # I;16 variants hold 0..65535; "I" is Pillow's container for 16-bit data
            grey = (np.clip(values, 0, 65535).astype(np.uint16) >> 8).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    try:
        if mode in _ALPHA_MODES or "transparency" in image.info:
            rgba = (image.convert("LA") if mode == "La" else image).convert("RGBA")
            background = Image.new("RGBA", image.size, _BACKGROUND)
            return Image.alpha_composite(background, rgba).convert("RGB")
        return image.convert("RGB")  # "1" maps to 0/255; same-mode convert still copies
    except ValueError as err:
        raise ImageLoadError(label, f"cannot convert image mode {mode!r} to RGB") from err


def _decode_reason(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, EOFError) or "truncated" in text.lower():
        # Pillow words truncation differently per format; keep one searchable phrase.
        prefix = "image file is truncated"
        return text if text.startswith(prefix) else f"{prefix} ({text})"
    return f"cannot decode image ({type(err).__name__}: {text})"


def _reemit_warnings(caught: list[warnings.WarningMessage], label: str) -> None:
    for record in caught:
        if not issubclass(record.category, Image.DecompressionBombWarning):
            warnings.warn_explicit(
                record.message, record.category, record.filename, record.lineno, source=record.source
            )
            continue
        try:
            warnings.warn(f"{label!r}: {record.message}", Image.DecompressionBombWarning, stacklevel=3)
        except Image.DecompressionBombWarning as err:  # filters turned the warning into an error
            raise ImageLoadError(label, f"{record.message}{_BOMB_FIX}") from err
