"""Tests for skclip_sage.io._cache: keys, atomic .npy files, no pickles."""

import os

import numpy as np
import pytest
from PIL import Image

from skclip_sage.io._cache import (
    cache_key,
    cached_array_path,
    image_source_key,
    load_cached_array,
    save_cached_array,
)


def test_cache_key_is_a_sha256_hex_digest():
    key = cache_key("model", "prompt")
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == cache_key("model", "prompt")


def test_cache_key_separates_parts():
    assert cache_key("ab", "c") != cache_key("a", "bc")
    assert cache_key("a", "") != cache_key("a")


def test_cache_key_handles_unicode():
    assert cache_key("café 猫") != cache_key("cafe 猫")


def test_files_are_sharded_by_key_prefix(tmp_path):
    key = cache_key("x")
    assert cached_array_path(tmp_path, key) == tmp_path / key[:2] / f"{key}.npy"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_round_trip_is_exact(tmp_path, dtype):
    array = (np.random.default_rng(0).normal(size=(3, 5)) * 100).astype(dtype)
    save_cached_array(tmp_path, cache_key("a"), array)
    loaded = load_cached_array(tmp_path, cache_key("a"))
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def test_non_contiguous_arrays_are_saved(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    save_cached_array(tmp_path, "ab" * 32, array)
    np.testing.assert_array_equal(load_cached_array(tmp_path, "ab" * 32), array)


def test_missing_entry_is_a_miss(tmp_path):
    assert load_cached_array(tmp_path, cache_key("absent")) is None
    assert load_cached_array(tmp_path / "no" / "folder", cache_key("absent")) is None


def test_damaged_file_is_a_miss_and_can_be_overwritten(tmp_path):
    key = cache_key("damaged")
    path = cached_array_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x93NUMPY garbage")
    assert load_cached_array(tmp_path, key) is None
    save_cached_array(tmp_path, key, np.ones(2, np.float32))
    np.testing.assert_array_equal(load_cached_array(tmp_path, key), np.ones(2, np.float32))


def test_truncated_file_is_a_miss(tmp_path):
    key = cache_key("truncated")
    save_cached_array(tmp_path, key, np.ones(100, np.float32))
    path = cached_array_path(tmp_path, key)
    path.write_bytes(path.read_bytes()[:-40])
    assert load_cached_array(tmp_path, key) is None


def test_pickled_content_is_never_loaded(tmp_path):
    # A cache file holding a pickle (object array) must not be unpickled: that could run code.
    key = cache_key("pickle")
    path = cached_array_path(tmp_path, key)
    path.parent.mkdir(parents=True)
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert load_cached_array(tmp_path, key) is None


def test_object_arrays_are_refused_on_save(tmp_path):
    with pytest.raises(ValueError, match="allow_pickle"):
        save_cached_array(tmp_path, cache_key("object"), np.array([object()]))
    # The failed write leaves no temporary file behind.
    assert not list(tmp_path.rglob("*.tmp"))


def test_writes_leave_only_the_final_file(tmp_path):
    key = cache_key("clean")
    save_cached_array(tmp_path, key, np.zeros(3))
    save_cached_array(tmp_path, key, np.ones(3))  # overwrite in place
    assert [path.name for path in tmp_path.rglob("*") if path.is_file()] == [f"{key}.npy"]
    np.testing.assert_array_equal(load_cached_array(tmp_path, key), np.ones(3))


def _png(path, colour=(10, 20, 30)):
    Image.new("RGB", (4, 4), colour).save(path)
    return path


def test_file_key_is_stable_and_follows_mtime_and_size(tmp_path):
    path = _png(tmp_path / "a.png")
    first = image_source_key(path)
    assert first == image_source_key(str(path))
    status = os.stat(path)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    touched = image_source_key(path)
    assert touched != first
    with open(path, "ab") as file:  # same mtime, new size
        file.write(b"\0")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    assert image_source_key(path) not in (first, touched)


def test_relative_and_absolute_paths_share_a_key(tmp_path, monkeypatch):
    path = _png(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    assert image_source_key("a.png") == image_source_key(path)


def test_unicode_and_space_paths_are_keyed(tmp_path):
    path = _png(tmp_path / "café 猫 1.png")
    assert image_source_key(path) is not None


def test_distinct_files_have_distinct_keys(tmp_path):
    assert image_source_key(_png(tmp_path / "a.png")) != image_source_key(_png(tmp_path / "b.png"))


def test_missing_file_gets_no_key(tmp_path):
    assert image_source_key(tmp_path / "missing.png") is None


def test_in_memory_sources_are_keyed_by_content():
    array = np.zeros((4, 4, 3), np.uint8)
    other = array.copy()
    other[0, 0, 0] = 1
    assert image_source_key(array) == image_source_key(array.copy())
    assert image_source_key(array) != image_source_key(other)
    assert image_source_key(array) != image_source_key(array[:, :, :2].copy())  # shape is part of the key
    assert image_source_key(b"abc") == image_source_key(bytearray(b"abc"))
    assert image_source_key(b"abc") != image_source_key(b"abd")
    image = Image.fromarray(array)
    assert image_source_key(image) == image_source_key(Image.fromarray(array.copy()))
    assert image_source_key(image) != image_source_key(image.convert("L"))


def test_non_contiguous_array_is_keyed_like_its_copy():
    array = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)[:, ::2]
    assert image_source_key(array) == image_source_key(np.ascontiguousarray(array))


def test_unkeyable_source_gets_no_key():
    assert image_source_key(3.5) is None


def test_cache_file_is_plain_npy(tmp_path):
    key = cache_key("plain")
    save_cached_array(tmp_path, key, np.ones(4, np.float32))
    path = cached_array_path(tmp_path, key)
    assert path.read_bytes().startswith(b"\x93NUMPY")
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), np.ones(4, np.float32))
