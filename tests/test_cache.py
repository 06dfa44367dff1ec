"""Tests for the caches: one key builder, self-describing atomic records, checks on read.

skclip_sage.io._cache (keys, records), skclip_sage.io._checked_cache (entry checks,
one warning per call) and the text-bank cache built on them (RELIABILITY 34, 35).
"""

import errno
import os
import re
import warnings

import numpy as np
import pytest
from fakes import HashTextEncoder
from PIL import Image

import skclip_sage
from skclip_sage import SageZeroShotClassifier
from skclip_sage.exceptions import CacheWriteWarning, InvalidCacheEntryWarning
from skclip_sage.io._cache import cached_array_path, load_cached_array, save_cached_array
from skclip_sage.io._checked_cache import CheckedCache, entry_problem
from skclip_sage.io._keys import cache_key, entry_key, image_source_key, producer_of
from skclip_sage.prompts import clear_text_bank_cache, encode_text_bank

PRODUCER = "model=m | precision=fp32 | device=cpu | skclip-sage=0"


def _unit_rows(shape, seed=0):
    rows = np.random.default_rng(seed).normal(size=shape)
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


# --- keys ------------------------------------------------------------------------------


def test_cache_key_is_a_sha256_hex_digest_that_separates_parts():
    key = cache_key("model", "prompt")
    assert len(key) == 64 and int(key, 16) >= 0 and key == cache_key("model", "prompt")
    assert cache_key("ab", "c") != cache_key("a", "bc")
    assert cache_key("a", "") != cache_key("a")
    assert cache_key("café 猫") != cache_key("cafe 猫")


class _Encoder:
    def __init__(self, identity="m", precision="fp32", device="cpu"):
        self.identity, self.precision, self.device = identity, precision, device


def test_producer_names_model_precision_device_kind_and_version():
    producer = producer_of(_Encoder("ViT-B-32|laion", "bf16", "cuda:1"))
    assert producer == f"model=ViT-B-32|laion | precision=bf16 | device=cuda | skclip-sage={skclip_sage.__version__}"
    torch = pytest.importorskip("torch")
    assert producer_of(_Encoder(device=torch.device("cuda", 3))) == producer_of(_Encoder(device="cuda"))
    assert producer_of(_Encoder(identity=None)) is None

    class Bare:
        identity = "bare"

    assert "precision=unspecified | device=cpu" in producer_of(Bare())


def test_the_producer_names_the_precision_really_used(tiny_model):
    # "auto" is fp32 on the CPU (bf16 or fp16 on a GPU, by GPU): the key follows what runs.
    from skclip_sage.encoders import load_encoder

    auto, fp32, bf16 = (load_encoder(tiny_model, device="cpu", precision=name) for name in ("auto", "fp32", "bf16"))
    assert auto.resolved_precision == "fp32" and bf16.resolved_precision == "bf16"
    assert producer_of(auto) == producer_of(fp32) != producer_of(bf16)


@pytest.mark.parametrize(
    "other", [_Encoder("other"), _Encoder(precision="bf16"), _Encoder(device="cuda"), _Encoder(device="cuda:0")]
)
def test_every_part_of_the_producer_changes_the_key(other):
    # The image cache used to leave out device and precision; one builder serves all caches now.
    assert entry_key(producer_of(_Encoder()), "kind", "a") != entry_key(producer_of(other), "kind", "a")


def test_entry_key_separates_kinds_and_parts():
    keys = {entry_key(PRODUCER, "image", "a"), entry_key(PRODUCER, "text", "a"), entry_key(PRODUCER, "image", "b")}
    assert len(keys) == 3 and all(len(key) == 64 for key in keys)


# --- records on disk ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_round_trip_is_exact_and_keeps_the_producer(tmp_path, dtype):
    array = (np.random.default_rng(0).normal(size=(3, 5)) * 100).astype(dtype)
    save_cached_array(tmp_path, cache_key("a"), array, PRODUCER)
    producer, loaded = load_cached_array(tmp_path, cache_key("a"))
    assert producer == PRODUCER and loaded.dtype == array.dtype and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, array)


def test_files_are_sharded_plain_npy(tmp_path):
    key = cache_key("plain")
    assert cached_array_path(tmp_path, key) == tmp_path / key[:2] / f"{key}.npy"
    save_cached_array(tmp_path, key, np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2], PRODUCER)
    record = np.load(cached_array_path(tmp_path, key), allow_pickle=False)  # readable without skclip-sage
    assert str(record["producer"]) == PRODUCER
    np.testing.assert_array_equal(record["values"], [[0, 2], [4, 6], [8, 10]])


def test_missing_entry_is_a_miss(tmp_path):
    assert load_cached_array(tmp_path, cache_key("absent")) is None
    assert load_cached_array(tmp_path / "no" / "folder", cache_key("absent")) is None
    (tmp_path / "file").write_text("")
    assert load_cached_array(tmp_path / "file", cache_key("absent")) is None  # a file where a folder should be


def _forge(tmp_path, key, content: bytes):
    path = cached_array_path(tmp_path, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda path: path.write_bytes(b"\x93NUMPY garbage"), "not a valid .npy"),
        (lambda path: path.write_bytes(path.read_bytes()[:-40]), "not a valid .npy record.*not fully written"),
        (lambda path: path.write_bytes(b""), "empty or truncated"),
        (lambda path: np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True), "not a valid .npy"),
        (lambda path: np.save(path, np.ones(4, np.float32)), "not a cache record"),  # a bare array: no producer
    ],
)
def test_damaged_pickled_or_foreign_files_are_refused(tmp_path, write, message):
    key = cache_key("damaged")
    save_cached_array(tmp_path, key, np.ones(100, np.float32), PRODUCER)
    write(cached_array_path(tmp_path, key))
    with pytest.raises(ValueError, match=message):
        load_cached_array(tmp_path, key)
    save_cached_array(tmp_path, key, np.ones(2, np.float32), PRODUCER)  # and it can be overwritten
    np.testing.assert_array_equal(load_cached_array(tmp_path, key)[1], np.ones(2, np.float32))


def test_object_arrays_are_refused_on_save(tmp_path):
    with pytest.raises(ValueError, match="allow_pickle"):
        save_cached_array(tmp_path, cache_key("object"), np.array([object()]), PRODUCER)
    assert not list(tmp_path.rglob("*.tmp"))


def test_writes_leave_only_the_final_file(tmp_path):
    key = cache_key("clean")
    save_cached_array(tmp_path, key, np.zeros(3), PRODUCER)
    save_cached_array(tmp_path, key, np.ones(3), PRODUCER)  # overwrite in place
    assert [path.name for path in tmp_path.rglob("*") if path.is_file()] == [f"{key}.npy"]
    np.testing.assert_array_equal(load_cached_array(tmp_path, key)[1], np.ones(3))


def test_an_interrupted_write_keeps_the_old_entry_and_no_temporary_file(tmp_path, monkeypatch):
    key = cache_key("interrupted")
    save_cached_array(tmp_path, key, np.zeros(3), PRODUCER)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("skclip_sage.io._cache.os.write", interrupted)  # in the middle of the write
    with pytest.raises(KeyboardInterrupt):
        save_cached_array(tmp_path, key, np.ones(3), PRODUCER)
    monkeypatch.undo()
    np.testing.assert_array_equal(load_cached_array(tmp_path, key)[1], np.zeros(3))
    assert not list(tmp_path.rglob("*.tmp"))


# --- image source keys -------------------------------------------------------------------


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


def test_relative_absolute_unicode_and_distinct_paths(tmp_path, monkeypatch):
    path = _png(tmp_path / "a.png")
    monkeypatch.chdir(tmp_path)
    assert image_source_key("a.png") == image_source_key(path)
    assert image_source_key(_png(tmp_path / "café 猫 1.png")) not in (None, image_source_key(path))
    assert image_source_key(tmp_path / "missing.png") is None
    assert image_source_key(3.5) is None


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
    strided = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)[:, ::2]
    assert image_source_key(strided) == image_source_key(np.ascontiguousarray(strided))


# --- checks on read (RELIABILITY 35) -------------------------------------------------------

GOOD = _unit_rows((4, 8))


@pytest.mark.parametrize(
    "producer, values, problem",
    [
        ("model=other | precision=fp32 | device=cpu | skclip-sage=0", GOOD, "made by another model"),
        (PRODUCER, GOOD.astype(np.float64), "dtype float64, expected float32"),
        (PRODUCER, GOOD[:, :6] / np.linalg.norm(GOOD[:, :6], axis=1, keepdims=True), r"shape \(4, 6\), expected"),
        (PRODUCER, GOOD[:3], r"shape \(3, 8\), expected \(4, any\)"),
        (PRODUCER, np.where(np.eye(4, 8, dtype=bool), np.nan, GOOD).astype(np.float32), "NaN or infinity"),
        (PRODUCER, np.zeros((4, 8), np.float32), "norm 0, expected unit-norm"),
        (PRODUCER, 2 * GOOD, "norm 2, expected unit-norm"),
    ],
)
def test_entry_problems_are_named(producer, values, problem):
    expected_shape = (4, None) if "any" in problem else (4, 8)
    assert entry_problem(PRODUCER, GOOD, PRODUCER, expected_shape) is None
    found = entry_problem(producer, np.asarray(values, dtype=values.dtype), PRODUCER, expected_shape)
    assert found is not None
    assert re.search(problem, found), found


def test_checked_cache_returns_good_entries_and_warns_once_for_all_bad_ones(tmp_path):
    cache = CheckedCache(tmp_path, "things", PRODUCER, owner="Tester")
    keys = [cache.key(str(index)) for index in range(5)]
    for index, key in enumerate(keys):
        assert cache.write(key, GOOD[index % 4])
    save_cached_array(cache.folder, keys[1], np.full(8, np.nan, np.float32), PRODUCER)
    save_cached_array(cache.folder, keys[2], GOOD[2], "model=other")
    _forge(cache.folder, keys[3], b"garbage")
    read = [cache.read(key, (8,), f"item {index}") for index, key in enumerate(keys)]
    assert [value is None for value in read] == [False, True, True, True, False]
    np.testing.assert_array_equal(read[4], GOOD[0])
    assert cache.hits == 2
    with pytest.warns(InvalidCacheEntryWarning) as record:
        cache.warn()
    assert len(record) == 1
    message = str(record[0].message)
    assert f"Tester found 3 invalid cache entries under cache_dir={str(tmp_path)!r}" in message
    assert "item 1: NaN" in message and "item 2: made by another model" in message and "item 3:" in message


def _failing_write(monkeypatch, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("skclip_sage.io._cache.open_temporary", fail)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EROFS, "Read-only file system"),
        OSError(errno.ENOSPC, "No space left on device"),
        PermissionError(errno.EACCES, "Permission denied"),
    ],
)
def test_a_failed_write_stops_writing_and_warns_once_with_the_reason(tmp_path, monkeypatch, error):
    cache = CheckedCache(tmp_path / "cache", "things", PRODUCER, owner="Tester")
    _failing_write(monkeypatch, error)
    assert [cache.write(cache.key(str(index)), GOOD[index]) for index in range(3)] == [False] * 3
    with pytest.warns(CacheWriteWarning) as record:
        cache.warn()
    assert len(record) == 1
    message = str(record[0].message)
    assert f"cache_dir={str(tmp_path / 'cache')!r}" in message and error.strerror in message
    assert "returned but not kept" in message


def test_a_full_disk_mid_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    cache = CheckedCache(tmp_path, "things", PRODUCER, owner="Tester")

    def full_disk(descriptor, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("skclip_sage.io._cache.os.write", full_disk)
    assert not cache.write(cache.key("a"), GOOD[0])
    monkeypatch.undo()
    assert cache.write_error.errno == errno.ENOSPC and not list(tmp_path.rglob("*.tmp"))


def test_a_file_as_cache_dir_is_a_miss_and_one_warning(tmp_path):
    in_the_way = tmp_path / "cache"
    in_the_way.write_text("not a folder")
    cache = CheckedCache(in_the_way, "things", PRODUCER, owner="Tester")
    assert cache.read(cache.key("a"), (8,)) is None and not cache.invalid
    assert not cache.write(cache.key("a"), GOOD[0]) and not cache.write(cache.key("b"), GOOD[1])
    with pytest.warns(CacheWriteWarning, match="Not a directory.*cache_dir is a file, not a folder"):
        cache.warn()
    assert in_the_way.read_text() == "not a folder"


# --- the text-bank cache (RELIABILITY 35) ------------------------------------------------------

TEMPLATES = ["a photo of a {}.", "a drawing of a {}."]
CLASSES = ["cat", "dog", "bird"]


@pytest.fixture
def fresh_memory():
    clear_text_bank_cache()
    yield
    clear_text_bank_cache()


def _only_bank_file(cache_dir):
    (path,) = (cache_dir / "text_banks").rglob("*.npy")
    return path


def _bank(encoder, cache_dir):
    return encode_text_bank(encoder, TEMPLATES, CLASSES, cache_dir=cache_dir)


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda bank: np.where(np.arange(8) == 0, np.nan, bank).astype(np.float32), "NaN"),
        (lambda bank: np.zeros_like(bank), "a row of norm 0"),
        (lambda bank: bank.astype(np.float64), "dtype float64"),
        (lambda bank: _unit_rows((2, 3, 6)), r"shape \(2, 3, 6\), expected \(2, 3, 8\)"),
    ],
)
def test_a_bad_text_bank_on_disk_is_recomputed_with_one_warning(tmp_path, fresh_memory, damage, problem):
    encoder = HashTextEncoder(8)
    expected = _bank(encoder, tmp_path)
    path = _only_bank_file(tmp_path)
    producer, stored = load_cached_array(path.parent.parent, path.stem)
    save_cached_array(path.parent.parent, path.stem, damage(stored), producer)
    clear_text_bank_cache()  # as in a fresh process
    with pytest.warns(
        InvalidCacheEntryWarning, match=f"Text-bank encoding found 1 invalid.*the text bank: {problem}"
    ) as record:
        recomputed = _bank(encoder, tmp_path)
    assert len(record) == 1  # reading and writing back report it once
    np.testing.assert_array_equal(recomputed, expected)
    clear_text_bank_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the entry was replaced: no warning the next time
        np.testing.assert_array_equal(_bank(encoder, tmp_path), expected)


def test_another_models_text_bank_is_never_used(tmp_path, fresh_memory):
    # Another model's bank copied over this model's entry: same shape, unit norm, wrong numbers.
    ours, theirs = HashTextEncoder(8), HashTextEncoder(8)
    theirs.identity = "another-model"
    expected = _bank(ours, tmp_path)
    path = _only_bank_file(tmp_path)
    _bank(theirs, tmp_path / "other")
    os.replace(_only_bank_file(tmp_path / "other"), path)
    clear_text_bank_cache()
    with pytest.warns(InvalidCacheEntryWarning, match="made by another model or setting.*another-model"):
        np.testing.assert_array_equal(_bank(ours, tmp_path), expected)


def test_a_wrong_width_bank_no_longer_blames_the_images(tmp_path, fresh_memory):
    X = _unit_rows((6, 8))
    y = np.array(CLASSES * 2)
    classifier = SageZeroShotClassifier(HashTextEncoder(8), templates=TEMPLATES, cache_dir=tmp_path)
    expected = classifier.fit(X, y).predict_proba(X)
    path = _only_bank_file(tmp_path)
    producer, _ = load_cached_array(path.parent.parent, path.stem)
    save_cached_array(path.parent.parent, path.stem, _unit_rows((2, 3, 16)), producer)
    clear_text_bank_cache()
    with pytest.warns(InvalidCacheEntryWarning, match=r"shape \(2, 3, 16\)"):
        np.testing.assert_allclose(classifier.fit(X, y).predict_proba(X), expected)


def test_text_bank_cache_that_cannot_be_written_still_fits(tmp_path, fresh_memory):
    in_the_way = tmp_path / "cache"
    in_the_way.write_text("")
    with pytest.warns(CacheWriteWarning, match="Text-bank encoding could not write") as record:
        bank = _bank(HashTextEncoder(8), in_the_way)
    assert len(record) == 1 and bank.shape == (2, 3, 8) and np.isfinite(bank).all()


# --- keys cover what the model sees (issue 21 item 3) --------------------------------------


def _counting_embedder(tmp_path, **options):
    from fakes import FileCountingImageEncoder

    from skclip_sage import ClipImageEmbedder

    encoder = FileCountingImageEncoder(tmp_path / "model_calls.log", identity="key-coverage-encoder")
    return ClipImageEmbedder(encoder, **options)


def _reopened(image, file_format="PNG", **save_options):
    import io

    buffer = io.BytesIO()
    image.save(buffer, file_format, **save_options)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _palette_image(colour, transparency=None):
    image = Image.new("P", (4, 4))
    image.putpalette([*colour, 255, 255, 255] * 128)
    image.putpixel((0, 0), 1)
    if transparency is not None:
        image.info["transparency"] = transparency
    return image


def _oriented(orientation):
    image = Image.fromarray(np.arange(4 * 2 * 3, dtype=np.uint8).reshape(2, 4, 3) * 10)
    exif = image.getexif()
    exif[0x0112] = orientation
    return _reopened(image, exif=exif)


PIL_TWINS = {
    # Same mode, size and pixel bytes; converted to RGB, they differ.
    "palette": lambda: (_palette_image((255, 0, 0)), _palette_image((0, 0, 255))),
    "exif orientation": lambda: (_oriented(1), _oriented(6)),
    "transparency": lambda: (_palette_image((255, 0, 0)), _palette_image((255, 0, 0), transparency=0)),
}


@pytest.mark.parametrize("twins", PIL_TWINS.values(), ids=PIL_TWINS.keys())
def test_pil_images_with_the_same_pixel_bytes_that_convert_differently_are_embedded_apart(tmp_path, twins):
    first, second = twins()
    assert first.mode == second.mode and first.tobytes() == second.tobytes()
    assert image_source_key(first) != image_source_key(second)
    uncached = _counting_embedder(tmp_path, memory_cache=0).fit_transform([first, second])
    assert not np.allclose(uncached[0], uncached[1])

    # In memory: the second image used to get the first one's row.
    embedder = _counting_embedder(tmp_path).fit()
    np.testing.assert_array_equal(embedder.transform([first]), uncached[:1])
    np.testing.assert_array_equal(embedder.transform([second]), uncached[1:])
    # On disk, as another process sees it (nothing in memory).
    skclip_sage.io.clear_memory_caches()
    on_disk = _counting_embedder(tmp_path, memory_cache=0, cache_dir=tmp_path / "cache").fit()
    np.testing.assert_array_equal(on_disk.transform([first]), uncached[:1])
    np.testing.assert_array_equal(on_disk.transform([second]), uncached[1:])
    np.testing.assert_array_equal(on_disk.transform([second, first]), uncached[::-1])


def _bmp(path, colour):
    Image.new("RGB", (8, 8), colour).save(path, "BMP")  # the same size whatever the colour
    return path


def _next_status_change(path):
    """Wait for the file system's clock to move past ``path``'s status-change time (an event, not a sleep).

    ``utime`` with the same times changes nothing but the ctime; repeated until the
    ctime moves, it makes sure the edit that follows lands in a later timestamp tick.
    """
    status = os.stat(path)
    while os.stat(path).st_ctime_ns == status.st_ctime_ns:
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def _same_size_edit_with_mtime_restored(path, tmp_path):
    status = os.stat(path)
    _next_status_change(path)
    with open(path, "r+b") as file:  # in place: same inode, same size
        file.write(_bmp(tmp_path / "blue.bmp", (0, 0, 255)).read_bytes())
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def _replaced_keeping_mtime(path, tmp_path):
    # What `rsync -t` does: a new file beside it, given the old times, renamed over it (a new inode).
    status = os.stat(path)
    replacement = _bmp(tmp_path / "incoming.bmp", (0, 0, 255))
    os.utime(replacement, ns=(status.st_atime_ns, status.st_mtime_ns))
    os.replace(replacement, path)


def _copied_over_with_cp_p(path, tmp_path):
    import shutil

    # What `cp -p` does: the content written into the same file, then the source's times copied.
    source = _bmp(tmp_path / "source.bmp", (0, 0, 255))
    status = os.stat(path)
    os.utime(source, ns=(status.st_atime_ns, status.st_mtime_ns))
    _next_status_change(path)
    shutil.copy2(source, path)


FILE_EDITS = {
    "same-size edit, mtime restored": _same_size_edit_with_mtime_restored,
    "rsync -t replacement": _replaced_keeping_mtime,
    "cp -p replacement": _copied_over_with_cp_p,
}


@pytest.mark.parametrize("edit", FILE_EDITS.values(), ids=FILE_EDITS.keys())
def test_a_file_edited_or_replaced_with_its_size_and_mtime_kept_is_embedded_again(tmp_path, edit):
    from fakes import FileCountingImageEncoder

    path = _bmp(tmp_path / "image.bmp", (255, 0, 0))
    before = image_source_key(path)
    embedder = _counting_embedder(tmp_path, cache_dir=tmp_path / "cache").fit()
    red = embedder.transform([str(path)])
    status = os.stat(path)
    edit(path, tmp_path)
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (status.st_size, status.st_mtime_ns)
    assert image_source_key(path) != before
    blue = _counting_embedder(tmp_path, memory_cache=0).fit_transform([str(path)])
    assert not np.allclose(red, blue)
    # In memory, and from cache_dir as a new process sees it: the new content's row.
    np.testing.assert_array_equal(embedder.transform([str(path)]), blue)
    skclip_sage.io.clear_memory_caches()
    calls = FileCountingImageEncoder.rows(tmp_path / "model_calls.log")
    np.testing.assert_array_equal(embedder.transform([str(path)]), blue)
    assert FileCountingImageEncoder.rows(tmp_path / "model_calls.log") == calls  # written back, read back


def test_a_cache_dir_inside_a_local_dir_model_keeps_the_models_identity(tmp_path):
    from conftest import make_tiny_local_dir

    from skclip_sage import ClipImageEmbedder
    from skclip_sage.encoders import clear_encoder_cache, encoder_load_count, load_encoder

    model = make_tiny_local_dir(tmp_path / "model")
    identity = load_encoder(model, device="cpu").identity
    paths = [_png(tmp_path / f"{index}.png", (60 * index, 0, 0)) for index in range(3)]
    cache_dir = tmp_path / "model" / "cache"
    first = ClipImageEmbedder(model, pretrained=None, device="cpu", cache_dir=cache_dir).fit_transform(paths)
    loads = encoder_load_count()
    assert load_encoder(model, device="cpu").identity == identity  # not reloaded: same files
    assert encoder_load_count() == loads

    # A new process: the model loads with the same identity, so every row comes from the cache.
    clear_encoder_cache()
    skclip_sage.io.clear_memory_caches()
    embedder = ClipImageEmbedder(model, pretrained=None, device="cpu", cache_dir=cache_dir).fit()
    assert embedder._encoder().identity == identity
    entries = sorted(cache_dir.rglob("*.npy"))
    np.testing.assert_array_equal(embedder.transform(paths), first)
    assert sorted(cache_dir.rglob("*.npy")) == entries  # nothing new was written: it hit
    # The model's own files still count: editing its configuration changes the identity.
    config = next(path for path in (tmp_path / "model").iterdir() if path.suffix == ".json")
    config.write_text(config.read_text() + " ")
    assert load_encoder(model, device="cpu").identity != identity
    # How the cache is recognised: a CACHEDIR.TAG (the Cache Directory Tagging Specification).
    assert skclip_sage.io.is_cache_folder(cache_dir / "image_embeddings")


# --- one caching policy, in io (issue 22 item 2) ----------------------------------------------


def test_no_subpackage_imports_a_private_io_module():
    # io's public face serves its clients: the caches' users import skclip_sage.io only.
    package = os.path.dirname(skclip_sage.__file__)
    offenders = []
    for folder, _, names in os.walk(package):
        if os.path.relpath(folder, package).split(os.sep)[0] == "io":
            continue
        for name in names:
            if name.endswith(".py"):
                text = open(os.path.join(folder, name), encoding="utf-8").read()
                if re.search(r"(from \.+io\._|skclip_sage\.io\._|from \.+io import _)", text):
                    offenders.append(os.path.relpath(os.path.join(folder, name), package))
    assert offenders == []


def test_text_banks_live_in_the_byte_bounded_store_not_a_32_entry_list(fresh_memory):
    from fakes import WordSumEncoder

    from skclip_sage.io import memory_store

    encoder = WordSumEncoder(8)
    banks = [encode_text_bank(encoder, TEMPLATES, [f"class{index}", "other"]) for index in range(40)]
    assert encoder.calls() == 40
    store = memory_store(0)
    assert len(store) == 40 and store.nbytes == 40 * (banks[0].nbytes + 330)
    again = [encode_text_bank(encoder, TEMPLATES, [f"class{index}", "other"]) for index in range(40)]
    assert encoder.calls() == 40  # every bank still in memory: the bound is bytes, not 32 entries
    assert all(np.array_equal(a, b) for a, b in zip(banks, again))
    clear_text_bank_cache()  # forgets the text banks only
    assert len(store) == 0
    encode_text_bank(encoder, TEMPLATES, ["class0", "other"])
    assert encoder.calls() == 41


def test_one_store_per_process_whose_bound_is_the_largest_asked_for(tmp_path):
    from fakes import FileCountingImageEncoder

    from skclip_sage import ClipImageEmbedder
    from skclip_sage.io import memory_store

    log = tmp_path / "calls.log"
    images = [np.full((4, 4, 3), value, np.uint8) for value in range(0, 250, 50)]
    large = ClipImageEmbedder(FileCountingImageEncoder(log, identity="one"), memory_cache=10**6).fit()
    large.transform(images)
    # Another model, and a smaller bound: the same store, which keeps its bound and the rows of the first.
    small = ClipImageEmbedder(FileCountingImageEncoder(log, identity="two"), memory_cache=1000).fit()
    small.transform(images)
    assert memory_store(0).max_bytes == 10**6 and len(memory_store(0)) == 10
    calls = FileCountingImageEncoder.rows(log)
    large.transform(images)
    clone_of_small = ClipImageEmbedder(FileCountingImageEncoder(log, identity="one"), memory_cache=1000).fit()
    clone_of_small.transform(images)
    assert FileCountingImageEncoder.rows(log) == calls  # nothing was forgotten by the smaller bound
    assert memory_store(10) is memory_store(2 * 10**6) and memory_store(0).max_bytes == 2 * 10**6


def test_a_fast_read_returns_a_writable_copy_equal_to_what_was_written(tmp_path):
    # Issue 22 item 3: reads compare the record's header and producer as a byte prefix instead of np.load.
    cache = CheckedCache(tmp_path, "things", PRODUCER, owner="Tester")
    assert cache.write(cache.key("a"), GOOD)
    values = cache.read(cache.key("a"), GOOD.shape)
    np.testing.assert_array_equal(values, GOOD)
    assert values.flags.writeable and values.dtype == np.float32 and cache.hits == 1
    assert np.load(cached_array_path(cache.folder, cache.key("a")))["producer"] == PRODUCER  # still a plain record
    # Another producer of the same length: the prefix differs, and numpy's parse says what is wrong.
    save_cached_array(cache.folder, cache.key("a"), GOOD, PRODUCER.replace("model=m", "model=n"))
    assert cache.read(cache.key("a"), GOOD.shape) is None
    assert cache.invalid == [("an entry", f"made by another model or setting ({PRODUCER.replace('=m', '=n')!r})")]
