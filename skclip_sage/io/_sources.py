"""Turn what users pass as "images" into a flat list of image sources.

Accepted: a sequence of paths (str or os.PathLike), encoded bytes, PIL images or
uint8 arrays; a uint8 array of shape (n, H, W, 3); a pandas Series, or a
one-column DataFrame / 2-D array of paths (the shape ColumnTransformer passes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

_ITEM_TYPES = (str, os.PathLike, bytes, bytearray, memoryview, Image.Image, np.ndarray)


@dataclass
class ImageSources:
    """Image sources with what a DataFrame input carried along.

    Attributes
    ----------
    items : list
        One source per image, in input order.
    index : pandas.Index or None
        The input's index, for DataFrame/Series inputs.
    column : str or None
        The name of the single input column, when it had one.
    """

    items: list
    index: object = None
    column: object = None


def as_image_sources(images, *, owner: str = "ClipImageEmbedder") -> ImageSources:
    """Validate and flatten an image collection.

    Parameters
    ----------
    images : sequence, ndarray, pandas Series or one-column DataFrame
        See the module docstring.
    owner : str, default="ClipImageEmbedder"
        Named in error messages.

    Returns
    -------
    sources : ImageSources

    Examples
    --------
    >>> as_image_sources(["a.jpg", "b.png"]).items
    ['a.jpg', 'b.png']
    """
    if isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview)):
        # A str is iterable (its characters), so without this check "cat.jpg" would
        # become seven one-letter "paths".
        raise ValueError(
            f"{owner} expects an iterable over image paths; a single {type(images).__name__} object was "
            "received. Wrap it in a list: [path]."
        )
    if isinstance(images, Image.Image):
        raise ValueError(f"{owner} expects a list of images; wrap a single PIL image in a list: [image].")
    index = getattr(images, "index", None) if hasattr(images, "iloc") else None
    column = None
    if hasattr(images, "columns"):  # DataFrame
        if images.shape[1] != 1:
            raise ValueError(
                f"{owner} takes one column of image paths; got a DataFrame with {images.shape[1]} columns "
                f"{list(images.columns)}. Select the path column, e.g. in ColumnTransformer: "
                "(embedder, ['path'])."
            )
        column = images.columns[0]
        images = images.iloc[:, 0]
    if hasattr(images, "iloc"):  # Series
        column = column if column is not None else images.name
        items = images.tolist()
    elif isinstance(images, np.ndarray):
        items = _array_items(images, owner)
    else:
        try:
            items = list(images)
        except TypeError as err:
            raise ValueError(f"{owner} expects an iterable of images; got {type(images).__name__}.") from err
    for position, item in enumerate(items):
        if item is None or (isinstance(item, float) and item != item):
            raise ValueError(
                f"{owner} got a missing value (None or NaN) at position {position} instead of an image; "
                "drop the rows without an image path first, e.g. frame.dropna(subset=[column])."
            )
        if not isinstance(item, _ITEM_TYPES):
            raise ValueError(
                f"{owner} cannot use the item at position {position} ({type(item).__name__}: {item!r:.80}); "
                "pass file paths, bytes, PIL images or uint8 arrays."
            )
        if isinstance(item, np.ndarray) and item.dtype != np.uint8:
            # A wrong dtype is a caller's mistake, not an unreadable image: fail before
            # on_error="warn" could turn it into a NaN row.
            raise ValueError(
                f"{owner} takes image arrays as uint8 (0-255); the array at position {position} has dtype "
                f"{item.dtype}. Convert it, e.g. (image * 255).round().astype(np.uint8) for floats in [0, 1]."
            )
    return ImageSources(items, index, column)


def is_one_shot_iterator(images) -> bool:
    """Whether ``images`` can be read only once (a generator, ``map``, ``Path.glob``, ``iter(list)``).

    Such an input is its own iterator; reading it to check it would leave nothing
    for the call that embeds it.

    Examples
    --------
    >>> is_one_shot_iterator(iter(["a.jpg"])), is_one_shot_iterator(["a.jpg"])
    (True, False)
    """
    try:
        return iter(images) is images
    except TypeError:
        return False


def _array_items(images: np.ndarray, owner: str) -> list:
    if images.dtype == np.uint8:
        if images.ndim == 4 and images.shape[-1] in (3, 4):
            return list(images)
        raise ValueError(
            f"{owner} takes a uint8 image array of shape (n_images, height, width, 3); got shape "
            f"{images.shape}. Pass a list for a single image or grayscale images."
        )
    if images.ndim >= 3:
        # Pixel data in another dtype: converting it silently (scale? clip?) would
        # change the input, so say what is expected instead.
        raise ValueError(
            f"{owner} takes image arrays as uint8 (0-255) of shape (n_images, height, width, 3); got dtype "
            f"{images.dtype} and shape {images.shape}. Convert it, e.g. (images * 255).round().astype(np.uint8) "
            "for floats in [0, 1]."
        )
    if images.ndim == 2 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 1:
        raise ValueError(f"{owner} takes a 1-D array or a one-column 2-D array of paths; got shape {images.shape}.")
    return images.tolist()
