"""Tests for ClipImageEmbedder through the real open_clip loading path (tiny local-dir model).

RELIABILITY.md cases 22-25 and 28-30 as they concern the embedder; the estimator
contract checks that apply to a transformer whose input is images, not numbers.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks
from sklearn.utils.validation import check_is_fitted

from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier
from skclip_sage._embedder import IMAGE_CACHE
from skclip_sage.encoders import OpenClipEncoder, load_encoder
from skclip_sage.exceptions import (
    CacheWriteWarning,
    InvalidCacheEntryWarning,
    ModelLoadError,
    NotFittedError,
    SkippedImagesWarning,
    UnreadableImagesError,
)
from skclip_sage.io import image_key_parts, producer_of
from skclip_sage.io._cache import save_cached_array
from skclip_sage.io._checked_cache import CheckedCache

EMBEDDING_DIM = 32  # conftest.TINY_MODEL_CONFIG["embed_dim"]
requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# --- helpers and fixtures --------------------------------------------------------------


def _picture(seed: int, size=(40, 28)) -> np.ndarray:
    """A smooth, asymmetric RGB picture: orientation and content change the embedding."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, size[1])[:, None, None]
    columns = np.linspace(0, 1, size[0])[None, :, None]
    weights = rng.uniform(-1, 1, size=(3, 3))
    picture = weights[0] * rows + weights[1] * columns + weights[2] * rows * columns
    picture = (picture - picture.min()) / (np.ptp(picture) + 1e-9)
    return np.round(picture * 255).astype(np.uint8)


def _write_pictures(folder: Path, count: int, names=None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        name = names[index] if names else f"image {index:03d}.png"
        Image.fromarray(_picture(index)).save(folder / name)
        paths.append(str(folder / name))
    return paths


@pytest.fixture(scope="module")
def picture_paths(tmp_path_factory):
    """Six PNG files, names with spaces and non-ASCII characters."""
    names = ["plain.png", "with space.png", "café 猫.png", "ünïcødé ñame.png", "a.b.c.png", "z.png"]
    return _write_pictures(tmp_path_factory.mktemp("pictures"), len(names), names)


@pytest.fixture(scope="module")
def fitted(tiny_model, picture_paths):
    return ClipImageEmbedder(tiny_model, pretrained=None).fit(picture_paths)


@pytest.fixture(scope="module")
def reference(fitted, picture_paths):
    """Embeddings of ``picture_paths`` from the default settings."""
    return fitted.transform(picture_paths)


def _embedder(model, **params) -> ClipImageEmbedder:
    return ClipImageEmbedder(model, pretrained=None, **params)


def _preprocess_to_tensor(image: Image.Image) -> torch.Tensor:
    """A picklable preprocess for fake encoders: 8x8, channels first, [0, 1]."""
    pixels = np.asarray(image.resize((8, 8), Image.BILINEAR), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


class RecordingEncoder:
    """A deterministic fake image encoder that records its batches.

    Rows are embedded independently (a fixed linear map in float64), so any batch
    split must give the same rows; ``rows`` records every row it was given (by a
    hash of its pixels) to catch lost or duplicated images.
    """

    identity = "recording-encoder"
    embedding_dim = 6

    def __init__(self, fail_above=None):
        self.fail_above = fail_above
        self.batch_sizes = []
        self.rows = []
        self.projection = torch.from_numpy(np.random.default_rng(0).normal(size=(3 * 8 * 8, 6)))

    preprocess = staticmethod(_preprocess_to_tensor)

    def encode_images(self, pixels):
        if self.fail_above is not None and len(pixels) > self.fail_above:
            self.batch_sizes.append(-len(pixels))  # a refused batch
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (fake, batch {len(pixels)})")
        self.batch_sizes.append(len(pixels))
        self.rows.extend(float(row.sum()) for row in pixels.double().flatten(1))
        return (pixels.double().flatten(1) @ self.projection).float()


class CountingEncoder:
    """Wraps a loaded encoder and counts the images it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.images_embedded = 0
        self.identity = inner.identity
        self.embedding_dim = inner.embedding_dim
        self.preprocess = inner.preprocess

    def encode_images(self, pixels):
        self.images_embedded += len(pixels)
        return self.inner.encode_images(pixels)


# --- sklearn contract: the checks that apply -------------------------------------------

# Applied by name: these look only at parameters, cloning, tags, repr and the unfitted
# state. The data-based checks (check_transformer_general, check_fit2d_*, check_n_features_in,
# check_dont_overwrite_parameters, check_fit_check_is_fitted, dtype/NaN/sparse/pickle checks...)
# feed random numeric matrices such as shape (20, 3) as X: for an image embedder those are not
# images (nor one column of paths) and are rightly refused, so they cannot run here. Their
# intent is tested below with real images: parameters not overwritten, check_is_fitted,
# pickling, clone, set_output and ColumnTransformer.
APPLICABLE_CHECKS = [
    "check_get_params_invariance",
    "check_set_params",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_estimator_repr",
    "check_estimator_cloneable",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_mixin_order",
    "check_get_feature_names_out_error",
    "check_transformers_unfitted",
    "check_estimators_unfitted",
    "check_param_validation",
]


@pytest.mark.parametrize("check_name", APPLICABLE_CHECKS)
def test_sklearn_check(check_name):
    # The default model name is never loaded: none of these checks fits.
    getattr(estimator_checks, check_name)("ClipImageEmbedder", ClipImageEmbedder())


def test_fit_sets_fitted_state_and_leaves_parameters(tiny_model, picture_paths):
    # check_dont_overwrite_parameters and check_fit_check_is_fitted, with images.
    embedder = _embedder(tiny_model, batch_size=3)
    params = embedder.get_params()
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(embedder)
    assert embedder.fit(picture_paths) is embedder
    check_is_fitted(embedder)
    assert embedder.get_params() == params
    public = {name for name in vars(embedder) if not name.startswith("_")}
    assert public - set(params) == {"embedding_dim_", "n_features_in_", "resolved_model_"}
    assert embedder.embedding_dim_ == EMBEDDING_DIM and embedder.n_features_in_ == 1


def test_transform_before_fit_raises_not_fitted(tiny_model, picture_paths):
    with pytest.raises(NotFittedError, match="not fitted yet") as info:
        _embedder(tiny_model).transform(picture_paths)
    assert isinstance(info.value, SklearnNotFittedError)


def test_clone_does_not_load_and_copies_parameters(tiny_model):
    from skclip_sage.encoders import encoder_load_count

    embedder = _embedder(tiny_model, batch_size=7, on_error="warn")
    loads = encoder_load_count()
    copy = clone(embedder)
    assert copy.get_params() == embedder.get_params()
    assert encoder_load_count() == loads


def test_pickle_round_trip_is_torch_free_and_identical(fitted, picture_paths, reference):
    payload = pickle.dumps(fitted)
    assert _modules_in_pickle(payload) == {"skclip_sage._embedder"}
    restored = pickle.loads(payload)
    np.testing.assert_array_equal(restored.transform(picture_paths), reference)


def _modules_in_pickle(payload: bytes) -> set:
    """Every module whose globals unpickling ``payload`` imports."""
    modules = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            modules.add(module)
            return super().find_class(module, name)

    Recording(io.BytesIO(payload)).load()
    return modules


def test_bad_parameter_is_reported_at_fit(tiny_model):
    with pytest.raises(ValueError, match="on_error"):
        _embedder(tiny_model, on_error="skip").fit()


def test_model_object_without_image_methods_is_rejected():
    class TextOnly:
        identity, embedding_dim, logit_scale = "text-only", 4, 100.0

        def encode_text(self, texts):
            return np.ones((len(texts), 4), np.float32)

    with pytest.raises(ValueError, match="encode_images"):
        ClipImageEmbedder(TextOnly()).fit()

    class NoWidth(RecordingEncoder):
        embedding_dim = property(lambda self: (_ for _ in ()).throw(AttributeError("embedding_dim")))

    with pytest.raises(ModelLoadError, match=r"NoWidth lacks \['embedding_dim'\]"):
        ClipImageEmbedder(NoWidth()).fit()


def test_image_only_encoder_object_is_enough():
    # The embedder needs no text side: an object with preprocess/encode_images/embedding_dim works.
    encoder = RecordingEncoder()
    output = ClipImageEmbedder(encoder).fit_transform(np.zeros((2, 8, 8, 3), np.uint8) + 7)
    assert output.shape == (2, 6)


# --- outputs ----------------------------------------------------------------------------


def test_output_is_unit_norm_float32_in_input_order(fitted, picture_paths, reference):
    assert reference.dtype == np.float32 and reference.shape == (len(picture_paths), EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, rtol=1e-5)
    assert np.isfinite(reference).all()
    reversed_output = fitted.transform(picture_paths[::-1])
    np.testing.assert_allclose(reversed_output, reference[::-1], atol=1e-6)
    # Distinct pictures give distinct embeddings (the model is not degenerate).
    assert len({row.tobytes() for row in reference}) == len(picture_paths)


def test_same_input_twice_is_bitwise_equal_on_cpu(fitted, picture_paths, reference):
    np.testing.assert_array_equal(fitted.transform(picture_paths), reference)


def test_batch_size_does_not_change_the_embeddings(tiny_model, picture_paths, reference):
    one = _embedder(tiny_model, batch_size=1).fit().transform(picture_paths)
    many = _embedder(tiny_model, batch_size=64).fit().transform(picture_paths)
    np.testing.assert_allclose(one, many, atol=1e-5)
    np.testing.assert_allclose(many, reference, atol=1e-5)


def test_worker_processes_give_the_same_embeddings(tiny_model, picture_paths, reference):
    output = _embedder(tiny_model, num_workers=2, batch_size=2).fit().transform(picture_paths)
    np.testing.assert_array_equal(output, _embedder(tiny_model, batch_size=2).fit().transform(picture_paths))
    np.testing.assert_allclose(output, reference, atol=1e-5)


def test_empty_input_gives_an_empty_matrix(fitted):
    output = fitted.transform([])
    assert output.shape == (0, EMBEDDING_DIM) and output.dtype == np.float32


def test_verbose_shows_a_progress_bar(tiny_model, picture_paths, reference, capsys):
    output = _embedder(tiny_model, verbose=True, batch_size=2, memory_cache=0).fit().transform(picture_paths)
    np.testing.assert_allclose(output, reference, atol=1e-5)
    assert "Embedding images" in capsys.readouterr().err


def test_preprocessing_in_process_runs_on_one_torch_thread():
    # Small per-image ops lose to thread hand-offs; the model keeps the caller's threads.
    seen = {"preprocess": set(), "model": set()}

    class ThreadRecording(RecordingEncoder):
        def preprocess(self, image):
            seen["preprocess"].add(torch.get_num_threads())
            return _preprocess_to_tensor(image)

        def encode_images(self, pixels):
            seen["model"].add(torch.get_num_threads())
            return super().encode_images(pixels)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        ClipImageEmbedder(ThreadRecording(), batch_size=2).fit().transform(np.zeros((5, 8, 8, 3), np.uint8))
        assert seen == {"preprocess": {1}, "model": {2}}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


# --- inputs -----------------------------------------------------------------------------


def _decoded(paths):
    return [np.asarray(Image.open(path).convert("RGB")) for path in paths]


@pytest.mark.parametrize(
    "kind",
    [
        "str",
        "pathlib",
        "bytes",
        "pil",
        "array list",
        "array batch",
        "series",
        "dataframe",
        "object column",
        "generator",
        "tuple",
    ],
)
def test_every_input_kind_gives_the_same_embeddings(fitted, picture_paths, reference, kind):
    # All six pictures share one size, so they also stack into an (n, H, W, 3) batch.
    convert = {
        "str": lambda paths: list(paths),
        "pathlib": lambda paths: [Path(path) for path in paths],
        "bytes": lambda paths: [Path(path).read_bytes() for path in paths],
        "pil": lambda paths: [Image.open(path) for path in paths],
        "array list": _decoded,
        "array batch": lambda paths: np.stack(_decoded(paths)),
        "series": lambda paths: pd.Series(paths, name="path"),
        "dataframe": lambda paths: pd.DataFrame({"path": paths}),
        "object column": lambda paths: np.array(paths, dtype=object)[:, None],
        "generator": lambda paths: (path for path in paths),
        "tuple": tuple,
    }[kind]
    np.testing.assert_allclose(fitted.transform(convert(picture_paths)), reference, atol=1e-6)


def test_pil_inputs_are_not_modified(fitted, picture_paths):
    image = Image.open(picture_paths[0]).convert("RGBA")
    before = image.tobytes()
    fitted.transform([image])
    assert image.mode == "RGBA" and image.tobytes() == before


@pytest.mark.parametrize("single", ["photo.jpg", Path("photo.jpg")])
def test_a_single_path_is_rejected(fitted, single):
    # RELIABILITY 24.
    with pytest.raises(ValueError, match="iterable over image paths"):
        fitted.transform(single)
    with pytest.raises(ValueError, match="iterable over image paths"):
        clone(fitted).fit(single)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 8, 8), np.uint8), r"shape \(n_images, height, width, 3\)"),
        (np.zeros((2, 8, 8, 2), np.uint8), r"shape \(n_images, height, width, 3\)"),
        (np.zeros((2, 8, 8, 3), np.float32), r"uint8 \(0-255\)"),
        (np.array([["a.png", "b.png"]], dtype=object), r"one-column 2-D array of paths"),
        (pd.DataFrame({"path": ["a.png"], "age": [3]}), r"one column of image paths"),
        ([np.zeros((8, 8, 3), np.float64)], r"array at position 0 has dtype float64"),
    ],
)
def test_bad_shapes_are_rejected(fitted, bad, message):
    with pytest.raises(ValueError, match=message):
        fitted.transform(bad)


# --- sklearn composition ----------------------------------------------------------------


def test_feature_names_out(fitted):
    names = fitted.get_feature_names_out()
    assert names.shape == (EMBEDDING_DIM,)
    assert names[0] == "clipimageembedder0" and names[-1] == f"clipimageembedder{EMBEDDING_DIM - 1}"


def test_set_output_pandas_keeps_the_index(tiny_model, picture_paths, reference):
    frame = pd.DataFrame({"path": picture_paths}, index=[f"row{i}" for i in range(len(picture_paths))])
    embedder = _embedder(tiny_model).set_output(transform="pandas").fit(frame)
    output = embedder.transform(frame)
    assert isinstance(output, pd.DataFrame)
    assert list(output.index) == list(frame.index)
    assert list(output.columns) == list(embedder.get_feature_names_out())
    np.testing.assert_allclose(output.to_numpy(), reference, atol=1e-6)
    assert list(embedder.feature_names_in_) == ["path"]


def test_column_transformer_with_numeric_columns(tiny_model, picture_paths, reference):
    frame = pd.DataFrame(
        {
            "age": np.arange(len(picture_paths), dtype=float),
            "path": picture_paths,
            "height": np.linspace(1.5, 2.0, len(picture_paths)),
        }
    )
    for path_column in (["path"], "path"):  # a one-column DataFrame, then a Series
        transformer = ColumnTransformer(
            [
                ("image", _embedder(tiny_model), path_column),
                ("numbers", StandardScaler(), ["age", "height"]),
            ]
        )
        output = transformer.fit_transform(frame)
        assert output.shape == (len(picture_paths), EMBEDDING_DIM + 2)
        np.testing.assert_allclose(output[:, :EMBEDDING_DIM], reference, atol=1e-6)
        names = transformer.get_feature_names_out()
        assert names[0] == "image__clipimageembedder0" and list(names[-2:]) == ["numbers__age", "numbers__height"]


def test_pipeline_with_the_classifier_on_paths(tiny_model, picture_paths):
    labels = np.array([0, 1, 0, 1, 0, 1])
    pipeline = make_pipeline(
        _embedder(tiny_model),
        SageZeroShotClassifier(
            tiny_model,
            pretrained=None,
            templates=["a photo of a {}.", "a drawing of a {}."],
            class_names={0: "cat", 1: "dog"},
        ),
    )
    predictions = pipeline.fit(picture_paths, labels).predict(picture_paths)
    assert predictions.shape == (len(picture_paths),) and set(predictions) <= {0, 1}
    probabilities = pipeline.predict_proba(picture_paths)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)


# --- unreadable images (RELIABILITY 25) -------------------------------------------------


def _break(paths, positions):
    """Replace some files by unreadable ones: HTML named .png, empty, truncated."""
    breakers = [
        lambda path: Path(path).write_text("<html>not an image</html>"),
        lambda path: Path(path).write_bytes(b""),
        lambda path: Path(path).write_bytes(Path(path).read_bytes()[:60]),
    ]
    for index, position in enumerate(positions):
        breakers[index % len(breakers)](paths[position])


def test_on_error_raise_lists_every_unreadable_file(tiny_model, tmp_path):
    paths = _write_pictures(tmp_path, 10)
    _break(paths, [2, 7])
    with pytest.raises(UnreadableImagesError, match="could not read 2 of 10 images") as info:
        _embedder(tiny_model, batch_size=3).fit().transform(paths)
    message = str(info.value)
    assert repr(paths[2]) in message and repr(paths[7]) in message
    assert "on_error='warn'" in message
    assert [position for position, _, _ in info.value.failures] == [2, 7]
    assert info.value.failures[0][1] == paths[2] and "cannot identify image file" in info.value.failures[0][2]


def test_on_error_raise_shows_the_first_failures_and_keeps_all(tiny_model, tmp_path):
    paths = _write_pictures(tmp_path, 8)
    _break(paths, range(7))
    with pytest.raises(UnreadableImagesError, match=r"7 of 8 images: .*, \.\.\.\. Pass") as info:
        _embedder(tiny_model).fit().transform(paths)
    assert len(info.value.failures) == 7


def test_missing_file_is_named(tiny_model, tmp_path, picture_paths):
    missing = str(tmp_path / "gone.png")
    with pytest.raises(UnreadableImagesError, match="1 of 2 images: .*gone.png' .no such file"):
        _embedder(tiny_model).fit().transform([picture_paths[0], missing])


def test_on_error_warn_gives_nan_rows_and_one_warning(tiny_model, tmp_path):
    paths = _write_pictures(tmp_path, 120)
    bad = [5, 50, 119]
    _break(paths, bad)
    embedder = _embedder(tiny_model, on_error="warn", batch_size=32).fit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        output = embedder.transform(paths)
    skipped = [record for record in caught if issubclass(record.category, SkippedImagesWarning)]
    assert len(skipped) == 1, [str(record.message) for record in caught]
    warning = skipped[0].message
    assert "3 of 120" in str(warning) and repr(paths[5]) in str(warning) and "drop them" in str(warning)
    assert [position for position, _, _ in warning.failures] == bad
    assert output.shape == (120, EMBEDDING_DIM)
    nan_rows = np.flatnonzero(np.isnan(output).any(axis=1))
    assert nan_rows.tolist() == bad and np.isnan(output[bad]).all()
    good = np.setdiff1d(np.arange(120), bad)
    assert np.isfinite(output[good]).all()
    # The good rows are exactly what embedding them alone gives.
    np.testing.assert_allclose(output[good[:4]], embedder.transform([paths[i] for i in good[:4]]), atol=1e-6)

    classifier = SageZeroShotClassifier(
        tiny_model, pretrained=None, templates=["a photo of a {}."], class_names={0: "cat", 1: "dog"}
    )
    labels = np.arange(120) % 2
    classifier.fit(output[good], labels[good])
    with pytest.raises(ValueError, match=r"3 of 120 rows \(5, 50, 119\).*drop them"):
        classifier.predict(output)
    with pytest.raises(ValueError, match=r"3 of 120 rows \(5, 50, 119\)"):
        clone(classifier).fit(output, labels)


def test_on_error_warn_with_every_image_unreadable(tiny_model, tmp_path):
    paths = _write_pictures(tmp_path, 3)
    _break(paths, range(3))
    with pytest.warns(SkippedImagesWarning, match="3 of 3"):
        output = _embedder(tiny_model, on_error="warn").fit().transform(paths)
    assert output.shape == (3, EMBEDDING_DIM) and np.isnan(output).all()


# --- cache_dir ---------------------------------------------------------------------------


def test_cache_skips_the_model_on_the_second_transform(tiny_model, tmp_path):
    paths = _write_pictures(tmp_path / "images", 5)
    counting = CountingEncoder(load_encoder(tiny_model, None, device="cpu"))
    embedder = ClipImageEmbedder(counting, cache_dir=tmp_path / "cache", batch_size=2).fit()
    first = embedder.transform(paths)
    assert counting.images_embedded == 5
    second = embedder.transform(paths)
    assert counting.images_embedded == 5  # nothing ran
    np.testing.assert_array_equal(second, first)
    # A fresh embedder (another process, say) reads the same cache.
    np.testing.assert_array_equal(clone(embedder).fit().transform(paths[::-1]), first[::-1])
    assert counting.images_embedded == 5

    status = os.stat(paths[3])
    os.utime(paths[3], ns=(status.st_atime_ns, status.st_mtime_ns + 2_000_000_000))
    Image.fromarray(_picture(99)).save(paths[1])  # edited content, new mtime/size
    third = embedder.transform(paths)
    assert counting.images_embedded == 7  # exactly the touched and the edited file
    np.testing.assert_array_equal(third[3], first[3])
    assert not np.allclose(third[1], first[1])


def test_cache_matches_the_uncached_embeddings(tiny_model, tmp_path, picture_paths, reference):
    embedder = _embedder(tiny_model, cache_dir=tmp_path).fit()
    np.testing.assert_array_equal(embedder.transform(picture_paths), reference)
    np.testing.assert_array_equal(embedder.transform(picture_paths), reference)


def test_cache_keys_in_memory_images_by_pixels(tiny_model, tmp_path):
    counting = CountingEncoder(load_encoder(tiny_model, None, device="cpu"))
    embedder = ClipImageEmbedder(counting, cache_dir=tmp_path).fit()
    images = np.stack([_picture(seed) for seed in range(3)])
    first = embedder.transform(images)
    changed = images.copy()
    changed[1, 0, 0, 0] ^= 255
    second = embedder.transform(changed)
    assert counting.images_embedded == 4
    np.testing.assert_array_equal(second[[0, 2]], first[[0, 2]])


def test_cache_never_stores_rows_skipped_after_an_error(tiny_model, tmp_path):
    # Under on_error="raise" the model stops at the first failure; the rows after it were
    # never embedded and must not be cached as NaN for the next call.
    paths = _write_pictures(tmp_path / "images", 4)
    _break(paths, [0])
    embedder = _embedder(tiny_model, cache_dir=tmp_path / "cache", batch_size=1).fit()
    with pytest.raises(UnreadableImagesError):
        embedder.transform(paths)
    output = embedder.transform(paths[1:])
    assert np.isfinite(output).all()


def test_cache_with_warn_recomputes_fixed_files(tiny_model, tmp_path):
    paths = _write_pictures(tmp_path / "images", 3)
    _break(paths, [1])
    embedder = _embedder(tiny_model, cache_dir=tmp_path / "cache", on_error="warn").fit()
    with pytest.warns(SkippedImagesWarning, match="1 of 3"):
        embedder.transform(paths)
    Image.fromarray(_picture(1)).save(paths[1])
    assert np.isfinite(embedder.transform(paths)).all()


def test_cache_needs_an_encoder_identity(tmp_path):
    class Anonymous(RecordingEncoder):
        identity = None

    with pytest.raises(ValueError, match="no 'identity' attribute"):
        ClipImageEmbedder(Anonymous(), cache_dir=tmp_path).fit().transform(np.zeros((1, 8, 8, 3), np.uint8))


def _image_cache(encoder, cache_dir):
    """The embedder's image cache for ``encoder``, to reach and forge its entries."""
    return CheckedCache(cache_dir, IMAGE_CACHE, producer_of(encoder), owner="test")


@pytest.mark.parametrize("damage", ["NaN", "zeros", "float64", "another width", "another model"])
def test_a_bad_cached_embedding_is_recomputed_with_one_warning_never_returned(tiny_model, tmp_path, damage):
    # RELIABILITY 35: detected on read, recomputed, one warning; never returned (not even as a
    # NaN row under on_error="raise").
    paths = _write_pictures(tmp_path / "images", 4)
    counting = CountingEncoder(load_encoder(tiny_model, None, device="cpu"))
    embedder = ClipImageEmbedder(counting, cache_dir=tmp_path / "cache", batch_size=2, memory_cache=0).fit()
    expected = embedder.transform(paths)
    cache = _image_cache(counting, tmp_path / "cache")
    good, producer = expected[2], cache.producer
    forged = {
        "NaN": np.where(np.arange(EMBEDDING_DIM) == 3, np.nan, good).astype(np.float32),
        "zeros": np.zeros_like(good),
        "float64": good.astype(np.float64),
        "another width": good[:16] / np.linalg.norm(good[:16]),
        "another model": expected[0],
    }[damage]
    if damage == "another model":
        producer = producer.replace(counting.identity, "another-model")
    save_cached_array(cache.folder, cache.key(*image_key_parts(paths[2]), "jpeg_draft=None"), forged, producer)
    with pytest.warns(InvalidCacheEntryWarning, match=f"1 invalid cache entry.*{re.escape(paths[2])}") as record:
        again = embedder.transform(paths)
    assert len(record) == 1
    np.testing.assert_allclose(again, expected, rtol=0, atol=1e-6)  # row 2 alone now, not in a batch of 2
    assert counting.images_embedded == 5  # only the bad entry ran again
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # replaced by the recomputed row: no warning, no model run
        np.testing.assert_array_equal(embedder.transform(paths), again)
    assert counting.images_embedded == 5


def _fail_writes(monkeypatch, code, reason):
    def refuse(path, *args, **kwargs):
        raise OSError(code, reason, path)

    # Where every cache write starts (the temporary file next to the entry); root may
    # write to a chmod-ed folder, so the refusal is injected rather than arranged.
    monkeypatch.setattr("skclip_sage.io._cache.open_temporary", refuse)


@pytest.mark.parametrize("problem", ["a file", "read-only", "full disk"])
def test_a_cache_that_cannot_be_written_warns_once_and_keeps_every_embedding(
    tiny_model, tmp_path, monkeypatch, picture_paths, reference, problem
):
    # RELIABILITY 34: one warning naming cache_dir and the OS reason; nothing computed is lost.
    cache_dir = tmp_path / "cache"
    reason = {"a file": "Not a directory", "read-only": "Read-only file system", "full disk": "No space left"}[problem]
    if problem == "a file":
        cache_dir.write_text("in the way")
    else:
        _fail_writes(monkeypatch, errno.EROFS if problem == "read-only" else errno.ENOSPC, reason)
    embedder = _embedder(tiny_model, cache_dir=cache_dir, batch_size=2, memory_cache=0).fit()
    with pytest.warns(CacheWriteWarning, match=f"cache_dir={re.escape(repr(str(cache_dir)))} .*{reason}") as record:
        output = embedder.transform(picture_paths)
    assert len(record) == 1  # not one per batch or per image
    np.testing.assert_allclose(output, reference, rtol=0, atol=1e-6)  # batches of 2, not 64


INTERRUPTIBLE_EMBED = """
import os, signal, sys

# A job started in the background by a non-interactive shell (as CI may run the tests)
# inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: restore what
# an interactive `skclip-sage embed` gets, or the SIGINT case waits for ever.
signal.signal(signal.SIGINT, signal.default_int_handler)
from skclip_sage.encoders import OpenClipEncoder

encode_images = OpenClipEncoder.encode_images
finished, report = int(sys.argv[1]), int(sys.argv[2])  # report: the write end of the test's pipe
calls = []


def encode_images_then_wait(self, pixels):
    # One byte to the test per batch sent to the model. The batch after the first `finished`
    # waits here for the test's signal, so the signal lands mid-batch however loaded the machine.
    calls.append(len(pixels))
    if len(calls) <= finished:
        os.write(report, b"b")
        return encode_images(self, pixels)
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)  # whichever thread the signal reaches, the read below returns
    os.write(report, b"w")
    while True:  # SIGINT raises KeyboardInterrupt here; SIGTERM ends the process
        os.read(wakeup_read, 1)


OpenClipEncoder.encode_images = encode_images_then_wait
from skclip_sage.cli import main

sys.exit(main(sys.argv[3:]))
"""


def _cache_entries(cache_dir):
    return len(list((cache_dir / IMAGE_CACHE).rglob("*.npy")))


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_embed_keeps_finished_batches_and_the_rerun_computes_only_the_rest(
    tiny_model, tmp_path, monkeypatch, signal_number
):
    # RELIABILITY 33: `skclip-sage embed --cache-dir` stopped by a signal after a few batches. The
    # child reports each batch through a pipe and holds the next one until signalled (issue 17 item
    # 10: a sleep-paced child could finish before the signal on a loaded machine).
    n_images, batch_size, finished = 32, 4, 3
    paths = _write_pictures(tmp_path / "images", n_images)
    cache_dir, script = tmp_path / "cache", tmp_path / "interruptible_embed.py"
    script.write_text(INTERRUPTIBLE_EMBED)
    reports, report = os.pipe()
    command = [sys.executable, str(script), str(finished), str(report), "embed", *paths, "-o", str(tmp_path / "e.npy")]
    command += ["--model", tiny_model, "--cache-dir", str(cache_dir), "--batch-size", str(batch_size), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(report,))
    os.close(report)
    with os.fdopen(reports, "rb") as stream:
        received = stream.read(finished + 1)  # returns early, short, only if the child ended
    assert received == b"b" * finished + b"w", process.communicate()
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (130 if signal_number == signal.SIGINT else -signal.SIGTERM), stderr
    assert not (tmp_path / "e.npy").exists()
    # Stopped mid-batch, with every finished batch on disk: only the one in flight is lost.
    kept = _cache_entries(cache_dir)
    assert kept == finished * batch_size

    counted = []
    monkeypatch.setattr(OpenClipEncoder, "encode_images", _counting(OpenClipEncoder.encode_images, counted))
    resumed = _embedder(tiny_model, cache_dir=cache_dir, batch_size=batch_size).fit().transform(paths)
    assert sum(counted) == n_images - kept  # the rerun embeds only what the interrupt left undone
    assert _cache_entries(cache_dir) == n_images
    uninterrupted = _embedder(tiny_model, batch_size=batch_size).fit().transform(paths)
    np.testing.assert_allclose(resumed, uninterrupted, rtol=0, atol=1e-6)


def _counting(encode_images, counted):
    def counting_encode_images(self, pixels):
        counted.append(len(pixels))
        return encode_images(self, pixels)

    return counting_encode_images


# --- out-of-memory back-off (RELIABILITY 28) ---------------------------------------------


def test_out_of_memory_halves_the_batch_and_loses_no_row():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(100, 8, 8, 3), dtype=np.uint8)
    flaky = RecordingEncoder(fail_above=16)
    output = ClipImageEmbedder(flaky, batch_size=64, memory_cache=0).fit().transform(images)
    steady = RecordingEncoder()
    expected = ClipImageEmbedder(steady, batch_size=1, memory_cache=0).fit().transform(images)
    np.testing.assert_allclose(output, expected, atol=1e-6)
    accepted = [size for size in flaky.batch_sizes if size > 0]
    assert max(accepted) == 16 and sum(accepted) == 100
    assert [-size for size in flaky.batch_sizes if size < 0][:2] == [64, 32]
    assert sorted(flaky.rows) == sorted(steady.rows)  # every row once: none lost, none repeated


def test_out_of_memory_at_batch_one_is_reraised_with_device_and_size():
    with pytest.raises(torch.cuda.OutOfMemoryError, match="even with batch size 1"):
        ClipImageEmbedder(RecordingEncoder(fail_above=0), batch_size=4, memory_cache=0).fit().transform(
            np.zeros((3, 8, 8, 3), np.uint8)
        )


# --- images: orientation and modes (RELIABILITY 22, 23) ----------------------------------


@pytest.mark.parametrize("orientation, rotation", [(6, Image.Transpose.ROTATE_270), (8, Image.Transpose.ROTATE_90)])
def test_exif_orientation_matches_the_physically_rotated_image(fitted, tmp_path, orientation, rotation):
    stored = Image.fromarray(_picture(3, size=(48, 32)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    tagged = tmp_path / f"tagged{orientation}.jpg"
    stored.save(tagged, quality=95, exif=exif)
    # The physically rotated reference, from the very same decoded JPEG pixels.
    decoded = Image.open(tagged)
    decoded.load()
    rotated = tmp_path / f"rotated{orientation}.png"
    decoded.convert("RGB").transpose(rotation).save(rotated)
    unrotated = tmp_path / f"unrotated{orientation}.png"
    decoded.convert("RGB").save(unrotated)

    output = fitted.transform([tagged, rotated, unrotated])
    np.testing.assert_allclose(output[0], output[1], atol=1e-5)
    assert not np.allclose(output[0], output[2], atol=1e-3)  # the test would notice a missing rotation


def _mode_images(folder: Path) -> dict:
    base = Image.fromarray(_picture(4))
    paths = {}

    def save(name, image, **kwargs):
        paths[name] = folder / name
        image.save(paths[name], **kwargs)

    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    save("rgba.png", rgba)
    save("la.png", rgba.convert("LA"))
    palette = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    save("p_transparent.png", palette, transparency=0)
    save("cmyk.jpg", base.convert("CMYK"))
    grey = np.asarray(base.convert("L"), dtype=np.uint16) * 257
    save("i16.png", Image.fromarray(grey))
    save("f.tiff", Image.fromarray(np.asarray(base.convert("L"), dtype=np.float32) / 255.0))
    save("one_bit.png", base.convert("1"))
    frames = [base.convert("P"), Image.fromarray(_picture(5)).convert("P")]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=50, loop=0)
    return paths


def test_every_image_mode_gives_a_finite_unit_embedding(fitted, tmp_path):
    paths = _mode_images(tmp_path)
    assert Image.open(paths["i16.png"]).mode.startswith("I")
    assert Image.open(paths["f.tiff"]).mode == "F"
    assert getattr(Image.open(paths["animated.gif"]), "n_frames", 1) == 2
    output = fitted.transform(list(paths.values()))
    assert np.isfinite(output).all()
    np.testing.assert_allclose(np.linalg.norm(output, axis=1), 1.0, rtol=1e-5)


def test_documented_conversions(fitted, tmp_path):
    # Fully transparent pixels composite over white; an animation uses its first frame.
    transparent = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    white = Image.new("RGB", (30, 30), (255, 255, 255))
    frames = [Image.fromarray(_picture(6)).convert("P"), Image.fromarray(_picture(7)).convert("P")]
    gif = tmp_path / "two_frames.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=50)
    first_frame = Image.open(gif).convert("RGB")
    output = fitted.transform([transparent, white, gif, first_frame])
    np.testing.assert_allclose(output[0], output[1], atol=1e-6)
    np.testing.assert_allclose(output[2], output[3], atol=1e-6)


# --- eval mode and devices (RELIABILITY 29, 30) ------------------------------------------


def test_eval_mode_is_enforced_for_a_model_left_in_training_mode(tiny_model):
    import open_clip
    from conftest import TINY_MODEL_CONFIG

    from skclip_sage.encoders import OpenClipEncoder

    config = {**TINY_MODEL_CONFIG, "vision_cfg": {**TINY_MODEL_CONFIG["vision_cfg"], "patch_dropout": 0.5}}
    torch.manual_seed(0)
    network = open_clip.CLIP(**config)
    preprocess = open_clip.image_transform(32, is_train=False)
    encoder = OpenClipEncoder(
        network, open_clip.get_tokenizer("ViT-B-32"), preprocess, identity="dropout-model", device=torch.device("cpu")
    )
    images = np.stack([_picture(seed) for seed in range(4)])
    pixels = torch.stack([preprocess(Image.fromarray(image)) for image in images])
    network.train()
    with torch.no_grad():  # the dropout really is random in training mode
        assert not torch.equal(network.encode_image(pixels), network.encode_image(pixels))

    embedder = ClipImageEmbedder(encoder).fit()
    network.train()
    first = embedder.transform(images)
    network.train()
    second = embedder.transform(images)
    np.testing.assert_array_equal(first, second)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error(tiny_model):
    with pytest.raises(ValueError, match="CUDA is not available.*device='auto'.*device='cpu'"):
        _embedder(tiny_model, device="cuda").fit()


def test_auto_device_is_cpu_without_cuda(tiny_model):
    encoder = load_encoder(tiny_model, None, device="auto")
    assert encoder.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


# --- GPU (run by benchmarks/gpu_check.sh on a machine with CUDA) --------------------------


@pytest.mark.gpu
@requires_cuda
def test_gpu_bf16_autocast_is_close_to_fp32(tiny_model, picture_paths):
    fp32 = _embedder(tiny_model, device="cuda", precision="fp32").fit().transform(picture_paths)
    bf16 = _embedder(tiny_model, device="cuda", precision="bf16").fit().transform(picture_paths)
    assert bf16.dtype == np.float32 and np.isfinite(bf16).all()
    cosine = (fp32 * bf16).sum(axis=1)
    assert cosine.min() > 0.99, cosine


@pytest.mark.gpu
@requires_cuda
def test_gpu_fp32_matches_cpu(tiny_model, picture_paths, reference):
    on_gpu = _embedder(tiny_model, device="cuda", precision="fp32").fit().transform(picture_paths)
    np.testing.assert_allclose(on_gpu, reference, atol=2e-3)


@pytest.mark.gpu
@requires_cuda
def test_gpu_repeatable_and_batch_size_invariant(tiny_model, picture_paths):
    embedder = _embedder(tiny_model, device="cuda", batch_size=64).fit()
    first = embedder.transform(picture_paths)
    np.testing.assert_allclose(embedder.transform(picture_paths), first, atol=1e-6)
    one = _embedder(tiny_model, device="cuda", batch_size=1).fit().transform(picture_paths)
    np.testing.assert_allclose(one, first, atol=2e-2)  # autocast rounding differs with batch shape


@pytest.mark.gpu
@requires_cuda
def test_gpu_workers_and_pinned_memory(tiny_model, picture_paths):
    embedder = _embedder(tiny_model, device="cuda", precision="fp32", num_workers=2, batch_size=2).fit()
    single = _embedder(tiny_model, device="cuda", precision="fp32", batch_size=2).fit()
    np.testing.assert_allclose(embedder.transform(picture_paths), single.transform(picture_paths), atol=1e-6)


# --- issue 17: non-finite embeddings, injected modules, the caller's RNG, draft decoding ---


class NaNForDarkImages(RecordingEncoder):
    """Embeds like RecordingEncoder, but returns NaN for all-black images (a broken model, say)."""

    identity = "nan-for-dark-images"

    def encode_images(self, pixels):
        output = super().encode_images(pixels)
        output[pixels.flatten(1).amax(dim=1) == 0] = float("nan")
        return output


def _with_black_images(rows):
    images = np.random.default_rng(1).integers(1, 256, size=(6, 8, 8, 3), dtype=np.uint8)
    images[rows] = 0
    return images


def test_a_readable_image_whose_embedding_is_not_finite_is_a_failure_not_a_silent_nan_row():
    images = _with_black_images([1, 4])
    message = r"could not embed 1 of 6 images.*NaN or infinity.*later images were not tried"
    with pytest.raises(UnreadableImagesError, match=message) as info:
        ClipImageEmbedder(NaNForDarkImages(), batch_size=4).fit().transform(images)
    assert [position for position, _, _ in info.value.failures] == [1]  # the second batch never ran
    with pytest.warns(SkippedImagesWarning, match="could not embed 2 of 6") as record:
        output = ClipImageEmbedder(NaNForDarkImages(), on_error="warn", batch_size=4).fit().transform(images)
    assert [failure[0] for failure in record[0].message.failures] == [1, 4]
    assert np.isnan(output[[1, 4]]).all() and np.isfinite(np.delete(output, [1, 4], axis=0)).all()


def test_a_non_finite_embedding_is_never_cached(tmp_path):
    images = _with_black_images([2])
    embedder = ClipImageEmbedder(NaNForDarkImages(), on_error="warn", cache_dir=tmp_path / "cache", memory_cache=0)
    with pytest.warns(SkippedImagesWarning):
        embedder.fit().transform(images)
    assert len(list((tmp_path / "cache" / IMAGE_CACHE).rglob("*.npy"))) == 5


class DropoutImageModule(torch.nn.Module):
    """A raw torch module as the embedder's model: dropout makes train-mode output random."""

    identity = "dropout-image-module"
    embedding_dim = 6
    preprocess = staticmethod(_preprocess_to_tensor)

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3 * 8 * 8, 6)
        self.dropout = torch.nn.Dropout(0.5)
        self.seen_training = []

    def encode_images(self, pixels):
        self.seen_training.append(self.training)
        return self.dropout(self.linear(pixels.flatten(1)))


def test_a_raw_torch_module_in_train_mode_embeds_in_eval_mode_and_is_given_back_as_it_was():
    torch.manual_seed(0)
    module = DropoutImageModule().train()
    images = np.random.default_rng(0).integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)
    embedder = ClipImageEmbedder(module, memory_cache=0).fit()
    first, second = embedder.transform(images), embedder.transform(images)
    np.testing.assert_array_equal(first, second)
    assert module.seen_training == [False, False] and module.training  # restored


def test_transform_leaves_the_global_torch_rng_alone(tiny_model, picture_paths):
    embedder = _embedder(tiny_model, memory_cache=0).fit()
    torch.manual_seed(7)
    state = torch.get_rng_state()
    embedder.transform(picture_paths)
    assert torch.equal(torch.get_rng_state(), state)


def _jpeg(path, size=(1024, 768)):
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    Image.fromarray(small).resize(size, Image.BICUBIC).save(path, quality=92)
    return str(path)


def test_jpeg_draft_decodes_at_a_reduced_scale_and_keys_the_caches_on_it(tiny_model, tmp_path, monkeypatch):
    path = _jpeg(tmp_path / "big.jpg")
    sizes = []
    encoder = load_encoder(tiny_model, None, device="cpu")
    preprocess = encoder.preprocess

    def recording(image):
        sizes.append(image.size)
        return preprocess(image)

    monkeypatch.setattr(encoder, "preprocess", recording)
    drafted = ClipImageEmbedder(encoder).fit().transform([path])
    full = ClipImageEmbedder(encoder, jpeg_draft=False).fit().transform([path])
    # The tiny model takes 32 px: libjpeg decodes at 1/8 (128x96, both sides >= 32) unless told not to.
    assert sizes == [(128, 96), (1024, 768)]  # the second call was not served the first one's embedding
    assert float(drafted[0] @ full[0]) > 0.99 and not np.array_equal(drafted, full)


def test_a_file_name_that_is_not_utf8_is_embedded_and_cached(tiny_model, tmp_path):
    # The caches key a file by its path: a name that is not valid UTF-8 must key, not fail.
    folder = tmp_path / "images"
    (path,) = _write_pictures(folder, 1)
    odd = os.path.join(folder, os.fsdecode(b"caf\xe9.png"))
    os.rename(path, odd)
    embedder = _embedder(tiny_model, cache_dir=tmp_path / "cache").fit()
    first = embedder.transform([odd])
    assert np.isfinite(first).all()
    np.testing.assert_array_equal(_embedder(tiny_model, cache_dir=tmp_path / "cache").fit().transform([odd]), first)


@pytest.mark.parametrize("flag", [True, False])
def test_memory_cache_as_a_boolean_is_refused_at_fit(tiny_model, flag):
    # Issue 21 item 7: True was taken as a store of 1 byte, emptying the store every embedder shares.
    with pytest.raises(ValueError, match=r"'memory_cache'.*number of bytes, not a boolean.*or 0 to keep none"):
        _embedder(tiny_model, memory_cache=flag).fit()


def test_a_model_whose_width_changed_since_fit_says_so_and_to_refit(tmp_path):
    # Issue 21 item 5: a folder replaced by a model of another width gave numpy's "shape mismatch".
    import open_clip
    from conftest import TINY_MODEL_CONFIG, make_tiny_local_dir

    from skclip_sage.encoders import save_local_dir

    model = make_tiny_local_dir(tmp_path / "model")
    paths = _write_pictures(tmp_path / "images", 2)
    embedder = ClipImageEmbedder(model, pretrained=None, device="cpu").fit()
    assert embedder.transform(paths).shape == (2, 32)
    narrower = {**TINY_MODEL_CONFIG, "embed_dim": 16}
    save_local_dir(tmp_path / "model", open_clip.CLIP(**narrower), narrower)
    with pytest.raises(ValueError, match="declares 16-wide embeddings") as raised:
        embedder.transform(paths)
    message = str(raised.value)
    assert "16-wide embeddings" in message and "fitted when it gave 32" in message
    assert "the model changed since fit" in message and "Fit the embedder again" in message
    assert embedder.fit().transform(paths).shape == (2, 16)


def test_an_encoder_returning_another_width_than_it_declares_is_named(tmp_path):
    class Wider(RecordingEncoder):
        def encode_images(self, pixels):
            return torch.cat([super().encode_images(pixels)] * 2, dim=1)

    embedder = ClipImageEmbedder(Wider(), memory_cache=0).fit()
    with pytest.raises(ValueError, match=r"returned \d+-wide embeddings, but this ClipImageEmbedder was fitted"):
        embedder.transform(np.zeros((2, 4, 4, 3), dtype=np.uint8))
