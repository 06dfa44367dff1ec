"""Options that were silently wrong around NaN rows (issue 21, section 5, the estimator's bullets).

A ``nan_label`` of another type turned every prediction into a string; one equal to a
class was refused only at the first NaN row; ZPE learned NaN weights from an X without
a finite row; a tiny ``perception_temperature`` gave NaN probabilities; and a search
over a propagating pipeline crashed (float, bool labels) or scored NaN everywhere.
"""

import warnings

import numpy as np
import pytest
from fakes import WordSumEncoder, image_embeddings
from sklearn import config_context
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skclip_sage import SageZeroShotClassifier
from skclip_sage.exceptions import NonFiniteRowsWarning
from skclip_sage.metrics import make_group_scorer, missing_as_wrong, worst_group_accuracy
from skclip_sage.selection import PerceptionCLIP

WIDTH = 16
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "art of the {}."]
TEXTS = ["landbird", "goldfish"]
LABELS = {
    "float": [0.0, 1.0],
    "bool": [False, True],
    "int": [0, 1],
    "str": ["bird", "fish"],
}


def make_classifier(labels, **params):
    params = {"templates": TEMPLATES, "device": "cpu", "on_nan": "propagate", **params}
    return SageZeroShotClassifier(WordSumEncoder(WIDTH), class_names=dict(zip(labels, TEXTS)), **params)


def data(labels, n=40, seed=0):
    codes = np.random.default_rng(seed).integers(0, 2, size=n)
    X = image_embeddings(dict(enumerate(TEXTS)), codes, width=WIDTH, noise=0.6, seed=seed)
    X[::7] = np.nan  # images that gave no embedding
    return X, np.asarray(labels)[codes], codes


# ---------------------------------------------------------------- nan_label at fit


@pytest.mark.parametrize(
    "labels, nan_label",
    [([0, 1], "unknown"), ([0, 1], 2.5), ([3, 7], True), ([0.0, 1.0], "unknown"), (["bird", "fish"], -1)],
)
def test_a_nan_label_of_another_type_is_refused_at_fit(labels, nan_label):
    with pytest.raises(ValueError, match=r"does not fit the classes' type.*default nan_label=None"):
        make_classifier(labels, nan_label=nan_label).fit()
    make_classifier(labels, nan_label=nan_label, on_nan="raise").fit()  # never used: not checked


@pytest.mark.parametrize("labels, nan_label", [([0, 1], 7), ([0.0, 1.0], -1), (["bird", "fish"], "unknown")])
def test_predictions_keep_the_classes_dtype(labels, nan_label):
    X, _, _ = data(labels)
    clf = make_classifier(labels, nan_label=nan_label).fit()
    with pytest.warns(NonFiniteRowsWarning):
        predictions = clf.predict(X)
    assert predictions.dtype.kind == clf.classes_.dtype.kind
    assert (predictions[::7] == nan_label).all()


def test_a_nan_label_equal_to_a_class_is_refused_at_fit():
    with pytest.raises(ValueError, match=r"nan_label='fish' is one of the classes"):
        make_classifier(["bird", "fish"], nan_label="fish").fit()


# ---------------------------------------------------------------- ZPE on no finite row


@pytest.mark.parametrize("params", [{"selection": "zpe"}, {"pool_by": "zpe", "pool_size": 2}])
def test_zpe_on_an_x_without_a_finite_row_is_refused(params):
    X = np.full((5, WIDTH), np.nan)
    clf = make_classifier([0, 1], **params)
    with pytest.warns(NonFiniteRowsWarning), pytest.raises(ValueError, match=r"All 5 rows of X hold NaN or infinity"):
        clf.fit(X)
    X[3] = image_embeddings({0: "landbird"}, [0], width=WIDTH)[0]  # one finite row suffices
    with pytest.warns(NonFiniteRowsWarning):
        clf.fit(X)
    assert np.isfinite(getattr(clf, "template_weights_", np.zeros(1))).all()


# ---------------------------------------------------------------- perception_temperature


def test_perception_temperature_is_bounded_and_finite_at_the_bound():
    X, _, _ = data([0, 1])
    X = X[np.isfinite(X).all(axis=1)]
    for tiny in (1e-40, 1e-300, 0.0):
        with pytest.raises(ValueError, match=r"temperature.* must be a finite real number in \[1e-30, inf\]"):
            make_classifier([0, 1], selection=PerceptionCLIP(temperature=tiny)).fit()
        with pytest.warns(FutureWarning), pytest.raises(ValueError, match="perception_temperature must be"):
            make_classifier([0, 1], selection="perception", perception_temperature=tiny).fit()
    clf = make_classifier([0, 1], selection=PerceptionCLIP(temperature=1e-30)).fit()
    assert np.isfinite(clf.predict_proba(X)).all()
    sharp = make_classifier([0, 1], selection=PerceptionCLIP(temperature=1e-3)).fit()
    np.testing.assert_array_equal(clf.predict(X), sharp.predict(X))


# ---------------------------------------------------------------- scorers


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_grid_search_over_a_propagating_pipeline_scores_nan_rows_as_wrong(kind):
    labels = LABELS[kind]
    X, y, codes = data(labels)
    pipe = make_pipeline(FunctionTransformer(), make_classifier(labels))
    grid = {"sagezeroshotclassifier__selection": ["single", "ensemble"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteRowsWarning)
        search = GridSearchCV(pipe, grid, cv=KFold(2), error_score="raise").fit(X, y)
        scores = search.cv_results_["mean_test_score"]
        assert np.isfinite(scores).all()
        # The same predictions whatever the label type: the scores are those of the integer labels,
        # where nan_label=-1 was always counted wrong.
        reference = GridSearchCV(make_pipeline(FunctionTransformer(), make_classifier([0, 1])), grid, cv=KFold(2)).fit(
            X, codes
        )
        np.testing.assert_array_equal(scores, reference.cv_results_["mean_test_score"])
        assert search.best_params_ == reference.best_params_
        finite = np.isfinite(X).all(axis=1)
        fitted = make_classifier(labels).fit()
        assert fitted.score(X, y) == pytest.approx((fitted.predict(X[finite]) == y[finite]).sum() / len(y))


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_group_scorer_counts_nan_rows_as_wrong(kind):
    labels = LABELS[kind]
    X, y, codes = data(labels)
    groups = np.arange(len(y)) % 2
    with warnings.catch_warnings(), config_context(enable_metadata_routing=True):
        warnings.simplefilter("ignore", NonFiniteRowsWarning)
        search = GridSearchCV(
            make_classifier(labels), {"k": [1, 2]}, cv=KFold(2), scoring=make_group_scorer(), error_score="raise"
        ).fit(X, y, groups=groups)
        reference = GridSearchCV(
            make_classifier([0, 1]), {"k": [1, 2]}, cv=KFold(2), scoring=make_group_scorer(), error_score="raise"
        ).fit(X, codes, groups=groups)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])


def test_missing_as_wrong_never_counts_a_missing_prediction_right():
    assert missing_as_wrong([1.0, 1.0], [np.nan, 1.0]).tolist() == [2.0, 1.0]  # one class: label + 1
    assert missing_as_wrong(["a", "b"], np.array([None, "b"], dtype=object)).tolist() == ["b", "b"]
    assert missing_as_wrong(["a", "a"], np.array([None, "a"], dtype=object)).tolist() == ["a?", "a"]
    assert missing_as_wrong([True, False], np.array([None, None], dtype=object)).tolist() == [False, True]
    untouched = np.array([-1, 0])
    assert missing_as_wrong([0, 0], untouched) is untouched
    with pytest.raises(ValueError, match="missing_as_wrong"):
        worst_group_accuracy([0.0, 1.0], [np.nan, 1.0], groups=[0, 1])


def test_score_with_object_labels_counts_nan_rows_as_wrong():
    # Labels from a pandas string column are an object array: its values are str, not numpy scalars.
    X, y, _ = data(LABELS["str"])
    y = y.astype(object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteRowsWarning)
        fitted = make_classifier(LABELS["str"]).fit(X, y)
        finite = np.isfinite(X).all(axis=1)
        assert fitted.score(X, y) == pytest.approx((fitted.predict(X[finite]) == y[finite]).sum() / len(y))
        groups = np.arange(len(y)) % 2
        scorer = make_group_scorer()
        with config_context(enable_metadata_routing=True):
            assert np.isfinite(scorer(fitted, X, y, groups=groups))
    assert missing_as_wrong(y[:2], np.array([None, y[1]], dtype=object)).tolist()[0] != y[0]
