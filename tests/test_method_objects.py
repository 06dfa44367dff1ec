"""A method owns its options and its fitted state (issue 22, section 1).

``selection=`` takes a name or a method object whose options GridSearchCV searches as
``selection__<option>``; what ``fit`` learns is one fitted attribute; one rule covers
parameters changed after ``fit``; and a learning method defined outside the package is
registered and searched without touching the classifier.
"""

import pickle
import warnings

import numpy as np
import pytest
from fakes import WordSumEncoder, image_embeddings
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from skclip_sage import SageZeroShotClassifier
from skclip_sage.exceptions import NotFittedError
from skclip_sage.selection import (
    POOL_METHODS,
    SELECTION_METHODS,
    ZPE,
    Aggregation,
    AutoCLIP,
    PerceptionCLIP,
    Scoring,
    SelectionOptions,
    TemplateChoice,
    register_selection,
    unregister_selection,
    weighted_similarity_head,
)

WIDTH = 16
NAMES = {"bird": "landbird", "fish": "goldfish", "tree": "oak"}
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "art of the {}.", "a {} in the wild.", "itap of my {}."]


def make_data(n=45, seed=0):
    labels = np.array(sorted(NAMES))[np.random.default_rng(seed).integers(0, 3, size=n)]
    return image_embeddings(NAMES, labels, width=WIDTH, seed=seed), labels


def make_classifier(**params):
    params = {"templates": TEMPLATES, "class_names": NAMES, "device": "cpu", **params}
    return SageZeroShotClassifier(WordSumEncoder(WIDTH, identity="method-objects"), **params)


def test_zpe_then_set_params_k_gives_one_answer():
    # The regression: ZPE keeping some templates, then set_params(k=3), which ZPE ignores, made
    # selected_templates report every template while scoring still used the kept ones.
    X, y = make_data()
    clf = make_classifier(selection=ZPE(threshold=0.0)).fit(X, y)
    kept = clf.fitted_selection_["templates"]
    assert 0 < len(kept) < len(TEMPLATES)
    scores, selected = clf.class_similarities(X), clf.selected_templates(X)
    clf.set_params(k=3)
    np.testing.assert_array_equal(clf.selected_templates(X)[0], kept)
    np.testing.assert_array_equal(np.asarray(clf.selected_templates(X)), np.asarray(selected))
    np.testing.assert_array_equal(clf.class_similarities(X), scores)
    np.testing.assert_array_equal(clf.selected_templates_, kept)


def test_an_option_that_fit_learned_with_asks_for_a_new_fit_and_one_read_at_prediction_does_not():
    X, y = make_data()
    clf = make_classifier(selection=ZPE()).fit(X, y)
    clf.set_params(selection__threshold=0.5)
    with pytest.raises(NotFittedError, match=r"learns its template weights in fit.*'predict'"):
        clf.predict(X)
    assert clf.fit(X, y).predict(X).shape == (45,)
    autoclip = make_classifier(selection=AutoCLIP()).fit(X, y)
    sharp = autoclip.class_similarities(X)
    flat = autoclip.set_params(selection__beta=1.0).class_similarities(X)
    np.testing.assert_allclose(
        flat, make_classifier(selection="score_average").fit(X, y).class_similarities(X), atol=1e-6
    )
    assert not np.allclose(sharp, flat)


def test_grid_search_over_method_options_clone_and_pickle():
    X, y = make_data()
    search = GridSearchCV(
        make_classifier(selection=ZPE()), {"selection__threshold": [None, 0.0, 0.5]}, cv=KFold(3), error_score="raise"
    ).fit(X, y)
    assert search.best_params_["selection__threshold"] in (None, 0.0, 0.5) and search.best_score_ > 0.9
    assert isinstance(search.best_estimator_.selection, ZPE)
    reference = np.ones((2, WIDTH))
    clf = make_classifier(selection=ZPE(threshold=2.0, reference=reference))
    copy = clone(clf)
    assert copy.selection is not clf.selection and copy.get_params()["selection__threshold"] == 2.0
    np.testing.assert_array_equal(copy.selection.reference, reference)
    fitted = make_classifier(selection=PerceptionCLIP(temperature=2.0)).fit(X, y)
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.selection.temperature == 2.0
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
    assert repr(ZPE(threshold=0.5)) == "ZPE(threshold=0.5)" and repr(AutoCLIP()) == "AutoCLIP()"
    with pytest.raises(ValueError, match="Invalid option 'beta' for ZPE"):
        ZPE().set_params(beta=1)


def test_objects_and_names_give_bit_identical_results_and_the_flat_parameters_are_deprecated():
    X, y = make_data()
    pairs = [
        ({"autoclip_beta": 0.5}, "autoclip", AutoCLIP(beta=0.5)),
        ({"perception_temperature": 2.0}, "perception", PerceptionCLIP(temperature=2.0)),
        ({"zpe_threshold": 0.5}, "zpe", ZPE(threshold=0.5)),
    ]
    for flat, name, method in pairs:
        with pytest.warns(FutureWarning, match=f"{next(iter(flat))} is deprecated.*selection={type(method).__name__}"):
            old = make_classifier(selection=name, **flat).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)
            new = make_classifier(selection=method).fit(X, y)
        np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
        np.testing.assert_array_equal(np.asarray(old.selected_templates(X)), np.asarray(new.selected_templates(X)))
        with pytest.warns(FutureWarning), pytest.raises(ValueError, match="is an object, so its options are set on it"):
            make_classifier(selection=method, **flat).fit(X, y)


def test_one_fitted_attribute_holds_what_fit_learned():
    X, y = make_data()
    zpe = make_classifier(selection="zpe").fit(X, y)
    state = zpe.fitted_selection_
    assert set(state) == {"key", "templates", "learned"} and state["key"] == ["zpe", None, [None]]
    assert set(state["learned"]) == {"template_scores", "template_weights"}
    assert zpe.template_weights_ is state["learned"]["template_weights"]
    sage = make_classifier(selection="sage").fit(X, y)
    assert sage.fitted_selection_["templates"] is None and sage.fitted_selection_["learned"] == {}
    assert not hasattr(sage, "selected_templates_") and not hasattr(sage, "template_weights_")


def test_the_table_is_keyword_built_and_self_describing():
    for name, record in SELECTION_METHODS.items():
        assert isinstance(record, (TemplateChoice, Aggregation)) and record.name == name
        assert record.kind == ("aggregation" if isinstance(record, Aggregation) else "template choice")
    assert {name for name, record in SELECTION_METHODS.items() if record.learns_from_images} == {"zpe"}
    assert POOL_METHODS == ("text", "zpe")
    with pytest.raises(TypeError):
        TemplateChoice("x", "summary", None, True, True)  # positional booleans are refused
    from skclip_sage.comparison import PAPER_MODES, TRAINING_FREE_MODES

    assert TRAINING_FREE_MODES == tuple(n for n, r in SELECTION_METHODS.items() if isinstance(r, Aggregation))
    assert set(PAPER_MODES) == set(SELECTION_METHODS)


class KeepBest(SelectionOptions):
    """A toy learning method: keep the ``keep`` templates whose class similarities spread most over X."""

    name = "toy_keep_best"
    learns_from_images = True

    def __init__(self, keep=1):
        self.keep = keep

    def check(self):
        if not isinstance(self.keep, int) or self.keep < 1:
            raise ValueError(f"KeepBest(keep=...) must be a positive int; got {self.keep!r}.")

    def learned_with(self):
        return (self.keep,)

    def learn(self, unit_images, text_bank, logit_scale):
        similarities = np.einsum("nd,tcd->ntc", unit_images, text_bank)
        spread = (similarities.max(axis=2) - similarities.min(axis=2)).mean(axis=0)
        kept = np.sort(np.argsort(-spread, kind="stable")[: self.keep])
        weights = np.zeros(len(text_bank))
        weights[kept] = 1.0 / len(kept)
        return {"templates": kept, "template_weights": weights, "spread": spread}

    def scoring(self, text_bank, learned, logit_scale):
        return Scoring(head=weighted_similarity_head(text_bank, learned["template_weights"]))


@pytest.fixture
def toy_method():
    register_selection(Aggregation(name=KeepBest.name, summary="the templates that spread most", method=KeepBest))
    yield KeepBest
    unregister_selection(KeepBest.name)


def test_a_learning_method_defined_outside_the_package_is_registered_and_searched(toy_method):
    X, y = make_data()
    search = GridSearchCV(
        make_classifier(selection=toy_method()), {"selection__keep": [1, 3, 5]}, cv=KFold(3), error_score="raise"
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 3 and np.isfinite(search.cv_results_["mean_test_score"]).all()
    clf = make_classifier(selection=toy_method(keep=2)).fit(X)  # unlabelled rows
    assert len(clf.selected_templates_) == 2 and clf.spread_.shape == (5,)
    assert (clf.predict(X) == make_data()[1]).mean() > 0.8
    by_name = make_classifier(selection=toy_method.name).fit(X)  # its defaults, by name
    assert len(by_name.selected_templates_) == 1
    with pytest.raises(ValueError, match="learns its template weights from unlabelled image embeddings"):
        make_classifier(selection=toy_method()).fit()
    clf.set_params(selection__keep=3)
    with pytest.raises(NotFittedError, match="fit"):
        clf.predict(X)


def test_an_unregistered_object_is_refused_with_the_way_to_register_it():
    class Unknown(SelectionOptions):
        name = "nowhere"

    with pytest.raises(ValueError, match="register_selection"):
        make_classifier(selection=Unknown()).fit()


def test_a_refit_that_fails_in_the_method_leaves_the_earlier_fit_whole():
    # The fitted state is learned before any fitted attribute changes: a failed refit on other
    # templates must not leave the earlier fit's weights beside the new text bank.
    X, y = make_data()
    clf = make_classifier(selection=ZPE(threshold=0.0)).fit(X, y)
    before = {name: getattr(clf, name) for name in ("templates_", "text_embeddings_", "fitted_selection_")}
    proba = clf.predict_proba(X)
    clf.set_params(templates=TEMPLATES[:1], selection=ZPE(threshold=10.0))
    with pytest.raises(ValueError, match="kept no template"):
        clf.fit(X, y)
    assert clf.templates_ == before["templates_"] and clf.fitted_selection_ is before["fitted_selection_"]
    np.testing.assert_array_equal(clf.text_embeddings_, before["text_embeddings_"])
    clf.set_params(templates=TEMPLATES, selection=ZPE(threshold=0.0))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_a_registered_method_that_ranks_templates_is_a_pool_by_choice():
    # pool_by reads the live table, as selection does: a registered method that ranks templates pools.
    class SpreadPool(KeepBest):
        name = "toy_spread_pool"

        def rank_templates(self, unit_images, text_bank, logit_scale):
            return self.learn(unit_images, text_bank, logit_scale)["spread"]

    register_selection(Aggregation(name=SpreadPool.name, summary="pools by spread", method=SpreadPool))
    try:
        X, y = make_data()
        clf = make_classifier(pool_by=SpreadPool.name, pool_size=2, selection="ensemble").fit(X, y)
        assert len(clf.templates_) == 2
    finally:
        unregister_selection(SpreadPool.name)
    with pytest.raises(ValueError, match="pool_by"):
        make_classifier(pool_by=SpreadPool.name, pool_size=2).fit(X, y)
