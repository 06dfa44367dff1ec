"""Tests for skclip_sage.io._images: RELIABILITY.md cases 17-24 for single images."""

import io
import os
import pickle
import re
import socket
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, features

from skclip_sage.exceptions import ImageLoadError
from skclip_sage.io import _images, describe_image_source, open_image

WHITE, RED, GREEN, BLUE = (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _pattern(width=48, height=32):
    """An RGB image whose orientation is unambiguous: four flat colour quadrants."""
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[: height // 2, : width // 2] = RED
    array[: height // 2, width // 2 :] = GREEN
    array[height // 2 :, : width // 2] = BLUE
    array[height // 2 :, width // 2 :] = WHITE
    return Image.fromarray(array)


def _noise(size=(96, 96), seed=0):
    """Incompressible pixels, so truncating the file always cuts into pixel data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _save(image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def _pixels(image):
    return np.asarray(image, dtype=np.int16)


# --- case 17: paths that are not regular files ------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "missing.jpg"
    with pytest.raises(ImageLoadError, match="no such file") as info:
        open_image(path)
    assert info.value.path == str(path)
    assert isinstance(info.value, OSError)


def test_directory_is_rejected(tmp_path):
    with pytest.raises(ImageLoadError, match="is a directory") as info:
        open_image(tmp_path)
    assert info.value.path == str(tmp_path)


@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_rejected_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="FIFO") as info:
        open_image(fifo)
    assert info.value.path == str(fifo)


@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_swapped_in_after_stat_is_caught_without_blocking(tmp_path, monkeypatch):
    # Simulates the race where a regular file is replaced by a FIFO between stat and open.
    regular = _save(_pattern(), tmp_path / "regular.png")
    fifo = tmp_path / "swapped.png"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(_images.os, "stat", lambda path, **kwargs: real_stat(regular if path == fifo else path))
    with pytest.raises(ImageLoadError, match="FIFO"):
        open_image(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_character_device_is_rejected():
    with pytest.raises(ImageLoadError, match="character device") as info:
        open_image("/dev/null")
    assert info.value.path == "/dev/null"


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_socket_is_rejected(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative name keeps under the socket path length limit
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind("image.sock")
        with pytest.raises(ImageLoadError, match="socket"):
            open_image("image.sock")
    finally:
        server.close()


def test_embedded_nul_byte_is_an_image_load_error():
    with pytest.raises(ImageLoadError, match="null byte"):
        open_image("bad\0name.jpg")


# --- case 18: not an image ---------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<!DOCTYPE html><html><body>404 Not Found</body></html>",
        b"just some text\n",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
        bytes(range(256)) * 4,
    ],
    ids=["empty", "html", "text", "pdf", "binary"],
)
def test_non_images_cannot_be_identified(tmp_path, content):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match="cannot identify image file") as info:
        open_image(path)
    assert info.value.path == str(path)
    with pytest.raises(ImageLoadError, match="cannot identify image file") as info:
        open_image(content, name="<image 3>")
    assert info.value.path == "<image 3>"


# --- case 19: truncated files ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "TIFF"])
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9])
def test_truncated_files_are_reported_and_global_flag_untouched(tmp_path, fmt, fraction):
    complete = _save(_noise(), tmp_path / f"complete.{fmt.lower()}", format=fmt)
    data = complete.read_bytes()
    path = tmp_path / f"truncated.{fmt.lower()}"
    path.write_bytes(data[: int(len(data) * fraction)])
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(ImageLoadError, match="image file is truncated") as info:
        open_image(path)
    assert info.value.path == str(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is before is False


def test_jpeg_cut_inside_its_header_is_reported_as_truncated():
    data = io.BytesIO()
    _noise().save(data, "JPEG")
    with pytest.raises(ImageLoadError, match="image file is truncated"):
        open_image(data.getvalue()[:40])


def test_truncated_jpeg_loads_when_the_caller_allows_it(tmp_path, monkeypatch):
    data = _save(_noise(), tmp_path / "a.jpg").read_bytes()
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    image = open_image(data[: len(data) // 2])
    assert image.mode == "RGB" and image.size == (96, 96)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


# --- case 20: decompression bombs --------------------------------------------------------


@pytest.fixture(scope="module")
def bomb_png(tmp_path_factory):
    """A 20000 x 10000 1-bit PNG: 2e8 pixels, over 2 x the default limit, ~25 kB on disk."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("1", (20000, 10000)).save(path)
    return path


@pytest.mark.timeout(30)
def test_bomb_over_twice_the_limit_is_refused(bomb_png):
    limit = Image.MAX_IMAGE_PIXELS
    assert 20000 * 10000 > 2 * limit
    with pytest.raises(ImageLoadError, match="decompression bomb") as info:
        open_image(bomb_png)
    assert info.value.path == str(bomb_png)
    assert "MAX_IMAGE_PIXELS" in info.value.reason
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        open_image(bomb_png.read_bytes())
    assert Image.MAX_IMAGE_PIXELS == limit


def test_image_between_one_and_two_times_the_limit_warns_with_its_name(tmp_path, monkeypatch):
    path = _save(_pattern(40, 40), tmp_path / "big one.png")  # 1600 pixels
    original = Image.MAX_IMAGE_PIXELS
    with monkeypatch.context() as patch:
        patch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
        with pytest.warns(Image.DecompressionBombWarning, match="big one.png") as record:
            image = open_image(path)
        assert len(record) == 1
        assert image.size == (40, 40)
        assert Image.MAX_IMAGE_PIXELS == 1000
        patch.setattr(Image, "MAX_IMAGE_PIXELS", 700)  # 1600 > 2 x 700
        with pytest.raises(ImageLoadError, match="decompression bomb"):
            open_image(path)
        assert Image.MAX_IMAGE_PIXELS == 700
    assert Image.MAX_IMAGE_PIXELS == original


def test_bomb_warning_filtered_as_error_becomes_image_load_error(tmp_path, monkeypatch):
    path = _save(_pattern(40, 40), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(ImageLoadError, match="decompression bomb") as info:
            open_image(path)
    assert info.value.path == str(path)


def test_other_pillow_warnings_pass_through(tmp_path, monkeypatch):
    path = _save(_pattern(), tmp_path / "a.png")

    real_open = Image.open

    def warn_and_open(file):
        warnings.warn("something Pillow noticed", RuntimeWarning)
        return real_open(file)

    monkeypatch.setattr(_images.Image, "open", warn_and_open)
    with pytest.warns(RuntimeWarning, match="something Pillow noticed"):
        open_image(path)


# --- case 21: extreme aspect ratios -------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 20000), (20000, 1), (101, 1)])
def test_extreme_aspect_ratio_is_refused_before_decoding(tmp_path, size, monkeypatch):
    path = _save(Image.new("L", size), tmp_path / "strip.png")

    def must_not_decode(self):
        raise AssertionError("pixels decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", must_not_decode)
    with pytest.raises(ImageLoadError, match="max_aspect_ratio=100") as info:
        open_image(path)
    assert info.value.path == str(path)


def test_aspect_ratio_limit_is_configurable(tmp_path):
    path = _save(Image.new("L", (1, 2000), 7), tmp_path / "strip.png")
    assert open_image(path, max_aspect_ratio=None).size == (1, 2000)
    assert open_image(path, max_aspect_ratio=2000).size == (1, 2000)
    assert open_image(Image.new("L", (100, 1))).size == (100, 1)  # the limit is inclusive
    with pytest.raises(ImageLoadError, match="aspect ratio"):
        open_image(path, max_aspect_ratio=10)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_aspect_ratio": 0.5}, "max_aspect_ratio"),
        ({"max_aspect_ratio": float("nan")}, "max_aspect_ratio"),
        ({"draft_size": 0}, "draft_size"),
        ({"draft_size": -224}, "draft_size"),
    ],
)
def test_invalid_limits_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        open_image(np.zeros((2, 2), dtype=np.uint8), **options)


def test_extreme_aspect_ratio_applies_to_arrays_and_pil_images():
    with pytest.raises(ImageLoadError, match="aspect ratio") as info:
        open_image(np.zeros((1, 20000), dtype=np.uint8), name="<image 0>")
    assert info.value.path == "<image 0>"
    with pytest.raises(ImageLoadError, match="aspect ratio"):
        open_image(Image.new("RGB", (20000, 1)))


def test_empty_array_is_an_error():
    with pytest.raises(ImageLoadError, match="no pixels"):
        open_image(np.zeros((0, 5, 3), dtype=np.uint8))


# --- case 22: EXIF orientation -------------------------------------------------------------


@pytest.mark.parametrize(
    "orientation, transpose",
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_270),
        (8, Image.Transpose.ROTATE_90),
    ],
)
def test_exif_orientation_is_applied(tmp_path, orientation, transpose):
    exif = Image.Exif()
    exif[0x0112] = orientation
    jpeg = _save(_pattern(), tmp_path / "oriented.jpg", quality=95, exif=exif)
    with Image.open(jpeg) as raw:
        expected = raw.convert("RGB").transpose(transpose)  # the same decoded pixels, rotated
    image = open_image(jpeg)
    assert image.size == expected.size == ((48, 32) if orientation == 3 else (32, 48))
    np.testing.assert_array_equal(_pixels(image), _pixels(expected))
    # ... and close to the physically rotated lossless original.
    physical = open_image(_save(_pattern().transpose(transpose), tmp_path / "rotated.png"))
    assert np.abs(_pixels(image) - _pixels(physical)).mean() < 4


def test_exif_orientation_of_a_pil_input_does_not_modify_it(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = _save(_pattern(), tmp_path / "oriented.jpg", exif=exif)
    with Image.open(jpeg) as source:
        image = open_image(source)
        assert source.size == (48, 32) and source.getexif()[0x0112] == 6
    assert image.size == (32, 48)


# --- case 23: modes -------------------------------------------------------------------------


def _half_transparent_rgba():
    image = Image.new("RGBA", (4, 2), (255, 0, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, 2, 2))  # transparent black, as many PNG exporters write
    return image


def test_rgba_is_composited_over_white(tmp_path):
    image = open_image(_save(_half_transparent_rgba(), tmp_path / "a.png"))
    assert image.getpixel((0, 0)) == WHITE and image.getpixel((3, 1)) == RED
    half = open_image(Image.new("RGBA", (1, 1), (0, 0, 0, 128)))
    assert half.getpixel((0, 0)) == (127, 127, 127)


def test_la_and_la_premultiplied_are_composited_over_white(tmp_path):
    la = Image.new("LA", (2, 1), (0, 255))
    la.putpixel((0, 0), (0, 0))
    image = open_image(_save(la, tmp_path / "la.png"))
    assert image.getpixel((0, 0)) == WHITE and image.getpixel((1, 0)) == (0, 0, 0)
    assert open_image(Image.new("La", (1, 1), (0, 0))).getpixel((0, 0)) == WHITE


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency_is_composited_over_white(tmp_path, fmt):
    palette = _half_transparent_rgba().convert("RGB").convert("P")
    transparent_index = palette.getpixel((0, 0))
    path = _save(palette, tmp_path / f"p.{fmt.lower()}", transparency=transparent_index)
    with Image.open(path) as raw:
        assert raw.mode == "P" and "transparency" in raw.info
    image = open_image(path)
    assert image.getpixel((0, 0)) == WHITE and image.getpixel((3, 1)) == RED


def test_cmyk_is_converted(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red ink mix
    assert open_image(cmyk).getpixel((0, 0)) == RED
    image = open_image(_save(cmyk, tmp_path / "cmyk.jpg", quality=95))
    assert np.abs(_pixels(image)[0, 0] - np.array(RED)).max() < 8


def test_sixteen_bit_is_shifted_to_eight_bit(tmp_path):
    path = _save(Image.new("I;16", (2, 2), 0x12FF), tmp_path / "deep.png")
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")
    assert open_image(path).getpixel((0, 0)) == (0x12, 0x12, 0x12)
    assert open_image(Image.new("I;16B", (1, 1), 0xFFFF)).getpixel((0, 0)) == WHITE


@pytest.mark.parametrize("value, expected", [(-5, 0), (300, 1), (0x8000, 128), (70000, 255)])
def test_32_bit_integer_is_clipped_then_shifted(value, expected):
    assert open_image(Image.new("I", (1, 1), value)).getpixel((0, 0)) == (expected,) * 3


@pytest.mark.parametrize(
    "value, expected", [(0.0, 0), (0.25, 64), (1.0, 255), (-1.0, 0), (7.5, 255), (float("nan"), 0)]
)
def test_float_is_clipped_to_unit_range(tmp_path, value, expected):
    image = open_image(Image.new("F", (1, 1), value))
    assert image.getpixel((0, 0)) == (expected,) * 3
    saved = open_image(_save(Image.new("F", (2, 2), value), tmp_path / "float.tif"))
    assert saved.getpixel((1, 1)) == (expected,) * 3


def test_one_bit_maps_to_black_and_white(tmp_path):
    bilevel = Image.new("1", (2, 1), 0)
    bilevel.putpixel((1, 0), 1)
    image = open_image(_save(bilevel, tmp_path / "bw.png"))
    assert image.getpixel((0, 0)) == (0, 0, 0) and image.getpixel((1, 0)) == WHITE


_ANIMATED_FORMATS = ["GIF", "PNG"] + (["WEBP"] if features.check("webp") else [])


@pytest.mark.parametrize("fmt", _ANIMATED_FORMATS)
def test_animation_gives_its_first_frame(tmp_path, fmt):
    frames = [Image.new("RGB", (16, 16), colour) for colour in (RED, GREEN, BLUE)]
    path = tmp_path / f"animated.{fmt.lower()}"
    options = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=50, **options)
    with Image.open(path) as raw:
        assert getattr(raw, "n_frames", 1) == 3
    image = open_image(path)
    assert type(image) is Image.Image and image.mode == "RGB"
    assert np.abs(_pixels(image) - np.array(RED)).max() <= 2


@pytest.mark.parametrize("mode", ["L", "P", "RGB", "RGBX", "YCbCr", "HSV", "LAB", "PA", "RGBa"])
def test_every_mode_becomes_a_new_rgb_image(mode):
    source = Image.new(mode, (3, 2))
    image = open_image(source)
    assert image.mode == "RGB" and image.size == (3, 2) and image is not source
    assert source.mode == mode


# --- arrays, PIL images and bytes ---------------------------------------------------------


def test_uint8_arrays_of_each_accepted_shape():
    grey = np.full((2, 3), 9, dtype=np.uint8)
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)
    rgb[..., 2] = 200
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)  # fully transparent
    assert open_image(grey).getpixel((0, 0)) == (9, 9, 9)
    assert open_image(rgb).getpixel((2, 1)) == (0, 0, 200)
    assert open_image(rgba).getpixel((0, 0)) == WHITE
    assert open_image(rgb[:, ::-1]).size == (3, 2)  # non-contiguous views are fine


def test_result_does_not_share_memory_with_the_input_array():
    array = np.zeros((2, 2, 3), dtype=np.uint8)
    image = open_image(array)
    array[:] = 255
    assert image.getpixel((0, 0)) == (0, 0, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int64, bool])
def test_non_uint8_arrays_are_refused(dtype):
    with pytest.raises(ValueError, match="only uint8.*Convert it"):
        open_image(np.zeros((2, 2, 3), dtype=dtype))


@pytest.mark.parametrize("shape", [(4,), (2, 2, 1), (2, 2, 2), (2, 2, 5), (1, 2, 2, 3)])
def test_arrays_of_other_shapes_are_refused(shape):
    with pytest.raises(ValueError, match=f"shape {re.escape(str(shape))}"):
        open_image(np.zeros(shape, dtype=np.uint8))


def test_pil_input_is_not_modified():
    source = _half_transparent_rgba()
    before = source.tobytes()
    image = open_image(source)
    assert source.mode == "RGBA" and source.tobytes() == before
    assert image.getpixel((0, 0)) == WHITE


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_encoded_bytes_are_accepted(wrap):
    buffer = io.BytesIO()
    _pattern().save(buffer, "PNG")
    image = open_image(wrap(buffer.getvalue()))
    assert image.size == (48, 32) and image.getpixel((0, 0)) == RED


@pytest.mark.parametrize("source", [42, None, [b"abc"], 3.5])
def test_other_types_are_refused(source):
    with pytest.raises(TypeError, match="expected a path"):
        open_image(source)


# --- case 24: path forms ---------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["plain.png", "with space.png", "chat été 猫 🐈.png", "dots.in.name.PNG"])
def test_path_forms_are_accepted(tmp_path, filename):
    path = _save(_pattern(), tmp_path / filename, format="PNG")
    for source in (path, str(path), Path(str(path))):
        image = open_image(source)
        assert image.mode == "RGB" and image.getpixel((0, 0)) == RED


def test_error_names_a_unicode_path(tmp_path):
    path = tmp_path / "leçon 猫.jpg"
    path.write_text("<html></html>")
    with pytest.raises(ImageLoadError, match="leçon 猫.jpg"):
        open_image(path)


def test_file_is_closed_and_pixels_are_loaded(tmp_path):
    path = _save(_pattern(), tmp_path / "a.png")
    fd_dir = Path("/proc/self/fd")
    before = len(os.listdir(fd_dir)) if fd_dir.exists() else None
    image = open_image(path)
    if before is not None:
        assert len(os.listdir(fd_dir)) == before
    path.unlink()  # the image no longer needs its file
    assert type(image) is Image.Image and image.getpixel((0, 0)) == RED


def test_draft_size_decodes_large_jpegs_at_reduced_scale(tmp_path):
    path = _save(_noise((800, 600)), tmp_path / "large.jpg")
    assert open_image(path).size == (800, 600)
    assert open_image(path, draft_size=224).size == (400, 300)  # both sides stay >= 224
    png = _save(_noise((800, 600)), tmp_path / "large.png")
    assert open_image(png, draft_size=224).size == (800, 600)


# --- naming inputs -----------------------------------------------------------------------------


def test_describe_image_source():
    assert describe_image_source("a b/c.jpg", 3) == "a b/c.jpg"
    assert describe_image_source(Path("x") / "y.png") == str(Path("x") / "y.png")
    assert describe_image_source(b"\x89PNG", 2) == "<bytes at position 2>"
    assert describe_image_source(Image.new("RGB", (1, 1)), 0) == "<PIL image at position 0>"
    assert describe_image_source(np.zeros(1), 5) == "<array at position 5>"
    assert describe_image_source(np.zeros(1)) == "<array>"
    assert describe_image_source(42, 1) == "<int at position 1>"


def test_default_name_of_in_memory_inputs_in_errors():
    with pytest.raises(ImageLoadError) as info:
        open_image(b"not an image")
    assert info.value.path == "<bytes>"


def test_image_load_error_survives_pickling(tmp_path):
    with pytest.raises(ImageLoadError) as info:
        open_image(tmp_path / "missing.png")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.path, copy.reason) == (info.value.path, info.value.reason)


@pytest.mark.parametrize(
    "mode, size, message",
    [
        (stat.S_IFDIR, 0, "is a directory"),
        (stat.S_IFBLK, 0, "is a block device"),
        (0, 0, "is a special file"),  # a type this platform has no S_IS* test for
        (stat.S_IFREG, 0, "cannot identify image file"),
    ],
)
def test_regular_file_check_reports_odd_file_types(mode, size, message):
    fake = os.stat_result((mode, 0, 0, 0, 0, 0, size, 0, 0, 0))
    with pytest.raises(ImageLoadError, match=message):
        _images._check_regular_file(fake, "x")


def test_unreadable_exif_orientation_is_skipped_with_a_warning(tmp_path, monkeypatch):
    path = _save(_pattern(), tmp_path / "odd exif.jpg")

    def broken_exif(image):
        raise SyntaxError("not a TIFF file")

    monkeypatch.setattr(_images.ImageOps, "exif_transpose", broken_exif)
    with pytest.warns(UserWarning, match="EXIF orientation of .*odd exif.jpg"):
        image = open_image(path)
    assert image.size == (48, 32) and image.mode == "RGB"
