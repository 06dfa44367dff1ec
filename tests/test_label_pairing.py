"""Which name goes with which label when class_names is a list (issue 21, section 1).

A list was paired with the *sorted* labels of ``y`` by position, so the README's
``class_names=["zero", ..., "nine"]`` with labels that are those same strings scored
0.11 under cross-validation against 0.89 from ``fit()``, without a word.
"""

import numpy as np
import pytest
from fakes import WordSumEncoder, image_embeddings
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline

from skclip_sage import SageZeroShotClassifier
from skclip_sage.comparison import compare_methods, selection_methods
from skclip_sage.debias import RoboShotProjection

WIDTH = 32
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]  # not sorted
TEMPLATES = ["a photo of a {}.", "a drawing of a {}."]


def make_classifier(class_names, encoder=None, **params):
    params = {"templates": TEMPLATES, "device": "cpu", **params}
    return SageZeroShotClassifier(encoder or WordSumEncoder(WIDTH), class_names=class_names, **params)


def digit_data(n=200, seed=0):
    labels = np.array(DIGITS)[np.random.default_rng(seed).integers(0, len(DIGITS), size=n)]
    return image_embeddings({name: name for name in DIGITS}, labels, width=WIDTH, noise=0.2, seed=seed), labels


def test_readme_pipeline_list_of_names_and_the_same_string_labels_cross_validates_as_fit():
    X, y = digit_data()
    fitted_on_names = make_classifier(DIGITS).fit()
    score = fitted_on_names.score(X, y)
    assert score > 0.8
    results = cross_validate(make_classifier(DIGITS), X, y, cv=KFold(3), return_estimator=True)
    # Each fold pairs by value: the same classifier as fit() on the names, so the same predictions.
    for (_, test), fold_score, estimator in zip(KFold(3).split(X), results["test_score"], results["estimator"]):
        assert estimator.classes_.tolist() == sorted(DIGITS) == estimator.class_names_
        assert fold_score == pytest.approx(fitted_on_names.score(X[test], y[test]))
    assert results["test_score"].mean() == pytest.approx(score, abs=0.05)


def test_three_class_toy_fit_with_y_equals_fit_without():
    names = ["oak", "landbird", "goldfish"]  # the README's order, not sorted
    X = image_embeddings({name: name for name in names}, names, width=WIDTH, noise=0.0)
    y = np.array(names)
    assert make_classifier(names).fit().score(X, y) == 1.0
    assert make_classifier(names).fit(X, y).score(X, y) == 1.0  # was 0.0: name i paired with sorted label i
    # a fold holding only two of the classes still has the three columns
    fold = make_classifier(names).fit(X[:2], y[:2])
    assert fold.classes_.tolist() == ["goldfish", "landbird", "oak"] and fold.score(X, y) == 1.0


@pytest.mark.parametrize(
    "labels, shown",
    [
        (["bird", "fish", "tree"], "class_names={'bird': 'oak', 'fish': 'landbird', 'tree': 'goldfish'}"),
        (["Oak", "goldfish", "landbird"], "class_names={'Oak': 'oak', 'goldfish': 'landbird', 'landbird': 'goldfish'}"),
        ([1, 2, 3], "class_names={1: 'oak', 2: 'landbird', 3: 'goldfish'}"),
        ([0.0, 1.0, 2.0], "class_names={0.0: 'oak', 1.0: 'landbird', 2.0: 'goldfish'}"),
    ],
)
def test_labels_that_are_neither_the_names_nor_indices_are_refused_with_the_dict_to_write(labels, shown):
    names = ["oak", "landbird", "goldfish"]
    X = image_embeddings({name: name for name in names}, names, width=WIDTH)
    with pytest.raises(ValueError, match="which name goes with which label is not known") as error:
        make_classifier(names).fit(X, np.array(labels))
    assert shown in str(error.value)
    assert "Say it with a dict" in str(error.value)


def test_bool_labels_are_refused_with_the_dict_to_write():
    with pytest.raises(ValueError, match=r"class_names=\{False: 'no', True: 'yes'\}"):
        make_classifier(["no", "yes"]).fit(np.ones((2, WIDTH)), np.array([False, True]))


def test_integer_labels_0_to_c_minus_1_pair_by_position_and_keep_every_class():
    names = ["oak", "landbird", "goldfish"]
    X = image_embeddings({name: name for name in names}, names, width=WIDTH, noise=0.0)
    clf = make_classifier(names).fit(X, np.array([0, 1, 2]))
    assert clf.classes_.tolist() == [0, 1, 2] and clf.class_names_ == names
    assert clf.predict(X).tolist() == [0, 1, 2]
    fold = make_classifier(names).fit(X[:2], np.array([0, 1]))  # label 2 absent from this fold
    assert fold.classes_.tolist() == [0, 1, 2] and fold.predict(X).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="not integers from 0 to 2"):
        make_classifier(names).fit(X, np.array([0, 1, 3]))


def test_comparison_pairs_a_list_by_value():
    X, y = digit_data(n=120)
    methods = selection_methods(
        WordSumEncoder(WIDTH), class_names=DIGITS, templates=TEMPLATES, modes=("ensemble",), k_values=(1,), device="cpu"
    )
    rows = compare_methods(methods, X, y, groups=np.zeros(len(y), dtype=int), group_names=["all"])
    expected = 100 * make_classifier(DIGITS, selection="ensemble").fit().score(X, y)
    assert rows[0]["Avg"] == pytest.approx(expected)


def test_a_debiasing_pipeline_pairs_a_list_by_value():
    X, y = digit_data(n=90)
    encoder = WordSumEncoder(WIDTH)
    pipe = make_pipeline(
        RoboShotProjection(encoder, harmful=[("a photo", "a drawing")], device="cpu"),
        make_classifier(DIGITS, encoder),
    )
    results = cross_validate(pipe, X, y, cv=KFold(3))
    assert results["test_score"].min() > 0.5
