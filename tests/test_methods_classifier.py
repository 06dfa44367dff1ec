"""AutoCLIP, ZPE, PerceptionCLIP, WaffleCLIP templates and the score average through SageZeroShotClassifier."""

import io
import pickle
import tracemalloc

import numpy as np
import pytest
from fakes import WordSumEncoder, image_embeddings
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skclip_sage import SageZeroShotClassifier
from skclip_sage.debias import OrthogonalCalibration, RoboShotProjection, SpuriousTranslation
from skclip_sage.exceptions import NotFittedError
from skclip_sage.prompts import perception_templates, waffle_templates
from skclip_sage.selection import (
    SELECTION_METHODS,
    autoclip_scores,
    perception_log_probabilities,
    zpe_keep,
    zpe_template_scores,
    zpe_weights,
)

WIDTH = 16
NAMES = {"bird": "landbird", "fish": "goldfish", "tree": "oak"}
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "art of the {}.", "a {} in the wild.", "itap of my {}."]
NEW_MODES = ["score_average", "autoclip", "zpe", "perception"]


def make_data(n=30, seed=0, names=NAMES):
    labels = np.array(sorted(names))[np.random.default_rng(seed).integers(0, len(names), size=n)]
    return image_embeddings(names, labels, width=WIDTH, seed=seed), labels


def make_classifier(**params):
    params = {"templates": TEMPLATES, "class_names": NAMES, "device": "cpu", **params}
    return SageZeroShotClassifier(WordSumEncoder(WIDTH, identity="methods-classifier"), **params)


def unit(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def similarities(clf, X):
    return np.einsum("nd,tcd->ntc", unit(X).astype(np.float64), clf.text_embeddings_.astype(np.float64))


@pytest.mark.parametrize("selection", NEW_MODES)
def test_new_modes_classify_the_class_words_and_give_probabilities(selection):
    X, y = make_data()
    clf = make_classifier(selection=selection).fit(X, y)
    assert (clf.predict(X) == y).mean() > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.selected_templates(X).shape == (30, len(clf.selected_templates_))


def test_each_mode_scores_as_its_core_function():
    X, y = make_data()
    fitted = {selection: make_classifier(selection=selection).fit(X, y) for selection in NEW_MODES}
    S = similarities(fitted["autoclip"], X)
    np.testing.assert_allclose(fitted["score_average"].class_similarities(X), S.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(fitted["autoclip"].class_similarities(X), autoclip_scores(S, 0.85), atol=1e-6)
    # PerceptionCLIP: softmax of logit_scale x scores is P(y|x) itself.
    np.testing.assert_allclose(
        fitted["perception"].predict_proba(X), np.exp(perception_log_probabilities(S, 100.0, 1.0)), atol=1e-5
    )
    zpe = fitted["zpe"]
    bank = zpe.text_embeddings_
    scores = zpe_template_scores(unit(X).astype(np.float32), bank, 100.0)
    np.testing.assert_allclose(zpe.template_scores_, scores, rtol=1e-6)
    np.testing.assert_allclose(zpe.template_weights_, zpe_weights(scores, np.arange(5)), rtol=1e-6)
    np.testing.assert_allclose(zpe.class_similarities(X), np.einsum("t,ntc->nc", zpe.template_weights_, S), atol=1e-6)


def test_method_options_are_searchable_and_read_at_prediction_time():
    X, y = make_data(n=45)
    search = GridSearchCV(
        make_classifier(),
        {
            "selection": ["autoclip", "perception", "zpe"],
            "autoclip_beta": [0.5, 0.85],
            "perception_temperature": [0.5, 2.0],
            "zpe_threshold": [None, 0.5],
        },
        cv=3,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 24 and search.best_score_ > 0.9
    clf = make_classifier(selection="autoclip").fit(X, y)
    sharp = clf.class_similarities(X)
    flat = clf.set_params(autoclip_beta=1.0).class_similarities(X)
    np.testing.assert_allclose(flat, similarities(clf, X).mean(axis=1), atol=1e-6)
    assert not np.allclose(sharp, flat)


def test_zpe_needs_images_at_fit_and_says_so():
    with pytest.raises(
        ValueError, match=r"selection='zpe' learns its template weights from unlabelled image.*fit\(X\)"
    ):
        make_classifier(selection="zpe").fit()
    X, _ = make_data()
    clf = make_classifier(selection="zpe").fit(X)  # unlabelled: class_names define the classes
    assert clf.template_weights_.shape == (5,)


def test_zpe_is_transductive_and_ignores_labels():
    X, y = make_data()
    with_labels = make_classifier(selection="zpe").fit(X, y)
    without = make_classifier(selection="zpe").fit(X)
    shuffled = make_classifier(selection="zpe").fit(X, np.random.default_rng(0).permutation(y))
    np.testing.assert_array_equal(with_labels.template_weights_, without.template_weights_)
    np.testing.assert_array_equal(with_labels.template_weights_, shuffled.template_weights_)
    other = make_classifier(selection="zpe").fit(make_data(seed=3)[0])
    assert not np.allclose(other.template_weights_, without.template_weights_)


def test_zpe_threshold_prunes_and_a_threshold_no_template_passes_is_an_error():
    X, y = make_data()
    clf = make_classifier(selection="zpe", zpe_threshold=0.5).fit(X, y)
    kept = zpe_keep(clf.template_scores_, 0.5)
    np.testing.assert_array_equal(clf.selected_templates_, kept)
    assert (clf.template_weights_ > 0).sum() == len(kept) < 5
    np.testing.assert_array_equal(clf.selected_templates(X)[0], kept)
    with pytest.raises(ValueError, match=r"zpe_threshold=1000.0 kept no template.*Lower zpe_threshold"):
        make_classifier(selection="zpe", zpe_threshold=1000.0).fit(X, y)


def test_zpe_reference_images_are_averaged_into_the_centre():
    X, y = make_data()
    reference = np.random.default_rng(4).normal(size=(17, WIDTH))
    clf = make_classifier(selection="zpe", zpe_reference=reference).fit(X, y)
    expected = zpe_template_scores(
        unit(X).astype(np.float32), clf.text_embeddings_, 100.0, reference_embeddings=unit(reference).astype(np.float32)
    )
    np.testing.assert_allclose(clf.template_scores_, expected, rtol=1e-5)
    assert not np.allclose(clf.template_scores_, make_classifier(selection="zpe").fit(X).template_scores_)
    with pytest.raises(ValueError, match="zpe_reference has 3 features, but SageZeroShotClassifier is expecting 16"):
        make_classifier(selection="zpe", zpe_reference=np.ones((4, 3))).fit(X, y)
    with pytest.raises(ValueError, match="zpe_reference"):
        make_classifier(selection="zpe", zpe_reference=np.full((4, WIDTH), np.nan)).fit(X, y)


def test_switching_to_zpe_after_fit_asks_for_a_new_fit():
    X, y = make_data()
    clf = make_classifier(selection="sage").fit(X, y)
    clf.set_params(selection="zpe")
    with pytest.raises(NotFittedError, match=r"selection='zpe' learns its template weights in fit.*'predict'"):
        clf.predict(X)
    clf.fit(X, y).set_params(zpe_threshold=0.5)
    with pytest.raises(NotFittedError, match="fit"):
        clf.predict_proba(X)
    refit = clf.fit(X, y).set_params(selection="ensemble")
    assert refit.predict(X).shape == (30,)
    assert not hasattr(clf.set_params(selection="sage").fit(X, y), "template_weights_")


@pytest.mark.parametrize("selection", NEW_MODES)
def test_new_modes_pickle_without_torch(selection):
    X, y = make_data()
    clf = make_classifier(selection=selection, zpe_reference=np.ones((3, WIDTH)) if selection == "zpe" else None)
    clf.fit(X, y)
    payload = pickle.dumps(clf)
    assert b"torch" not in payload
    np.testing.assert_array_equal(pickle.loads(payload).predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("selection", NEW_MODES)
def test_new_modes_stack_with_text_debias_and_image_debiasers(selection):
    X, y = make_data()
    orth = OrthogonalCalibration(spurious_prompts=["water", "land"], pairs=[("oak on water", "oak on land")], lam=10.0)
    debiased = make_classifier(selection=selection, text_debias=orth).fit(X, y)
    plain = make_classifier(selection=selection).fit(X, y)
    assert not np.allclose(debiased.text_embeddings_, plain.text_embeddings_)
    assert (debiased.predict(X) == y).mean() > 0.8
    encoder = WordSumEncoder(WIDTH, identity="methods-classifier")
    pipe = make_pipeline(
        RoboShotProjection(encoder, harmful=[("water", "land")]),
        SpuriousTranslation(encoder, spurious_prompts=["a land background", "a water background"]),
        make_classifier(selection=selection),
    ).fit(X, y)
    assert (pipe.predict(X) == y).mean() > 0.8
    if selection == "zpe":
        # The weights were learned on the debiased images the pipeline handed over.
        transformed = pipe[:-1].transform(X)
        alone = make_classifier(selection="zpe").fit(transformed)
        np.testing.assert_allclose(pipe[-1].template_weights_, alone.template_weights_, rtol=1e-6)
    assert b"torch" not in pickle.dumps(pipe)


def test_waffle_templates_work_with_every_selection_sage_included():
    X, y = make_data()
    templates = waffle_templates(list(NAMES.values()), n_pairs=4, seed=1)
    for selection in SELECTION_METHODS:
        clf = make_classifier(templates=templates, selection=selection, k=2, random_state=0).fit(X, y)
        assert clf.templates_ == templates and (clf.predict(X) == y).mean() > 0.8


def test_perception_presets_are_template_sets():
    X, y = make_data()
    clf = make_classifier(templates="perception_waterbirds", selection="perception").fit(X, y)
    assert clf.templates_ == perception_templates("waterbirds", ["background"])
    assert len(clf.templates_) == 12 and clf.templates_[1] == "a photo of a {}, on land."


def test_aggregations_on_the_torch_code_path_equal_numpy(monkeypatch):
    # The CUDA branch of score_embeddings converts to tensors and runs the same functions; here
    # the conversion is pointed at the CPU so that path runs without a GPU.
    import torch

    from skclip_sage.selection import _scoring

    X, y = make_data()
    for selection in NEW_MODES:
        clf = make_classifier(selection=selection).fit(X, y)
        expected = clf.class_similarities(X.astype(np.float32))
        monkeypatch.setattr(_scoring, "_gpu_device", lambda device: torch.device("cpu"))
        on_torch = clf.class_similarities(X.astype(np.float32))
        monkeypatch.undo()
        np.testing.assert_allclose(on_torch, expected, atol=2e-6)


def test_fixed_selection_predict_proba_allocates_no_n_by_k_index_array():
    # Issue 17, item 9: predict_proba of the 80-template ensemble built a (n, 80) int64 array of
    # template indices only to throw it away (122 MB at 200k rows).
    n = 200_000
    clf = make_classifier(templates="openai_imagenet", selection="ensemble").fit()
    X = np.random.default_rng(0).normal(size=(n, WIDTH)).astype(np.float32)
    clf.predict_proba(X[:10])
    tracemalloc.start()
    try:
        clf.predict_proba(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    index_array = n * 80 * 8
    assert peak < index_array / 2, f"peak {peak / 2**20:.0f} MiB"
    assert clf.selected_templates(X[:3]).tolist() == [list(range(80))] * 3


def test_clone_keeps_the_method_options():
    reference = np.ones((2, WIDTH))
    clf = make_classifier(selection="zpe", zpe_threshold=2.0, zpe_reference=reference, autoclip_beta=0.5)
    copy = clone(clf)
    assert copy.zpe_threshold == 2.0 and copy.autoclip_beta == 0.5
    np.testing.assert_array_equal(copy.zpe_reference, reference)
    buffer = io.BytesIO()
    pickle.dump(copy, buffer)
    assert pickle.loads(buffer.getvalue()).get_params()["zpe_threshold"] == 2.0


def test_zpe_can_prune_the_pool_for_sage():
    X, y = make_data()
    pooled = make_classifier(selection="sage", pool_size=3, pool_by="zpe").fit(X)
    full = make_classifier(selection="zpe").fit(X)
    best = np.argsort(-full.template_scores_, kind="stable")[:3]
    assert pooled.templates_ == [TEMPLATES[index] for index in best]
    np.testing.assert_array_equal(pooled.text_embeddings_, full.text_embeddings_[best])
    assert pooled.selected_templates(X).shape == (30, 1) and (pooled.predict(X) == y).mean() > 0.9
    with pytest.raises(ValueError, match="pool_by='zpe' chooses the pool_size templates"):
        make_classifier(pool_by="zpe").fit(X)
    with pytest.raises(ValueError, match="pool_by='zpe' keeps the templates with the highest ZPE scores"):
        make_classifier(pool_size=3, pool_by="zpe").fit()
