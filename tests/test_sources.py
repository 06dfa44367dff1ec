"""Tests for skclip_sage.io._sources: what counts as a collection of images."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skclip_sage.io._sources import as_image_sources


def test_list_of_paths_keeps_order_and_types():
    paths = ["b.jpg", Path("a.png"), "dir with space/ça.jpg"]
    sources = as_image_sources(paths)
    assert sources.items == paths
    assert sources.index is None and sources.column is None


def test_generator_and_tuple_are_accepted():
    assert as_image_sources(path for path in ["a.jpg", "b.jpg"]).items == ["a.jpg", "b.jpg"]
    assert as_image_sources(("a.jpg",)).items == ["a.jpg"]


@pytest.mark.parametrize("single", ["cat.jpg", Path("cat.jpg"), b"\xff\xd8", bytearray(b"\xff"), memoryview(b"x")])
def test_a_single_path_or_bytes_object_is_rejected(single):
    # RELIABILITY 24: a str is iterable, so it would otherwise become one "path" per character.
    with pytest.raises(ValueError, match="iterable over image paths.*Wrap it in a list"):
        as_image_sources(single)


def test_a_single_pil_image_is_rejected():
    with pytest.raises(ValueError, match=r"wrap a single PIL image in a list"):
        as_image_sources(Image.new("RGB", (2, 2)))


def test_a_non_iterable_is_rejected():
    with pytest.raises(ValueError, match="iterable of images; got int"):
        as_image_sources(3)


@pytest.mark.parametrize("bad", [3.5, 7, {"path": "a.jpg"}])
def test_an_item_of_another_type_is_named_by_position(bad):
    with pytest.raises(ValueError, match=r"item at position 1 \("):
        as_image_sources(["a.jpg", bad])


def test_mixed_in_memory_items_are_accepted():
    items = [b"bytes", Image.new("RGB", (2, 2)), np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint8)]
    assert len(as_image_sources(items).items) == 4


def test_uint8_batch_array_is_split_into_images():
    images = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    items = as_image_sources(images).items
    assert len(items) == 2
    np.testing.assert_array_equal(items[1], images[1])


def test_uint8_rgba_batch_is_accepted():
    assert len(as_image_sources(np.zeros((3, 4, 4, 4), np.uint8)).items) == 3


@pytest.mark.parametrize("shape", [(4, 5, 3), (2, 4, 5), (2, 4, 5, 2), (2, 4, 5, 1), (2, 1)])
def test_uint8_arrays_of_other_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match=r"uint8 image array of shape \(n_images, height, width, 3\)"):
        as_image_sources(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_non_uint8_pixel_arrays_are_rejected_with_the_conversion(dtype):
    with pytest.raises(ValueError, match=r"uint8 \(0-255\).*got dtype"):
        as_image_sources(np.zeros((2, 4, 4, 3), dtype))


def test_one_column_2d_array_of_paths():
    assert as_image_sources(np.array([["a.jpg"], ["b.jpg"]], dtype=object)).items == ["a.jpg", "b.jpg"]


def test_two_column_2d_array_is_rejected():
    with pytest.raises(ValueError, match=r"one-column 2-D array of paths; got shape \(2, 2\)"):
        as_image_sources(np.array([["a.jpg", "b"], ["c", "d"]], dtype=object))


def test_numpy_string_array_items_are_str():
    items = as_image_sources(np.array(["a.jpg", "b.jpg"])).items
    assert items == ["a.jpg", "b.jpg"] and all(isinstance(item, str) for item in items)


def test_series_keeps_index_and_name():
    series = pd.Series(["a.jpg", "b.jpg"], index=[10, 20], name="path")
    sources = as_image_sources(series)
    assert sources.items == ["a.jpg", "b.jpg"]
    assert list(sources.index) == [10, 20] and sources.column == "path"


def test_one_column_dataframe_keeps_index_and_column():
    frame = pd.DataFrame({"file": ["a.jpg", "b.jpg"]}, index=["x", "y"])
    sources = as_image_sources(frame)
    assert sources.items == ["a.jpg", "b.jpg"]
    assert list(sources.index) == ["x", "y"] and sources.column == "file"


def test_multi_column_dataframe_names_its_columns_and_the_fix():
    frame = pd.DataFrame({"path": ["a.jpg"], "age": [3]})
    with pytest.raises(ValueError, match=r"2 columns \['path', 'age'\].*ColumnTransformer"):
        as_image_sources(frame)


def test_missing_value_in_a_path_column_is_named():
    frame = pd.DataFrame({"path": ["a.jpg", None, "c.jpg"]})
    with pytest.raises(ValueError, match="missing value .None or NaN. at position 1.*dropna"):
        as_image_sources(frame)


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan])
def test_missing_item_in_a_list_is_named(missing):
    with pytest.raises(ValueError, match="missing value .None or NaN. at position 2"):
        as_image_sources(["a.jpg", "b.jpg", missing])


def test_owner_is_named_in_messages():
    with pytest.raises(ValueError, match="^MyEstimator expects"):
        as_image_sources("a.jpg", owner="MyEstimator")


def test_empty_list_gives_no_items():
    assert as_image_sources([]).items == []


def test_non_uint8_array_items_are_rejected_up_front():
    with pytest.raises(ValueError, match="array at position 1 has dtype float64"):
        as_image_sources([np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3))])
