"""Paths in, predictions out, in one scikit-learn Pipeline: no lost rows, each image embedded once,
unreadable images carried through, fitted estimators that load anywhere."""

from __future__ import annotations

import logging
import os
import pickle
import stat
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, cross_val_predict, cross_validate
from sklearn.pipeline import make_pipeline

from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier
from skclip_sage.debias import RoboShotProjection
from skclip_sage.encoders import OpenClipEncoder, clear_encoder_cache, load_encoder
from skclip_sage.exceptions import ModelLoadError, NonFiniteRowsWarning, SkippedImagesWarning
from skclip_sage.io import memory_cache
from skclip_sage.io._memory_cache import ENTRY_OVERHEAD_BYTES, MemoryCache

NAMES = {0: "landbird", 1: "waterbird"}


def _write_photos(folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        path = folder / f"photo_{index:02d}.png"
        Image.fromarray(rng.integers(0, 256, size=(24, 20, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def photos(tmp_path):
    return _write_photos(tmp_path / "photos", 6)


@pytest.fixture
def forward_rows(monkeypatch):
    """Rows sent through the tiny model's image tower in this test."""
    rows = []
    encode_images = OpenClipEncoder.encode_images

    def counting(self, pixels):
        rows.append(len(pixels))
        return encode_images(self, pixels)

    monkeypatch.setattr(OpenClipEncoder, "encode_images", counting)
    return rows


def _pipeline(model, **classifier):
    return make_pipeline(
        ClipImageEmbedder(model, pretrained=None, batch_size=4),
        SageZeroShotClassifier(model, pretrained=None, templates="simple", class_names=NAMES, **classifier),
    )


# --- 1. every iterable gives one row per item, in order --------------------------------

ITERABLES = {
    "list": lambda paths: list(paths),
    "generator": lambda paths: (path for path in paths),
    "map": lambda paths: map(Path, paths),
    "iter(list)": lambda paths: iter(list(paths)),
    "Path.glob": lambda paths: sorted(Path(paths[0]).parent.glob("*.png")).__iter__(),
    "Series": lambda paths: pd.Series(paths),
    "object array": lambda paths: np.array(paths, dtype=object),
    "tuple": lambda paths: tuple(paths),
}


@pytest.mark.parametrize("kind", list(ITERABLES))
def test_any_iterable_gives_one_row_per_item_in_order(tiny_model, photos, kind):
    reference = ClipImageEmbedder(tiny_model, pretrained=None).fit().transform(photos)
    make = ITERABLES[kind]
    from_fit_transform = ClipImageEmbedder(tiny_model, pretrained=None).fit_transform(make(photos))
    from_fit_then_transform = ClipImageEmbedder(tiny_model, pretrained=None).fit(make(photos)).transform(make(photos))
    np.testing.assert_allclose(from_fit_transform, reference, atol=1e-6)
    np.testing.assert_allclose(from_fit_then_transform, reference, atol=1e-6)


def test_path_rglob_straight_into_fit_transform(tiny_model, photos):
    # The issue's own example: a recursive glob generator, not sorted.
    folder = Path(photos[0]).parent
    embeddings = ClipImageEmbedder(tiny_model, pretrained=None).fit_transform(folder.rglob("*.png"))
    assert embeddings.shape == (6, 32) and np.isfinite(embeddings).all()


@pytest.mark.parametrize("kind", ["generator", "map", "iter(list)"])
def test_a_pipeline_fits_and_predicts_on_one_shot_iterators(tiny_model, photos, kind):
    y = [0, 1] * 3
    pipe = _pipeline(tiny_model).fit(ITERABLES[kind](photos), y)
    expected = _pipeline(tiny_model).fit(photos, y).predict(photos)
    np.testing.assert_array_equal(pipe.predict(ITERABLES[kind](photos)), expected)


@pytest.mark.parametrize("kind", ["generator", "map", "iter(list)", "Series", "list"])
def test_every_distributed_entry_point_takes_any_iterable(tiny_model, photos, kind):
    dask = pytest.importorskip("dask")
    from skclip_sage.distributed import embed_images

    reference = ClipImageEmbedder(tiny_model, pretrained=None).fit().transform(photos)
    embedder = ClipImageEmbedder(tiny_model, pretrained=None)
    with dask.config.set(scheduler="synchronous"):
        embeddings = embed_images(ITERABLES[kind](photos), embedder, partition_size=4).compute()
        embeddings_again, failures = dask.compute(
            *embed_images(ITERABLES[kind](photos), embedder, partition_size=4, return_failures=True)
        )
    np.testing.assert_allclose(embeddings, reference, atol=1e-6)
    np.testing.assert_allclose(embeddings_again, reference, atol=1e-6)
    assert failures == []


# --- 2. each image through the model once ----------------------------------------------


def test_a_pipeline_embeds_each_image_once_across_fit_predict_and_predict_proba(tiny_model, photos, forward_rows):
    pipe = _pipeline(tiny_model).fit(photos, [0, 1] * 3)
    pipe.predict(photos)
    pipe.predict_proba(photos)
    pipe.predict(photos[::-1])
    assert sum(forward_rows) == len(photos)


def test_a_grid_search_over_a_pipeline_embeds_each_image_once(tiny_model, tmp_path, forward_rows):
    paths = _write_photos(tmp_path / "many", 12)
    y = np.array([0, 1] * 6)
    grid = {"sagezeroshotclassifier__k": [1, 2], "sagezeroshotclassifier__selection": ["sage", "random"]}
    search = GridSearchCV(_pipeline(tiny_model, random_state=0), grid, cv=3, n_jobs=1).fit(paths, y)
    assert len(search.cv_results_["params"]) == 4
    search.predict(paths)
    cross_validate(_pipeline(tiny_model), paths, y, cv=3)
    cross_val_predict(_pipeline(tiny_model), paths, y, cv=3)
    assert sum(forward_rows) == len(paths)  # 4 candidates x 3 folds + refit + scoring: once


def test_clones_share_the_store_and_memory_cache_zero_keeps_nothing(tiny_model, photos, forward_rows):
    embedder = ClipImageEmbedder(tiny_model, pretrained=None).fit()
    first = embedder.transform(photos)
    np.testing.assert_array_equal(clone(embedder).fit().transform(photos), first)
    assert sum(forward_rows) == len(photos)
    off = ClipImageEmbedder(tiny_model, pretrained=None, memory_cache=0).fit()
    off.transform(photos)
    off.transform(photos)
    assert sum(forward_rows) == 3 * len(photos)


def test_an_edited_file_is_embedded_again(tiny_model, photos, forward_rows):
    embedder = ClipImageEmbedder(tiny_model, pretrained=None).fit()
    first = embedder.transform(photos)
    Image.fromarray(np.zeros((30, 30, 3), dtype=np.uint8)).save(photos[2])  # new size and mtime
    second = embedder.transform(photos)
    assert sum(forward_rows) == len(photos) + 1
    np.testing.assert_array_equal(np.delete(second, 2, axis=0), np.delete(first, 2, axis=0))
    assert not np.allclose(second[2], first[2])


def test_the_memory_store_is_bounded_in_bytes_and_forgets_the_least_recently_used():
    row = np.ones(8, dtype=np.float32)
    size = row.nbytes + ENTRY_OVERHEAD_BYTES
    store = MemoryCache(max_bytes=3 * size)
    for key in "abc":
        store.put(key, row * ord(key))
    assert store.get("a") is not None  # "a" is now the most recently used
    store.put("d", row)
    assert store.get("b") is None and store.get("a") is not None and len(store) == 3
    assert store.nbytes == 3 * size <= store.max_bytes
    store.resize(size)  # keeps the most recently used: "a", read after "d" was put
    assert len(store) == 1 and store.get("a") is not None
    with pytest.raises(ValueError, match="read-only"):
        store.get("a")[0] = 5.0  # handed-out rows cannot corrupt the store
    assert memory_cache("producer", 100) is memory_cache("producer", 200)  # one store per configuration


def test_embedder_memory_cache_parameter_bounds_the_store(tiny_model, photos):
    row_bytes = 32 * 4 + ENTRY_OVERHEAD_BYTES
    embedder = ClipImageEmbedder(tiny_model, pretrained=None, memory_cache=2 * row_bytes).fit()
    embedder.transform(photos)
    producer_stores = [store for store in _stores() if store.max_bytes == 2 * row_bytes]
    assert len(producer_stores) == 1 and len(producer_stores[0]) == 2 and producer_stores[0].nbytes <= 2 * row_bytes


def _stores():
    from skclip_sage.io import memory_store

    return [memory_store(0)]  # the process's one store (asking for 0 bytes leaves its bound as it is)


def test_cache_dir_serves_parallel_grid_search_workers(tmp_path):
    # n_jobs=2 runs folds in loky worker processes: they share embeddings through cache_dir.
    from fakes import FileCountingImageEncoder

    paths = _write_photos(tmp_path / "many", 8)
    log = tmp_path / "forward_rows.log"
    encoder = FileCountingImageEncoder(log)
    embedder = ClipImageEmbedder(encoder, cache_dir=tmp_path / "cache", batch_size=4)
    embedder.fit_transform(paths)  # the parent process embeds once
    assert FileCountingImageEncoder.rows(log) == len(paths)
    from fakes import WordSumEncoder

    pipe = make_pipeline(embedder, SageZeroShotClassifier(WordSumEncoder(6), templates="simple", class_names=NAMES))
    GridSearchCV(pipe, {"sagezeroshotclassifier__k": [1, 2]}, cv=2, n_jobs=2).fit(paths, [0, 1] * 4)
    assert FileCountingImageEncoder.rows(log) == len(paths)  # the workers ran no image through the model

    cold_log = tmp_path / "cold.log"
    cold = make_pipeline(
        ClipImageEmbedder(
            FileCountingImageEncoder(cold_log, "another-fake"), cache_dir=tmp_path / "cold-cache", batch_size=4
        ),
        SageZeroShotClassifier(WordSumEncoder(6), templates="simple", class_names=NAMES),
    )
    GridSearchCV(cold, {"sagezeroshotclassifier__k": [1, 2]}, cv=2, n_jobs=2).fit(paths, [0, 1] * 4)
    # With no warm cache, each of the two workers (and the parent's refit) embeds an image at most once.
    assert len(paths) <= FileCountingImageEncoder.rows(cold_log) <= 3 * len(paths)


# --- 3. a zero-shot pipeline with no fit over images ----------------------------------------


def test_a_zero_shot_pipeline_from_fitted_steps_predicts_without_any_fit(tiny_model, photos, forward_rows):
    classifier = SageZeroShotClassifier(tiny_model, pretrained=None, templates="simple", class_names=NAMES).fit()
    pipe = make_pipeline(ClipImageEmbedder(tiny_model, pretrained=None).fit(), classifier)
    predictions = pipe.predict(photos)
    assert predictions.shape == (6,) and set(predictions) <= {0, 1}
    # In a cross-validation, FrozenEstimator keeps the fitted classifier as it is.
    frozen = make_pipeline(ClipImageEmbedder(tiny_model, pretrained=None), FrozenEstimator(classifier))
    scores = cross_validate(frozen, photos, [0, 1] * 3, cv=2)["test_score"]
    assert len(scores) == 2
    assert sum(forward_rows) == len(photos)


# --- 4. unreadable images carried through: on_nan="propagate" -----------------------------


def _with_broken(photos, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    return photos[:2] + [str(broken)] + photos[2:]


def test_on_nan_propagate_carries_an_unreadable_image_through_a_pipeline(tiny_model, photos, tmp_path):
    paths = _with_broken(photos, tmp_path)
    pipe = make_pipeline(
        ClipImageEmbedder(tiny_model, pretrained=None, on_error="warn"),
        SageZeroShotClassifier(
            tiny_model, pretrained=None, templates="simple", class_names=NAMES, on_nan="propagate", k=2
        ),
    )
    y = [0, 1, 0, 1, 0, 1, 0]
    with (
        pytest.warns(SkippedImagesWarning, match="1 of 7"),
        pytest.warns(NonFiniteRowsWarning, match="left out of fit"),
    ):
        pipe.fit(paths, y)
    with pytest.warns(SkippedImagesWarning), pytest.warns(NonFiniteRowsWarning, match=r"1 of 7 rows \(2\)") as record:
        predictions = pipe.predict(paths)
    assert [warning.message.rows for warning in record if warning.category is NonFiniteRowsWarning] == [[2]]
    with pytest.warns(SkippedImagesWarning), pytest.warns(NonFiniteRowsWarning):
        proba = pipe.predict_proba(paths)
    clean = _pipeline(tiny_model, k=2).fit(photos, [0, 1] * 3)
    assert predictions[2] == -1  # the documented fill for integer labels
    np.testing.assert_array_equal(np.delete(predictions, 2), clean.predict(photos))
    assert np.isnan(proba[2]).all()
    np.testing.assert_allclose(np.delete(proba, 2, axis=0), clean.predict_proba(photos), atol=1e-12)


def test_on_nan_propagate_equals_a_run_without_the_bad_rows_for_every_output():
    from fakes import WordSumEncoder, image_embeddings

    X = image_embeddings(NAMES, [0, 1] * 10, width=16)
    bad = [3, 11, 12]
    X_bad = X.copy()
    X_bad[bad] = np.nan
    X_bad[11, 0] = np.inf
    good = np.setdiff1d(np.arange(len(X)), bad)
    for selection in ("sage", "ensemble", "random"):
        clf = SageZeroShotClassifier(
            WordSumEncoder(16), templates="simple", class_names=NAMES, selection=selection, k=2, random_state=0
        )
        with pytest.warns(NonFiniteRowsWarning, match="left out of fit"):
            clf.set_params(on_nan="propagate").fit(X_bad, [0, 1] * 10)
        reference = clone(clf).set_params(on_nan="raise").fit(X[good])
        with pytest.warns(NonFiniteRowsWarning, match=r"3 of 20 rows \(3, 11, 12\)"):
            similarities = clf.class_similarities(X_bad)
        np.testing.assert_array_equal(similarities[good], reference.class_similarities(X[good]))
        assert np.isnan(similarities[bad]).all()
        with pytest.warns(NonFiniteRowsWarning):
            decision = clf.decision_function(X_bad)
        np.testing.assert_array_equal(decision[good], reference.decision_function(X[good]))
        assert np.isnan(decision[bad]).all()
        with pytest.warns(NonFiniteRowsWarning):
            selected = clf.selected_templates(X_bad)
        np.testing.assert_array_equal(selected[good], reference.selected_templates(X[good]))
        assert (selected[bad] == -1).all()


@pytest.mark.parametrize(
    ("labels", "nan_label", "expected"),
    [
        (["cat", "dog"], None, ""),
        ([0.0, 1.0], None, "nan"),
        ([3, 7], None, -1),
        (["cat", "dog"], "unreadable", "unreadable"),
    ],
)
def test_predict_fills_nan_rows_with_the_documented_label(labels, nan_label, expected):
    from fakes import WordSumEncoder

    clf = SageZeroShotClassifier(
        WordSumEncoder(8),
        templates="simple",
        class_names=dict(zip(labels, ["cat", "dog"])),
        on_nan="propagate",
        nan_label=nan_label,
    ).fit()
    X = np.eye(8)[:3].copy()
    X[1] = np.nan
    with pytest.warns(NonFiniteRowsWarning):
        predictions = clf.predict(X)
    assert np.isnan(predictions[1]) if expected == "nan" else predictions[1] == expected
    assert predictions[0] in labels and predictions[2] in labels


def test_a_nan_label_that_is_a_class_is_refused():
    from fakes import WordSumEncoder

    clf = SageZeroShotClassifier(
        WordSumEncoder(8), templates="simple", class_names={-1: "cat", 1: "dog"}, on_nan="propagate"
    )
    # issue 21 section 5: at fit, not at the first NaN row
    with pytest.raises(ValueError, match=r"nan_label=-1 is one of the classes"):
        clf.fit()
    clf.set_params(nan_label=0).fit().set_params(nan_label=1)  # changed after fit: refused where it is used
    with pytest.warns(NonFiniteRowsWarning), pytest.raises(ValueError, match=r"nan_label=1 is one of the classes"):
        clf.predict(np.full((2, 8), np.nan))


def test_on_nan_raise_names_the_rows_and_both_remedies():
    from fakes import WordSumEncoder

    clf = SageZeroShotClassifier(WordSumEncoder(8), templates="simple", class_names=NAMES).fit()
    X = np.eye(8)[:4].copy()
    X[2] = np.nan
    with pytest.raises(ValueError, match=r"1 of 4 rows \(2\).*drop them.*on_nan='propagate'"):
        clf.predict(X)


def test_cross_val_predict_and_dask_predict_carry_nan_rows():
    dask_array = pytest.importorskip("dask.array")
    from fakes import WordSumEncoder, image_embeddings

    from skclip_sage.distributed import predict, predict_proba

    X = image_embeddings(NAMES, [0, 1] * 10, width=16)
    X[[4, 15]] = np.nan
    clf = SageZeroShotClassifier(WordSumEncoder(16), templates="simple", class_names=NAMES, on_nan="propagate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteRowsWarning)
        predictions = cross_val_predict(clf, X, [0, 1] * 10, cv=2)
        fitted = clf.fit(X)
        in_process = fitted.predict(X)
        dask_labels = predict(fitted, dask_array.from_array(X, chunks=7)).compute(scheduler="synchronous")
        dask_proba = predict_proba(fitted, dask_array.from_array(X, chunks=7)).compute(scheduler="synchronous")
    assert predictions[4] == predictions[15] == -1 and (np.delete(predictions, [4, 15]) >= 0).all()
    np.testing.assert_array_equal(dask_labels, in_process)
    assert np.isnan(dask_proba[[4, 15]]).all() and np.isfinite(np.delete(dask_proba, [4, 15], axis=0)).all()


def test_debiasing_transformers_pass_nan_rows_through_unchanged():
    from fakes import WordSumEncoder, image_embeddings

    X = image_embeddings(NAMES, [0, 1] * 5, width=16).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X_bad = X.copy()
    X_bad[3] = np.nan
    robo = RoboShotProjection(WordSumEncoder(16), harmful=[("water", "land")], on_nan="propagate")
    with pytest.warns(NonFiniteRowsWarning, match=r"RoboShotProjection\.fit.*\(3\)"):
        robo.fit(X_bad)
    with pytest.warns(NonFiniteRowsWarning, match=r"RoboShotProjection\.transform"):
        moved = robo.transform(X_bad)
    assert np.isnan(moved[3]).all()
    np.testing.assert_array_equal(np.delete(moved, 3, axis=0), robo.transform(np.delete(X, 3, axis=0)))
    with pytest.raises(ValueError, match="NaN or infinity.*on_nan='propagate'"):
        RoboShotProjection(WordSumEncoder(16), harmful=[("water", "land")]).fit(X_bad)


# --- 5. fitted estimators load anywhere the model folder still is -------------------------


def test_a_relative_local_dir_is_resolved_at_fit_and_loads_from_another_directory(tmp_path, monkeypatch, photos):
    from conftest import make_tiny_local_dir

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    make_tiny_local_dir(project / "models" / "tiny-clip")
    monkeypatch.chdir(project)
    embedder = ClipImageEmbedder("local-dir:models/tiny-clip", pretrained=None).fit()
    classifier = SageZeroShotClassifier(
        "local-dir:models/tiny-clip", pretrained=None, templates="simple", class_names=NAMES
    ).fit()
    assert embedder.get_params()["model"] == "local-dir:models/tiny-clip"  # get_params unchanged
    assert embedder.resolved_model_ == f"local-dir:{project / 'models' / 'tiny-clip'}"
    assert classifier.resolved_model_ == embedder.resolved_model_
    expected = embedder.transform(photos)
    saved = pickle.dumps(embedder)

    monkeypatch.chdir(elsewhere)
    clear_encoder_cache()
    np.testing.assert_allclose(pickle.loads(saved).transform(photos), expected, atol=1e-6)

    (project / "models" / "tiny-clip").rename(project / "models" / "moved")
    clear_encoder_cache()
    with pytest.raises(ModelLoadError, match=rf"{project / 'models' / 'tiny-clip'}.*does not exist.*resolved"):
        pickle.loads(saved).set_params(memory_cache=0).transform(photos)


# --- 6. errors that say what to do ---------------------------------------------------------


@pytest.mark.parametrize(
    "X",
    [["a.jpg", "b.jpg"], [Path("a.jpg")], np.array(["a.jpg"]), pd.Series(["a.jpg"]), pd.DataFrame({"p": ["a.jpg"]})],
)
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_image_paths_given_to_the_classifier_point_to_the_embedder(X, method):
    from fakes import WordSumEncoder

    clf = SageZeroShotClassifier(WordSumEncoder(8), templates="simple", class_names=NAMES)
    if method == "predict":
        clf.fit()
    with pytest.raises(ValueError, match="takes image embeddings.*Embed them first with ClipImageEmbedder"):
        getattr(clf, method)(X) if method == "predict" else clf.fit(X, [0] * len(X))


def test_pil_images_given_to_the_classifier_point_to_the_embedder():
    from fakes import WordSumEncoder

    clf = SageZeroShotClassifier(WordSumEncoder(8), templates="simple", class_names=NAMES).fit()
    with pytest.raises(ValueError, match="PIL images|Image items.*ClipImageEmbedder"):
        clf.predict([Image.new("RGB", (8, 8))])


def test_a_hugging_face_id_suggests_the_model_strings_that_load_it():
    with pytest.raises(ModelLoadError) as info:
        load_encoder("openai/clip-vit-base-patch32", None, device="cpu")
    message = str(info.value)
    assert "model='transformers:openai/clip-vit-base-patch32'" in message
    assert "model='hf-hub:openai/clip-vit-base-patch32'" in message


# --- 7. top-k in Python as in the command line ----------------------------------------------


def test_predict_top_k_matches_the_command_line(tiny_model, photos, tmp_path):
    from skclip_sage.cli import main

    classes = ["cat", "dog", "bird", "fish"]
    output = tmp_path / "top.csv"
    code = main(
        ["classify", *photos, "--classes", *classes, "--model", tiny_model, "--templates", "simple"]
        + ["--top-k", "3", "-o", str(output), "--quiet"]
    )
    assert code == 0
    table = pd.read_csv(output)
    clf = SageZeroShotClassifier(tiny_model, pretrained=None, templates="simple", class_names=classes).fit()
    labels, probabilities = clf.predict_top_k(ClipImageEmbedder(tiny_model, pretrained=None).fit_transform(photos), 3)
    for rank in range(3):
        assert table[f"top{rank + 1}_class"].tolist() == labels[:, rank].tolist()
        np.testing.assert_allclose(table[f"top{rank + 1}_probability"], probabilities[:, rank], atol=1e-6)
    np.testing.assert_array_equal(
        labels[:, 0], clf.predict(ClipImageEmbedder(tiny_model, pretrained=None).fit_transform(photos))
    )


def test_predict_top_k_checks_k():
    from fakes import WordSumEncoder

    clf = SageZeroShotClassifier(WordSumEncoder(8), templates="simple", class_names=NAMES).fit()
    for bad in (0, 3, 1.5, True):
        with pytest.raises(ValueError, match="top_k must be an int from 1 to the 2 classes"):
            clf.predict_top_k(np.eye(8)[:2], bad)


# --- 8. logging and progress --------------------------------------------------------------


def test_the_library_logs_loads_caches_and_text_banks(tiny_model, photos, caplog):
    clear_encoder_cache()
    with caplog.at_level(logging.DEBUG, logger="skclip_sage"):
        embedder = ClipImageEmbedder(tiny_model, pretrained=None).fit()
        embedder.transform(photos)
        embedder.transform(photos)
        SageZeroShotClassifier(tiny_model, pretrained=None, templates=["a {}."], class_names=["x", "y"]).fit()
    text = caplog.text
    assert f"loaded {tiny_model}" in text and "with open_clip on cpu in" in text
    assert "precision fp32" in text
    assert "6 images, 0 from memory, 0 from cache_dir, 6 through the model" in text
    assert "6 images, 6 from memory" in text
    assert "encoded a text bank of 2 prompts (1 templates x 2 classes)" in text


def test_the_library_is_silent_by_default(tiny_model, photos, capfd):
    clear_encoder_cache()
    ClipImageEmbedder(tiny_model, pretrained=None).fit().transform(photos)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_the_progress_bar_counts_images_and_is_cleared(tiny_model, photos, capsys):
    ClipImageEmbedder(tiny_model, pretrained=None, batch_size=4, verbose=True).fit().transform(photos)
    err = capsys.readouterr().err
    assert "0/6 [" in err and "image/s" in err  # counts the 6 images, not 2 batches
    assert err.endswith("\r") and err.rsplit("\r", 2)[-2].strip() == ""  # the bar erased itself


# --- 9. save_local_dir, for a team ----------------------------------------------------------


def test_save_local_dir_gives_every_file_the_same_permissions(tmp_path):
    from conftest import make_tiny_local_dir

    old = os.umask(0o022)
    try:
        make_tiny_local_dir(tmp_path / "shared-model")
    finally:
        os.umask(old)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "shared-model").iterdir()}
    assert modes == {"open_clip_config.json": 0o644, "open_clip_model.safetensors": 0o644}
