"""Small inline thumbnails for the HTML report: a ``data:`` URI per image, so the page needs no file.

A thumbnail's longest side is at most ``size`` pixels, encoded as JPEG (quality 80;
PNG for images with few colours, where it is smaller and sharper), so one costs 1 to
4 KB of base64 and a page's images stay within its stated caps times that.
"""

from __future__ import annotations

import base64
import io
import logging

from ..exceptions import ImageLoadError
from ..io import describe_image_source, open_image

__all__ = ["image_name", "thumbnail_uri"]

LOGGER = logging.getLogger(__name__)
# Digits, icons and drawings have few colours: PNG keeps their edges at a smaller size than JPEG.
FEW_COLOURS = 64


def image_name(source, position):
    """How the page names an image: its path as given, or a description of an in-memory input."""
    return describe_image_source(source, position)


def thumbnail_uri(source, size=64):
    """A ``data:image/...;base64,`` URI of ``source`` shrunk to at most ``size`` pixels a side.

    Parameters
    ----------
    source : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        An image as :func:`skclip_sage.io.open_image` takes it.
    size : int, default=64
        Longest side in pixels.

    Returns
    -------
    uri : str or None
        None when the image cannot be read (the page then names it without a picture).
    """
    try:
        image = open_image(source, draft_size=size)
    except ImageLoadError as err:
        LOGGER.info("no thumbnail for %s: %s", image_name(source, None), err)
        return None
    image.thumbnail((size, size))
    buffer = io.BytesIO()
    few_colours = image.getcolors(FEW_COLOURS) is not None
    if few_colours:
        image.quantize(FEW_COLOURS).save(buffer, format="PNG", optimize=True)
        kind = "png"
    else:
        image.save(buffer, format="JPEG", quality=80, optimize=True)
        kind = "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
