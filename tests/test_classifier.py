"""SageZeroShotClassifier: input checks, fitted state, persistence, modes and composition."""

import copy
import io
import pickle
import re
import warnings

import joblib
import numpy as np
import pytest
import torch
from fakes import WordSumEncoder, dropout_text_encoder, image_embeddings
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer
from sklearn.utils._param_validation import InvalidParameterError

from skclip_sage import SageZeroShotClassifier
from skclip_sage.encoders import encoder_load_count
from skclip_sage.exceptions import (
    DeviceFallbackWarning,
    DuplicatePromptWarning,
    ModelLoadError,
    NotFittedError,
    NumericClassNamesWarning,
    ZeroNormEmbeddingWarning,
)
from skclip_sage.prompts._text_bank import clear_text_bank_cache
from skclip_sage.selection._sage import fixed_prototypes, l2_normalize, sage_scores
from skclip_sage.selection._scoring import softmax

WIDTH = 16
NAMES = {"bird": "landbird", "fish": "goldfish", "tree": "oak"}
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "art of the {}.", "a {} in the wild.", "itap of my {}."]
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks behaviour on a machine without CUDA")


def make_data(n=30, seed=0, names=NAMES):
    labels = np.array(sorted(names))[np.random.default_rng(seed).integers(0, len(names), size=n)]
    return image_embeddings(names, labels, width=WIDTH, seed=seed), labels


def make_classifier(**params):
    params = {"templates": TEMPLATES, "class_names": NAMES, "device": "cpu", **params}
    return SageZeroShotClassifier(WordSumEncoder(WIDTH), **params)


@pytest.fixture
def fitted():
    X, y = make_data()
    return make_classifier().fit(X, y), X, y


# ---------------------------------------------------------------- the basics


def test_fit_sets_documented_state_and_predicts_the_class_words(fitted):
    clf, X, y = fitted
    assert clf.classes_.tolist() == ["bird", "fish", "tree"]
    assert clf.class_names_ == ["landbird", "goldfish", "oak"]
    assert clf.templates_ == TEMPLATES
    assert clf.text_embeddings_.shape == (5, 3, WIDTH) and clf.text_embeddings_.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(clf.text_embeddings_, axis=-1), 1.0, rtol=1e-6)
    assert clf.logit_scale_ == 100.0 and clf.n_features_in_ == WIDTH
    assert not hasattr(clf, "selected_templates_")  # per-image selection
    assert (clf.predict(X) == y).mean() > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (30, 3) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_scores_follow_the_sage_math(fitted):
    clf, X, _ = fitted
    unit, _ = l2_normalize(X)
    expected, expected_selected = sage_scores(unit, clf.text_embeddings_.astype(np.float64), k=1)
    np.testing.assert_allclose(clf.class_similarities(X), expected, atol=1e-12)
    np.testing.assert_array_equal(clf.selected_templates(X), expected_selected)
    np.testing.assert_allclose(clf.decision_function(X), expected * 100.0, atol=1e-10)


def test_one_sample_works(fitted):
    clf, X, _ = fitted
    assert clf.predict(X[:1]).shape == (1,)
    proba = clf.predict_proba(X[:1])
    assert proba.shape == (1, 3)
    np.testing.assert_allclose(proba.sum(), 1.0)
    # Rows are scored independently: one at a time equals all at once.
    np.testing.assert_allclose(np.vstack([clf.predict_proba(row[None]) for row in X]), clf.predict_proba(X), atol=1e-12)


def test_same_input_twice_is_bitwise_equal(fitted):
    clf, X, _ = fitted
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X.copy()))


def test_float32_input_is_scored_in_float32(fitted):
    clf, X, _ = fitted
    assert clf.class_similarities(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(clf.predict_proba(X.astype(np.float32)), clf.predict_proba(X), atol=1e-4)


def test_input_is_not_modified(fitted):
    clf, X, y = fitted
    X_before, y_before = X.copy(), y.copy()
    clf.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


# ---------------------------------------------------------------- reliability 1-4: bad X


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected_at_fit_and_predict(fitted, bad):
    clf, X, y = fitted
    X_bad = X.copy()
    X_bad[[2, 7], 3] = bad
    with pytest.raises(ValueError, match=r"NaN or infinity in 2 of 30 rows \(2, 7\)"):
        make_classifier().fit(X_bad, y)
    for method in ("predict", "predict_proba", "decision_function", "class_similarities", "selected_templates"):
        with pytest.raises(ValueError, match=rf"NaN or infinity .*SageZeroShotClassifier\.{method} .*drop them"):
            getattr(clf, method)(X_bad)


@pytest.mark.parametrize(
    "X, y, message",
    [
        (np.zeros((0, WIDTH)), [], r"0 sample\(s\)"),
        (np.zeros((3, 0)), ["bird", "fish", "tree"], r"0 feature\(s\)"),
        (np.zeros(WIDTH), ["bird", "fish"] * 8, "Reshape your data"),
    ],
)
def test_empty_and_one_dimensional_X_are_rejected(fitted, X, y, message):
    clf, _, _ = fitted
    with pytest.raises(ValueError, match=message):
        make_classifier().fit(X, y)
    with pytest.raises(ValueError, match=message):
        clf.predict(X)


def test_width_mismatch_at_fit_names_both_widths_and_the_model():
    X, y = make_data()
    with pytest.raises(ValueError) as caught:
        make_classifier().fit(X[:, :5], y)
    message = str(caught.value)
    assert "X has 5 features, but SageZeroShotClassifier is expecting 16 features" in message
    assert "'WordSumEncoder' text embeddings" in message


def test_width_mismatch_at_predict_names_both_widths_and_the_model(fitted):
    clf, X, _ = fitted
    with pytest.raises(
        ValueError, match="X has 12 features, but SageZeroShotClassifier is expecting 16 features.*WordSumEncoder"
    ):
        clf.predict(X[:, :12])


def test_width_mismatch_names_an_open_clip_model(tiny_model):
    X = np.random.default_rng(0).normal(size=(4, 768))
    with pytest.raises(ValueError) as caught:
        SageZeroShotClassifier(tiny_model, templates=TEMPLATES, device="cpu").fit(X, ["a", "b", "a", "b"])
    message = str(caught.value)
    assert "X has 768 features" in message and "expecting 32 features" in message and tiny_model in message


# ---------------------------------------------------------------- reliability 5: zero-norm rows


def test_zero_norm_rows_give_uniform_probabilities_and_one_warning(fitted):
    clf, X, _ = fitted
    X = X.copy()
    X[[0, 5]] = 0.0
    with pytest.warns(ZeroNormEmbeddingWarning, match=r"2 embedding row\(s\) have zero norm \(\[0, 5\]\)") as caught:
        proba = clf.predict_proba(X)
    assert len(caught) == 1
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba[[0, 5]], 1 / 3)
    with pytest.warns(ZeroNormEmbeddingWarning):
        assert clf.predict(X)[[0, 5]].tolist() == ["bird", "bird"]


# ---------------------------------------------------------------- reliability 6-8: y and class names


def test_one_class_is_rejected():
    X, _ = make_data(n=4)
    with pytest.raises(ValueError, match=r"needs at least 2 classes; got 1 class \('bird'\) in y\."):
        make_classifier(class_names=None).fit(X, ["bird"] * 4)
    with pytest.raises(ValueError, match=r"needs at least 2 classes; got 1 class \('bird'\) in class_names\."):
        make_classifier(class_names={"bird": "landbird"}).fit()


def test_y_none_without_class_names_is_rejected():
    X, _ = make_data(n=4)
    for args in [(X, None), (X,), ()]:
        with pytest.raises(ValueError, match="requires y to be passed, but the target y is None.*class_names="):
            make_classifier(class_names=None).fit(*args)


def test_continuous_y_is_rejected():
    X, _ = make_data(n=4)
    with pytest.raises(ValueError, match="Unknown label type"):
        make_classifier().fit(X, [0.5, 1.5, 2.5, 3.5])


def test_integer_labels_work_with_a_warning_about_the_prompts():
    X, y = make_data()
    codes = np.searchsorted(sorted(NAMES), y)
    clf = make_classifier(class_names=None)
    with pytest.warns(NumericClassNamesWarning, match=r"\[0, 1, 2\] are numbers.*'a photo of a 0\.'"):
        clf.fit(X, codes)
    assert clf.class_names_ == ["0", "1", "2"]
    assert clf.predict(X).dtype.kind == "i"


def test_integer_labels_with_class_names_as_a_list_or_a_dict():
    X, y = make_data()
    codes = np.searchsorted(sorted(NAMES), y)
    by_list = make_classifier(class_names=["landbird", "goldfish", "oak"]).fit(X, codes)
    by_dict = make_classifier(class_names={0: "landbird", 1: "goldfish", 2: "oak"}).fit(X, codes)
    np.testing.assert_array_equal(by_list.predict_proba(X), by_dict.predict_proba(X))
    assert (by_list.predict(X) == codes).mean() > 0.9


@pytest.mark.parametrize(
    "class_names, message",
    [
        ({"bird": "landbird", "cat": "cat"}, r"y holds label\(s\) \['fish', 'tree'\] that class_names does not name"),
        (["landbird", "goldfish"], "has 2 names but y has 3 classes"),
        # issue 21 section 1: a list is checked at its own positions (string labels pair by value, not position)
        (["landbird", "", "oak"], r"Class name at position 1 is ''"),
        ({"bird": "landbird", "fish": "  ", "tree": "oak"}, r"Class name 'fish' \(at position 1\) is '  '"),
    ],
)
def test_bad_class_names_are_errors(class_names, message):
    X, y = make_data()
    with pytest.raises(ValueError, match=message):
        make_classifier(class_names=class_names).fit(X, y)


def test_colliding_class_names_warn():
    X, y = make_data()
    with pytest.warns(DuplicatePromptWarning, match=r"\['Oak', 'oak '\]"):
        make_classifier(class_names={"bird": "landbird", "fish": "Oak", "tree": "oak "}).fit(X, y)


# ---------------------------------------------------------------- reliability 9: fitted-ness and params


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "decision_function", "class_similarities", "selected_templates"]
)
def test_methods_before_fit_raise_not_fitted(method):
    clf = make_classifier()
    with pytest.raises(NotFittedError, match=f"not fitted yet.*'{method}'"):
        getattr(clf, method)(np.zeros((2, WIDTH)))
    with pytest.raises(SklearnNotFittedError):
        getattr(clf, method)(np.zeros((2, WIDTH)))


@pytest.mark.parametrize("selection", ["sage", "random", "ensemble", "text"])
def test_predicting_leaves_the_estimator_unchanged(selection):
    X, y = make_data()
    clf = make_classifier(selection=selection, k=2, random_state=0).fit(X, y)
    before = copy.deepcopy(clf.__dict__)
    for method in ("predict", "predict_proba", "decision_function", "class_similarities", "selected_templates"):
        getattr(clf, method)(X)
    assert clf.__dict__.keys() == before.keys()
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(clf.__dict__[name], value)
        elif name == "model":
            assert clf.model.__dict__ == value.__dict__
        elif name == "fitted_selection_":  # issue 22: one plain dict holding arrays
            np.testing.assert_equal(clf.__dict__[name], value)
        else:
            assert clf.__dict__[name] == value, name


JUNK = {
    "model": "ViT-Does-Not-Exist",
    "pretrained": "no-such-tag",
    "templates": 42,
    "selection": "bogus",
    "k": -3,
    "pool_size": 0,
    "temperature": -1.0,
    "device": "quantum",
    "precision": "fp8",
    "batch_size": 0,
}


def test_junk_params_never_raise_or_load_before_fit():
    loads = encoder_load_count()
    clf = SageZeroShotClassifier(**JUNK)
    cloned = clone(clf)
    assert "ViT-Does-Not-Exist" in repr(cloned)
    assert cloned.get_params()["k"] == -3
    clf.set_params(**{**JUNK, "model": "another-missing-model"})
    make_classifier().set_params(**JUNK)
    assert encoder_load_count() == loads


def test_junk_params_fail_at_fit_with_parameter_errors():
    X, y = make_data()
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        make_classifier(k=0).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'selection' parameter"):
        make_classifier(selection="best").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'precision' parameter"):
        make_classifier(precision="fp8").fit(X, y)
    with pytest.raises(ModelLoadError, match="Unknown open_clip model 'ViT-Does-Not-Exist'"):
        SageZeroShotClassifier("ViT-Does-Not-Exist", device="cpu").fit(X, y)


def test_k_and_pool_size_larger_than_the_pool_fail_before_encoding():
    X, y = make_data()
    encoder = WordSumEncoder(WIDTH)
    clf = SageZeroShotClassifier(encoder, templates="simple", class_names=NAMES, k=8, device="cpu")
    with pytest.raises(ValueError, match=r"k=8 is larger than the template pool: choose 1 <= k <= 7 .*'simple'"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=r"pool_size=9 .* choose 1 <= pool_size <= 7"):
        clf.set_params(k=1, pool_size=9).fit(X, y)
    with pytest.raises(ValueError, match=r"k=4 .* choose 1 <= k <= 3 \(the number of the pool_size=3 templates"):
        clf.set_params(k=4, pool_size=3).fit(X, y)
    assert encoder.calls() == 0
    # k does not matter for the fixed selections
    make_classifier(selection="ensemble", k=50).fit(X, y)


@no_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_an_error_suggesting_auto_or_cpu(device, tiny_model):
    X, y = make_data()
    for clf in (make_classifier(device=device), SageZeroShotClassifier(tiny_model, device=device)):
        with pytest.raises(ValueError, match="CUDA is not available.*device='auto'.*device='cpu'"):
            clf.fit(X, y)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("selection", ["sage", "random", "ensemble"])
def test_cuda_predictions_match_the_cpu(selection):
    X, y = make_data()
    cpu = make_classifier(selection=selection, k=2, random_state=0).fit(X, y)
    gpu = make_classifier(selection=selection, k=2, random_state=0, device="cuda").fit(X, y)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(gpu.selected_templates(X), cpu.selected_templates(X))
    np.testing.assert_allclose(gpu.predict_proba(X), gpu.predict_proba(X), atol=1e-7)  # allclose on GPU


def test_unknown_device_string_is_an_error():
    X, y = make_data()
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'gpu'"):
        make_classifier(device="gpu").fit(X, y)


def test_auto_device_runs_here(fitted):
    clf, X, _ = fitted
    np.testing.assert_array_equal(
        clf.set_params(device="auto").predict_proba(X), clf.set_params(device="cpu").predict_proba(X)
    )


# ---------------------------------------------------------------- reliability 10: persistence


def pickled_modules(data):
    """Modules whose globals unpickling ``data`` imports."""
    modules = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            modules.add(module)
            return super().find_class(module, name)

    Recorder(io.BytesIO(data)).load()
    return modules


def test_pickle_and_joblib_round_trip_without_torch(tiny_model):
    X = np.random.default_rng(0).normal(size=(20, 32))
    y = np.array(["cat", "dog", "bird", "cat"] * 5)
    clf = SageZeroShotClassifier(tiny_model, pretrained=None, templates="simple", k=2, device="cpu").fit(X, y)
    expected = clf.predict_proba(X)
    data = pickle.dumps(clf)
    assert b"torch" not in data
    assert {module.split(".")[0] for module in pickled_modules(data)} <= {"skclip_sage", "numpy", "builtins", "_codecs"}
    assert len(data) < 50_000
    np.testing.assert_array_equal(pickle.loads(data).predict_proba(X), expected)
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict_proba(X), expected)
    state = clf.__getstate__()
    # Issue 22: what fit learned for the selection is one plain dict (fitted_selection_).
    plain = (str, int, float, bool, list, dict, np.ndarray, type(None))
    assert all(isinstance(value, plain) for value in state.values())


@no_cuda
def test_unpickling_a_cuda_fitted_estimator_here_falls_back_to_the_cpu_with_one_warning(fitted):
    clf, X, _ = fitted
    expected = clf.predict_proba(X)
    clf.device = "cuda"  # as if fitted on a GPU host
    restored = pickle.loads(pickle.dumps(clf))
    with pytest.warns(DeviceFallbackWarning, match="CUDA is not available here.*computing on the CPU") as caught:
        proba = restored.predict_proba(X)
    assert len(caught) == 1
    np.testing.assert_array_equal(proba, expected)


# ---------------------------------------------------------------- outputs and modes


def test_binary_decision_function_is_one_dimensional_and_matches_predict_proba():
    names = {"bird": "landbird", "fish": "goldfish"}
    X, y = make_data(names=names)
    clf = make_classifier(class_names=names).fit(X, y)
    decision = clf.decision_function(X)
    assert decision.shape == (30,)
    np.testing.assert_allclose(1 / (1 + np.exp(-decision)), clf.predict_proba(X)[:, 1], atol=1e-12)
    np.testing.assert_array_equal(clf.classes_[(decision > 0).astype(int)], clf.predict(X))


def test_multiclass_decision_function_gives_predict_proba_by_softmax(fitted):
    clf, X, _ = fitted
    decision = clf.decision_function(X)
    assert decision.shape == (30, 3)
    np.testing.assert_allclose(softmax(decision), clf.predict_proba(X), atol=1e-12)


def test_temperature_scales_the_logits(fitted):
    clf, X, y = fitted
    similarities = clf.class_similarities(X)
    np.testing.assert_allclose(clf.predict_proba(X), softmax(similarities * 100.0), atol=1e-12)
    warm = make_classifier(temperature=0.5).fit(X, y)
    np.testing.assert_allclose(warm.predict_proba(X), softmax(similarities / 0.5), atol=1e-12)
    np.testing.assert_array_equal(warm.predict(X), clf.predict(X))
    assert warm.predict_proba(X).max() < clf.predict_proba(X).max()


@pytest.mark.parametrize(
    "selection, k, width",
    [("sage", 1, 1), ("sage", 3, 3), ("random", 2, 2), ("single", 4, 1), ("ensemble", 2, 5), ("text", 2, 2)],
)
def test_selected_templates_shapes(selection, k, width):
    X, y = make_data()
    clf = make_classifier(selection=selection, k=k, random_state=0).fit(X, y)
    selected = clf.selected_templates(X)
    assert selected.shape == (30, width)
    assert selected.min() >= 0 and selected.max() < 5
    assert all(len(set(row)) == width for row in selected.tolist())
    if selection in ("single", "ensemble", "text"):
        np.testing.assert_array_equal(selected, np.tile(clf.selected_templates_, (30, 1)))


def test_fixed_selections_use_their_templates(fitted):
    _, X, y = fitted
    unit, _ = l2_normalize(X)
    for selection, templates in [("single", [0]), ("ensemble", [0, 1, 2, 3, 4])]:
        clf = make_classifier(selection=selection).fit(X, y)
        assert clf.selected_templates_.tolist() == templates
        expected = unit @ fixed_prototypes(clf.text_embeddings_.astype(np.float64), np.array(templates)).T
        np.testing.assert_allclose(clf.class_similarities(X), expected, atol=1e-6)


def test_text_selection_keeps_the_templates_that_separate_the_class_names_best(fitted):
    _, X, y = fitted
    clf = make_classifier(selection="text", k=2).fit(X, y)
    bank = clf.text_embeddings_.astype(np.float64)
    worst = [max(bank[t, a] @ bank[t, b] for a in range(3) for b in range(3) if a != b) for t in range(5)]
    assert clf.selected_templates_.tolist() == sorted(range(5), key=lambda t: (worst[t], t))[:2]


def test_k_equal_to_the_pool_is_exactly_the_ensemble(fitted):
    _, X, y = fitted
    ensemble = make_classifier(selection="ensemble").fit(X, y).predict_proba(X)
    for selection in ("sage", "random"):
        clf = make_classifier(selection=selection, k=len(TEMPLATES), random_state=0).fit(X, y)
        np.testing.assert_array_equal(clf.predict_proba(X), ensemble)


def test_random_selection_is_seeded(fitted):
    _, X, y = fitted
    first = make_classifier(selection="random", k=2, random_state=0).fit(X, y)
    again = make_classifier(selection="random", k=2, random_state=0).fit(X, y)
    other = make_classifier(selection="random", k=2, random_state=1).fit(X, y)
    np.testing.assert_array_equal(first.selected_templates(X), first.selected_templates(X))
    np.testing.assert_array_equal(first.selected_templates(X), again.selected_templates(X))
    assert not np.array_equal(first.selected_templates(X), other.selected_templates(X))


def test_pool_size_keeps_the_text_best_templates(fitted):
    _, X, y = fitted
    full = make_classifier(selection="text", k=5).fit(X, y)
    pooled = make_classifier(pool_size=3, k=2).fit(X, y)
    kept = full.selected_templates_[:3]
    assert pooled.templates_ == [TEMPLATES[index] for index in kept]
    np.testing.assert_array_equal(pooled.text_embeddings_, full.text_embeddings_[kept])
    assert pooled.selected_templates(X).max() < 3


def test_class_similarities_are_cosines(fitted):
    clf, X, _ = fitted
    similarities = clf.class_similarities(X * 7.0)  # the scale of X does not matter
    assert similarities.shape == (30, 3)
    assert np.abs(similarities).max() <= 1.0 + 1e-9
    np.testing.assert_allclose(similarities, clf.class_similarities(X), atol=1e-12)


def test_refitting_with_another_selection_drops_stale_state():
    X, y = make_data()
    clf = make_classifier(selection="ensemble").fit(X, y)
    assert clf.selected_templates_.tolist() == [0, 1, 2, 3, 4]
    clf.set_params(selection="sage", k=2).fit(X, y)
    assert not hasattr(clf, "selected_templates_")
    assert clf.selected_templates(X).shape == (30, 2)


def test_dataframe_input_records_feature_names(fitted):
    pd = pytest.importorskip("pandas")
    _, X, y = fitted
    frame = pd.DataFrame(X, columns=[f"dim{i}" for i in range(WIDTH)])
    clf = make_classifier().fit(frame, y)
    assert clf.feature_names_in_.tolist() == list(frame.columns)
    np.testing.assert_allclose(clf.predict_proba(frame), make_classifier().fit(X, y).predict_proba(X), atol=1e-12)


# ---------------------------------------------------------------- text-bank cache


@pytest.fixture
def empty_text_bank_cache():
    clear_text_bank_cache()
    yield
    clear_text_bank_cache()


def test_grid_search_over_k_and_selection_encodes_the_prompts_once(empty_text_bank_cache):
    X, y = make_data(n=45)
    clf = make_classifier()
    search = GridSearchCV(clf, {"k": [1, 2, 3], "selection": ["sage", "ensemble", "text", "random"]}, cv=3)
    search.fit(X, y)
    assert clf.model.calls() == 1  # 5 templates x 3 classes fit in one batch, encoded once for all 37 fits
    assert search.best_score_ > 0.9


def test_cache_dir_keeps_text_banks_on_disk_across_cache_clears(tmp_path, empty_text_bank_cache):
    X, y = make_data()
    first = make_classifier(cache_dir=tmp_path).fit(X, y)
    assert first.model.calls() == 1
    assert len(list((tmp_path / "text_banks").rglob("*.npy"))) == 1
    clear_text_bank_cache()  # as in a fresh process
    twin = WordSumEncoder(WIDTH, identity=first.model.identity)
    second = SageZeroShotClassifier(twin, templates=TEMPLATES, class_names=NAMES, device="cpu", cache_dir=tmp_path)
    second.fit(X, y)
    assert twin.calls() == 1  # still only the first encoding: the second fit read the disk
    np.testing.assert_array_equal(second.text_embeddings_, first.text_embeddings_)


def test_changing_a_fitted_bank_does_not_change_the_cache(empty_text_bank_cache):
    X, y = make_data()
    clf = make_classifier().fit(X, y)
    expected = clf.text_embeddings_.copy()
    clf.text_embeddings_[:] = 0.0
    np.testing.assert_array_equal(clf.fit(X, y).text_embeddings_, expected)
    assert clf.model.calls() == 1


def test_different_prompts_or_precision_are_encoded_again(empty_text_bank_cache):
    X, y = make_data()
    clf = make_classifier().fit(X, y)
    clf.set_params(templates=TEMPLATES[:2]).fit(X, y)
    assert clf.model.calls() == 2
    clf.model.precision = "bf16"  # an encoder whose embeddings change with precision
    clf.fit(X, y)
    assert clf.model.calls() == 3


# ---------------------------------------------------------------- composition


def test_pipeline_with_a_normalizer():
    X, y = make_data()
    pipeline = make_pipeline(Normalizer(), make_classifier(k=2)).fit(X, y)
    np.testing.assert_allclose(
        pipeline.predict_proba(X * 3.0), make_classifier(k=2).fit(X, y).predict_proba(X), atol=1e-12
    )


def test_grid_search_over_a_pipeline_with_template_sets(empty_text_bank_cache):
    X, y = make_data(n=45)
    pipeline = make_pipeline(Normalizer(), make_classifier())
    grid = {
        "sagezeroshotclassifier__k": [1, 3],
        "sagezeroshotclassifier__selection": ["sage", "ensemble", "text"],
        "sagezeroshotclassifier__templates": ["simple", TEMPLATES],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no failed fits, no warnings
        search = GridSearchCV(pipeline, grid, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 12
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > 0.9
    assert (search.predict(X) == y).mean() > 0.9


def test_cross_validate_and_clone():
    X, y = make_data(n=40)
    clf = make_classifier(selection="random", k=2, random_state=0)
    results = cross_validate(clf, X, y, cv=4, scoring=["accuracy", "neg_log_loss"])
    assert np.isfinite(results["test_neg_log_loss"]).all()
    assert results["test_accuracy"].mean() > 0.8
    cloned = clone(clf)
    assert cloned.get_params().keys() == clf.get_params().keys()
    assert cloned.model is not clf.model and cloned.model.identity == clf.model.identity
    assert not hasattr(cloned, "classes_")


def test_grid_search_in_two_loky_workers():
    X, y = make_data(n=45)
    grid = {"k": [1, 2], "selection": ["sage", "text"]}
    parallel = GridSearchCV(make_classifier(), grid, cv=3, n_jobs=2).fit(X, y)
    serial = GridSearchCV(make_classifier(), grid, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(parallel.predict_proba(X), serial.predict_proba(X))


# ---------------------------------------------------------------- end to end with a real (tiny) open_clip model


@pytest.mark.parametrize("selection", ["sage", "ensemble", "single", "random", "text"])
def test_end_to_end_with_the_tiny_open_clip_model(tiny_model, selection):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 32)).astype(np.float32)
    y = np.array(["landbird", "waterbird"] * 8)
    clf = SageZeroShotClassifier(tiny_model, pretrained=None, selection=selection, k=3, random_state=0, device="cpu")
    clf.fit(X, y)
    assert clf.text_embeddings_.shape == (80, 2, 32) and clf.n_features_in_ == 32
    assert clf.logit_scale_ == pytest.approx(1 / 0.07, rel=1e-4)  # open_clip's initial logit scale
    assert set(clf.predict(X)) <= {"landbird", "waterbird"}
    proba = clf.predict_proba(X)
    assert proba.shape == (16, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_tiny_model_loads_once_for_many_fits(tiny_model):
    X = np.random.default_rng(0).normal(size=(6, 32))
    y = ["a", "b", "c"] * 2
    SageZeroShotClassifier(tiny_model, device="cpu", templates="simple").fit(X, y)
    loads = encoder_load_count()
    for k in (1, 2, 3):
        SageZeroShotClassifier(tiny_model, device="cpu", templates="simple", k=k).fit(X, y)
    assert encoder_load_count() == loads


def test_an_injected_open_clip_encoder_equals_the_named_model(tiny_model):
    from skclip_sage.encoders import load_encoder

    X = np.random.default_rng(0).normal(size=(6, 32))
    y = ["a", "b", "c"] * 2
    named = SageZeroShotClassifier(tiny_model, device="cpu", templates="simple").fit(X, y)
    injected = SageZeroShotClassifier(load_encoder(tiny_model, device="cpu"), device="cpu", templates="simple").fit(
        X, y
    )
    np.testing.assert_array_equal(injected.text_embeddings_, named.text_embeddings_)
    assert re.search(r"OpenClipEncoder", repr(injected))


# ---------------------------------------------------------------- reliability 37: temperatures and set_params


@pytest.mark.parametrize("temperature", [1e-300, 1e-39, 1e-3, 1.0, 1e39, 1e300])
def test_any_accepted_temperature_gives_finite_probabilities(fitted, temperature):
    _, X, y = fitted
    clf = make_classifier(temperature=temperature).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning either
        proba = clf.predict_proba(X.astype(np.float32))
        decision = clf.decision_function(X.astype(np.float32))
    assert np.isfinite(proba).all() and np.isfinite(decision).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    if temperature <= 1e-3:
        np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    if temperature >= 1e39:
        np.testing.assert_allclose(proba, 1 / 3)


def test_a_temperature_whose_logits_overflow_float64_is_refused_with_the_bound(fitted):
    _, X, y = fitted
    with pytest.raises(InvalidParameterError, match=r"'temperature' parameter .* range \[1e-300, inf\)"):
        make_classifier(temperature=1e-320).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [{"k": 0}, {"k": -1}, {"k": 2.5}, {"temperature": 0}, {"temperature": np.nan}, {"temperature": -1.0}]
    + [{"selection": "best"}, {"k": 6}],
)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "selected_templates"])
def test_parameters_set_after_fit_are_checked_at_predict_with_the_fit_message(fitted, params, method):
    clf, X, y = fitted
    with pytest.raises(ValueError) as at_fit:
        clone(clf).set_params(**params).fit(X, y)
    clf.set_params(**params)
    with pytest.raises(type(at_fit.value)) as at_predict:
        getattr(clf, method)(X)
    # Same message; only the description of the template pool differs for k above it.
    assert str(at_predict.value).split(" (the number of")[0] == str(at_fit.value).split(" (the number of")[0]


def test_a_selection_changed_after_fit_is_used_as_if_fitted_with_it(fitted):
    clf, X, y = fitted
    for params in [{"selection": "text", "k": 2}, {"selection": "ensemble"}, {"selection": "text", "k": 3}]:
        clf.set_params(**params)
        expected = make_classifier(**params).fit(X, y)
        np.testing.assert_array_equal(clf.selected_templates(X), expected.selected_templates(X))
        np.testing.assert_allclose(clf.predict_proba(X), expected.predict_proba(X), atol=1e-12)


# ---------------------------------------------------------------- reliability 38: rows of huge or tiny norm


@pytest.mark.parametrize("scale", [1e20, 1e-25])
@pytest.mark.parametrize("selection", ["sage", "ensemble", "random"])
def test_rows_of_extreme_finite_norm_classify_like_the_unscaled_rows(fitted, scale, selection):
    _, X, y = fitted
    clf = make_classifier(selection=selection, k=2, random_state=0).fit(X, y)
    X32 = X.astype(np.float32)
    scaled = X32 * np.float32(scale)
    assert np.isfinite(scaled).all() and (np.abs(scaled).max(axis=1) > 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(scaled)
    np.testing.assert_allclose(proba, clf.predict_proba(X32), atol=1e-5)
    np.testing.assert_array_equal(clf.predict(scaled), clf.predict(X32))
    assert clf.predict_proba(scaled).max(axis=1).min() > 0.5  # not the uniform rows of an overflowed norm


def test_a_row_mixing_huge_values_and_nan_is_still_rejected(fitted):
    clf, X, _ = fitted
    bad = X.astype(np.float32) * np.float32(1e20)
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity in 1 of 30 rows \(3\)"):
        clf.predict(bad)


# ---------------------------------------------------------------- reliability 10: labels, random draws, torch modules


def test_boolean_labels_warn_that_prompts_read_true_and_false():
    X, _ = make_data(n=6)
    with pytest.warns(NumericClassNamesWarning, match=r"\[False, True\] are booleans.*'a photo of a False\.'"):
        clf = make_classifier(class_names=None).fit(X, np.array([True, False] * 3))
    assert clf.class_names_ == ["False", "True"] and clf.classes_.dtype == bool


@pytest.mark.parametrize(
    "y, message",
    [
        (np.array(["bird", None, "fish", None], dtype=object), r"y holds None at 2 of 4 positions \(1, 3\)"),
        (["bird", None, "fish", "tree"], r"y holds None at 1 of 4 positions \(1\)"),
        (np.array(["bird", 1, "fish", 2], dtype=object), r"cannot be sorted: they mix the types \['int', 'str'\]"),
    ],
)
def test_labels_that_cannot_be_sorted_are_clear_errors(y, message):
    X, _ = make_data(n=4)
    for clf in [make_classifier(class_names=None), make_classifier()]:
        with pytest.raises(ValueError, match=message):
            clf.fit(X, y)


@pytest.mark.parametrize(
    "random_state", [None, 7, np.random.RandomState(0), np.random.default_rng(0)], ids=["None", "int", "RS", "Gen"]
)
@pytest.mark.parametrize("selection", ["random", "random_with_replacement"])
def test_random_selection_replays_one_seed_per_fit_so_predict_agrees_with_predict_proba(random_state, selection):
    X, y = make_data(n=200)
    global_state = np.random.get_state()[1].copy()
    clf = make_classifier(selection=selection, k=2, random_state=random_state).fit(X, y)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[clf.predict_proba(X).argmax(axis=1)])
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(clf.decision_function(X), axis=1)])
    np.testing.assert_array_equal(clf.selected_templates(X), clf.selected_templates(X))
    assert isinstance(clf.random_seed_, int)
    if isinstance(random_state, int):
        assert clf.random_seed_ == random_state
    refit = clf.fit(X, y).random_seed_
    if isinstance(random_state, int):
        assert refit == random_state
    else:
        # A new fit takes a new seed from a generator, or fresh entropy for None.
        assert clone(clf).set_params(random_state=random_state).fit(X, y).random_seed_ != refit
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)


def test_an_injected_torch_module_encodes_in_eval_mode_and_keeps_its_training_flag():
    X, y = make_data()
    module = dropout_text_encoder(WIDTH)
    assert module.training
    injected = SageZeroShotClassifier(module, templates=TEMPLATES, class_names=NAMES, device="cpu")
    banks = [injected.fit(X, y).text_embeddings_.copy() for _ in range(2)]
    assert module.training  # the caller's object, handed back as it came
    np.testing.assert_array_equal(banks[0], banks[1])
    reference = make_classifier().fit(X, y).text_embeddings_
    np.testing.assert_allclose(banks[0], reference, atol=1e-6)
