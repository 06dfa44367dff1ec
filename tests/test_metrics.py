"""Tests for skclip_sage.metrics: hand-computed values, validation errors, and scorers
inside scikit-learn model selection with metadata routing."""

import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn import clone, config_context, get_config
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, cross_validate

from skclip_sage.metrics import (
    GroupAccuracies,
    accuracy_gap,
    average_accuracy,
    average_group_accuracy,
    group_accuracies,
    harmonic_mean_accuracy,
    make_group_scorer,
    robustness_report,
    weighted_group_accuracy,
    worst_group_accuracy,
)

# Four groups with hand-picked accuracies: g0 3/4, g1 1/2, g2 1/4, g3 2/2.
# 12 samples, 7 correct.
Y_TRUE = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
Y_PRED = np.array([0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1])
GROUPS = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3])
GROUP_ACCURACY = np.array([0.75, 0.5, 0.25, 1.0])
GROUP_COUNT = np.array([4, 2, 4, 2])
PLAIN = 7 / 12
GROUPS_MEAN = (0.75 + 0.5 + 0.25 + 1.0) / 4  # 0.625
WORST = 0.25

# WILDS Waterbirds training group counts (landbird-land, landbird-water,
# waterbird-land, waterbird-water).
WILDS_COUNTS = [3498, 184, 56, 1057]
# By hand: (3498*0.75 + 184*0.5 + 56*0.25 + 1057*1.0) / 4795 = 3786.5 / 4795.
WILDS_ADJUSTED = 3786.5 / 4795

LABEL_METRICS = [
    group_accuracies,
    worst_group_accuracy,
    average_group_accuracy,
    accuracy_gap,
    harmonic_mean_accuracy,
    robustness_report,
]


def _call(metric, y_true, y_pred, groups):
    return metric(y_true, y_pred, groups=groups)


# --------------------------------------------------------------------------- values


def test_group_accuracies_hand_computed():
    result = group_accuracies(Y_TRUE, Y_PRED, groups=GROUPS)
    assert isinstance(result, GroupAccuracies)
    np.testing.assert_array_equal(result.groups, [0, 1, 2, 3])
    np.testing.assert_allclose(result.accuracy, GROUP_ACCURACY)
    np.testing.assert_array_equal(result.count, GROUP_COUNT)
    assert result.accuracy.dtype == np.float64
    assert result.count.dtype == np.int64


def test_group_accuracies_do_not_depend_on_sample_order():
    order = np.random.RandomState(0).permutation(len(Y_TRUE))
    result = group_accuracies(Y_TRUE[order], Y_PRED[order], groups=GROUPS[order])
    np.testing.assert_allclose(result.accuracy, GROUP_ACCURACY)
    np.testing.assert_array_equal(result.count, GROUP_COUNT)


def test_string_labels_and_groups_lists_and_pandas():
    pandas = pytest.importorskip("pandas")
    names = np.array(["land", "water"])
    groups = pandas.Series(np.array(["b", "a", "d", "c"])[GROUPS])
    result = group_accuracies(list(names[Y_TRUE]), pandas.Series(names[Y_PRED]), groups=groups)
    # Sorted group order: a (g1), b (g0), c (g3), d (g2).
    assert result.groups.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_allclose(result.accuracy, [0.5, 0.75, 1.0, 0.25])


def test_inputs_are_not_modified():
    y_true, y_pred, groups = Y_TRUE.copy(), Y_PRED.copy(), GROUPS.copy()
    robustness_report(y_true, y_pred, groups=groups, average="weighted", weights=WILDS_COUNTS)
    np.testing.assert_array_equal(y_true, Y_TRUE)
    np.testing.assert_array_equal(y_pred, Y_PRED)
    np.testing.assert_array_equal(groups, GROUPS)


def test_worst_average_and_plain_accuracy():
    assert worst_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS) == pytest.approx(WORST)
    assert average_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS) == pytest.approx(GROUPS_MEAN)
    assert average_accuracy(Y_TRUE, Y_PRED) == pytest.approx(PLAIN)
    assert average_accuracy(Y_TRUE, Y_PRED, groups=GROUPS) == pytest.approx(PLAIN)
    assert average_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, average="groups") == pytest.approx(GROUPS_MEAN)
    assert isinstance(worst_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS), float)


def test_single_group_and_all_correct():
    assert worst_group_accuracy([1, 0], [1, 0], groups=[5, 5]) == 1.0
    assert harmonic_mean_accuracy([1, 0], [1, 0], groups=[5, 5]) == 1.0
    assert accuracy_gap([1, 0], [1, 0], groups=[5, 5]) == 0.0


@pytest.mark.parametrize(
    "weights",
    [
        WILDS_COUNTS,
        np.array(WILDS_COUNTS),
        dict(enumerate(WILDS_COUNTS)),
        {np.int64(group): count for group, count in enumerate(WILDS_COUNTS)},
        [count * 10 for count in WILDS_COUNTS],  # only ratios matter
    ],
    ids=["list", "array", "dict", "dict-numpy-keys", "scaled"],
)
def test_weighted_group_accuracy_reproduces_wilds_adjusted_average(weights):
    value = weighted_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, weights=weights)
    assert value == pytest.approx(WILDS_ADJUSTED)
    assert average_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, average="weighted", weights=weights) == pytest.approx(
        WILDS_ADJUSTED
    )


def test_weights_as_pandas_series_are_aligned_by_index_not_position():
    pandas = pytest.importorskip("pandas")
    weights = pandas.Series(WILDS_COUNTS[::-1], index=[3, 2, 1, 0])
    value = weighted_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, weights=weights)
    assert value == pytest.approx(WILDS_ADJUSTED)
    with pytest.raises(ValueError, match=r"weights names group\(s\) \[9\]"):
        weighted_group_accuracy(
            Y_TRUE, Y_PRED, groups=GROUPS, weights=pandas.Series([1, 1, 1, 1, 1], index=[0, 1, 2, 3, 9])
        )


def test_weighted_group_accuracy_with_named_waterbirds_groups():
    names = np.array(["landbird_land", "landbird_water", "waterbird_land", "waterbird_water"])
    weights = dict(zip(names[::-1], WILDS_COUNTS[::-1]))  # dict order does not matter
    value = weighted_group_accuracy(Y_TRUE, Y_PRED, groups=names[GROUPS], weights=weights)
    assert value == pytest.approx(WILDS_ADJUSTED)


def test_equal_weights_give_the_unweighted_mean_and_zero_weights_drop_a_group():
    assert weighted_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, weights=[1, 1, 1, 1]) == pytest.approx(GROUPS_MEAN)
    assert weighted_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, weights=[0, 0, 1, 0]) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "average, weights, expected_average",
    [
        ("plain", None, PLAIN),
        ("groups", None, GROUPS_MEAN),
        ("weighted", WILDS_COUNTS, WILDS_ADJUSTED),
    ],
)
def test_gap_and_harmonic_mean(average, weights, expected_average):
    kwargs = dict(groups=GROUPS, average=average, weights=weights)
    gap = accuracy_gap(Y_TRUE, Y_PRED, **kwargs)
    harmonic_mean = harmonic_mean_accuracy(Y_TRUE, Y_PRED, **kwargs)
    assert gap == pytest.approx(expected_average - WORST)
    expected_hm = 2 * expected_average * WORST / (expected_average + WORST)
    assert harmonic_mean == pytest.approx(expected_hm)


def test_harmonic_mean_hand_values_and_zero_when_everything_is_wrong():
    # groups mean 0.625, WGA 0.25: HM = 2 * 0.625 * 0.25 / 0.875 = 5 / 14.
    assert harmonic_mean_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, average="groups") == pytest.approx(5 / 14)
    assert harmonic_mean_accuracy([0, 1], [1, 0], groups=[0, 1]) == 0.0
    assert accuracy_gap([0, 1], [1, 0], groups=[0, 1]) == 0.0


# --------------------------------------------------------------------------- report


def test_robustness_report_columns_and_values():
    report = robustness_report(
        Y_TRUE,
        Y_PRED,
        groups=GROUPS,
        average="weighted",
        weights=WILDS_COUNTS,
        group_names=["landbird_land", "landbird_water", "waterbird_land", "waterbird_water"],
    )
    assert list(report) == ["name", "kind", "count", "value", "note"]
    assert report["note"] == [""] * 8
    assert report["name"] == [
        "Avg",
        "WGA",
        "Gap",
        "HM",
        "landbird_land",
        "landbird_water",
        "waterbird_land",
        "waterbird_water",
    ]
    assert report["kind"] == ["summary"] * 4 + ["group"] * 4
    np.testing.assert_array_equal(report["count"], [12, 4, 12, 12, 4, 2, 4, 2])
    expected_hm = 2 * WILDS_ADJUSTED * WORST / (WILDS_ADJUSTED + WORST)
    np.testing.assert_allclose(
        report["value"],
        [WILDS_ADJUSTED, WORST, WILDS_ADJUSTED - WORST, expected_hm, *GROUP_ACCURACY],
    )
    assert np.all((report["value"] >= 0) & (report["value"] <= 1))


def test_robustness_report_default_and_dict_names():
    report = robustness_report(Y_TRUE, Y_PRED, groups=GROUPS)
    assert report["name"][4:] == ["0", "1", "2", "3"]
    assert report["value"][0] == pytest.approx(PLAIN)
    names = {3: "d", 0: "a", 2: "c", 1: "b"}
    report = robustness_report(Y_TRUE, Y_PRED, groups=GROUPS, group_names=names)
    assert report["name"][4:] == ["a", "b", "c", "d"]


@pytest.mark.parametrize("average", ["plain", "groups"])
def test_robustness_report_lists_named_groups_without_samples(average):
    # RELIABILITY case 36: a group named in group_names with no evaluated sample is
    # listed as empty (count 0, NaN, "no samples"), and WGA says it excludes it.
    names = {0: "a", 1: "b", 2: "c", 3: "d", 4: "e (all unreadable)", -1: "z"}
    report = robustness_report(Y_TRUE, Y_PRED, groups=GROUPS, group_names=names, average=average)
    assert report["name"][4:] == ["z", "a", "b", "c", "d", "e (all unreadable)"]
    np.testing.assert_array_equal(report["count"][4:], [0, 4, 2, 4, 2, 0])
    assert np.isnan(report["value"][[4, 9]]).all()
    np.testing.assert_allclose(report["value"][5:9], GROUP_ACCURACY)
    assert report["note"][4:] == ["no samples", "", "", "", "", "no samples"]
    excludes = "excludes 2 groups with no samples: 'z', 'e (all unreadable)'"
    assert report["note"][1] == excludes
    assert report["note"][0] == ("" if average == "plain" else excludes)
    # The numbers are those of the evaluated groups alone.
    alone = robustness_report(Y_TRUE, Y_PRED, groups=GROUPS, average=average)
    np.testing.assert_array_equal(report["value"][:4], alone["value"][:4])
    np.testing.assert_array_equal(report["count"][:4], alone["count"][:4])


def test_robustness_report_as_frame():
    pytest.importorskip("pandas")
    frame = robustness_report(Y_TRUE, Y_PRED, groups=GROUPS, average="groups", as_frame=True)
    assert list(frame.columns) == ["name", "kind", "count", "value", "note"]
    assert frame.shape == (8, 5)
    assert frame.set_index("name").loc["WGA", "value"] == pytest.approx(WORST)
    assert frame.set_index("name").loc["Avg", "value"] == pytest.approx(GROUPS_MEAN)


def test_robustness_report_as_frame_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match=r"skclip-sage\[plot\]"):
        robustness_report(Y_TRUE, Y_PRED, groups=GROUPS, as_frame=True)


@pytest.mark.parametrize(
    "group_names, match",
    [
        ({0: "a", 1: "b", 2: "c"}, r"group_names has no entry for group\(s\) \[3\]"),
        (["a", "b", "c"], "group_names has 3 entries but the data has 4 groups"),
        (["a", "b", "a", "d"], "same name 'a' to groups 0 and 2"),
        ("abcd", "got the string 'abcd'"),
    ],
)
def test_robustness_report_bad_group_names(group_names, match):
    with pytest.raises(ValueError, match=match):
        robustness_report(Y_TRUE, Y_PRED, groups=GROUPS, group_names=group_names)


def test_robustness_report_bad_as_frame():
    with pytest.raises(ValueError, match="as_frame must be True or False; got 'yes'"):
        robustness_report(Y_TRUE, Y_PRED, groups=GROUPS, as_frame="yes")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("metric", LABEL_METRICS)
def test_length_mismatch_names_the_lengths(metric):
    with pytest.raises(
        ValueError,
        match=rf"{metric.__name__} got inputs of different lengths: y_true has 4, "
        r"y_pred has 3, groups has 4 samples",
    ):
        _call(metric, [0, 1, 0, 1], [0, 1, 0], [0, 0, 1, 1])


@pytest.mark.parametrize("metric", LABEL_METRICS)
def test_empty_input(metric):
    with pytest.raises(ValueError, match="needs at least one sample; got 0 samples"):
        _call(metric, [], [], [])


@pytest.mark.parametrize("metric", LABEL_METRICS)
@pytest.mark.parametrize("position", ["y_true", "y_pred", "groups"])
@pytest.mark.parametrize("missing", [np.nan, None], ids=["nan", "none"])
def test_missing_values_are_rejected_with_their_position(metric, position, missing):
    arrays = {"y_true": [0.0, 1.0, 0.0], "y_pred": [0.0, 1.0, 1.0], "groups": [0.0, 0.0, 1.0]}
    arrays[position] = [arrays[position][0], missing, arrays[position][2]]
    with pytest.raises(
        ValueError,
        match=rf"{position} contains 1 missing value\(s\) \(NaN or None\) at "
        r"position\(s\) \[1\]",
    ):
        _call(metric, arrays["y_true"], arrays["y_pred"], arrays["groups"])


def test_pandas_missing_values_are_rejected():
    pandas = pytest.importorskip("pandas")
    groups = pandas.Series(["a", pandas.NA, "b"], dtype="string")
    with pytest.raises(ValueError, match=r"groups contains 1 missing value"):
        worst_group_accuracy([0, 1, 0], [0, 1, 1], groups=groups)
    labels = pandas.array([0, None, 1], dtype="Int64")
    with pytest.raises(ValueError, match=r"y_true contains 1 missing value"):
        worst_group_accuracy(labels, [0, 1, 1], groups=[0, 0, 1])


def test_not_one_dimensional():
    with pytest.raises(ValueError, match=r"y_pred must be 1-D .* shape \(2, 2\)"):
        worst_group_accuracy([0, 1], [[0, 1], [1, 0]], groups=[0, 1])
    with pytest.raises(ValueError, match=r"groups must be 1-D .* shape \(\).*np.ravel"):
        worst_group_accuracy([0, 1], [0, 1], groups=3)
    with pytest.raises(ValueError, match="groups must be a 1-D array-like .* single string"):
        worst_group_accuracy([0, 1], [0, 1], groups="ab")


def test_labels_of_different_types_are_rejected():
    # numpy would compare 1 == "1" as False and report 0% accuracy silently.
    with pytest.raises(ValueError, match="y_true holds numbers but y_pred holds strings"):
        worst_group_accuracy([0, 1], ["0", "1"], groups=[0, 1])
    with pytest.raises(ValueError, match="y_pred mixes strings and numbers"):
        worst_group_accuracy([0, 1], np.array([0, "1"], dtype=object), groups=[0, 1])
    with pytest.raises(ValueError, match="groups mixes strings and numbers"):
        worst_group_accuracy([0, 1], [0, 1], groups=np.array([0, "a"], dtype=object))


@pytest.mark.parametrize(
    "weights, match",
    [
        (
            {0: 1, 1: 1, 2: 1},
            r"weights has no entry for group\(s\) \[3\]; the data has "
            r"groups \[0, 1, 2, 3\]",
        ),
        ({0: 1, 1: 1, 2: 1, 3: 1, 7: 1}, r"weights names group\(s\) \[7\] that do not occur"),
        (
            {"0": 1, "1": 1, "2": 1, "3": 1},
            r"weights names group\(s\) \['0', .*same labels "
            r"\(and type\)",
        ),
        ([1, 2, 3], "weights has 3 entries but the data has 4 groups"),
        ([1, -2, 3, 4], "weights must be finite and non-negative"),
        ([1, np.nan, 3, 4], "weights must be finite and non-negative"),
        ([0, 0, 0, 0], "weights sum to 0"),
        (["a", "b", "c", "d"], "weights must be numbers"),
        ("1234", "weights must be a dict group -> value or a sequence"),
        ([[1, 2], [3, 4]], r"weights must be .* 1-D sequence .* shape \(2, 2\)"),
        (5, r"weights must be .* 1-D sequence .* shape \(\)"),
    ],
    ids=[
        "missing",
        "unknown",
        "wrong-type-keys",
        "length",
        "negative",
        "nan",
        "zero",
        "strings",
        "string",
        "2-D",
        "scalar",
    ],
)
def test_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        weighted_group_accuracy(Y_TRUE, Y_PRED, groups=GROUPS, weights=weights)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(average="mean"),
            r"average must be one of 'plain', 'groups', 'weighted'; "
            r"got 'mean' instead",
        ),
        (dict(average="weighted"), r"average='weighted' needs weights="),
        (
            dict(weights=WILDS_COUNTS),
            r"weights is only used with average='weighted'; got "
            r"average='plain'",
        ),
        (dict(average="groups", weights=WILDS_COUNTS), "weights is only used with"),
    ],
)
@pytest.mark.parametrize("metric", [average_accuracy, accuracy_gap, harmonic_mean_accuracy, robustness_report])
def test_bad_average_options(metric, kwargs, match):
    with pytest.raises(ValueError, match=rf"{metric.__name__}: {match}"):
        metric(Y_TRUE, Y_PRED, groups=GROUPS, **kwargs)


@pytest.mark.parametrize("average", ["groups", "weighted"])
def test_average_accuracy_needs_groups_for_group_averages(average):
    with pytest.raises(ValueError, match=rf"average='{average}' needs groups="):
        average_accuracy(Y_TRUE, Y_PRED, average=average, weights=WILDS_COUNTS)


def test_import_stays_numpy_only():
    code = (
        "import sys, skclip_sage.metrics; print(sorted(m for m in ('sklearn', 'pandas', 'torch') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    assert output.strip() == "[]"


# --------------------------------------------------------------------------- scorers

ROUTING_HINT = r"sklearn.set_config\(enable_metadata_routing=True\)"


@pytest.fixture
def search_data():
    """40 samples, 2 features; 4 robustness groups and 5 unrelated CV fold groups."""
    rng = np.random.RandomState(0)
    X = rng.randn(40, 2)
    y = (X[:, 0] + 0.5 * rng.randn(40) > 0).astype(int)
    robustness_groups = np.arange(40) % 4
    fold_groups = np.arange(40) // 8  # 5 blocks of 8 consecutive samples
    return X, y, robustness_groups, fold_groups


def _manual_scores(X, y, splits, metric_groups, metric=worst_group_accuracy, **kwargs):
    """Fit LogisticRegression on each split by hand and score the test fold."""
    scores = []
    for train, test in splits:
        estimator = clone(LogisticRegression()).fit(X[train], y[train])
        scores.append(metric(y[test], estimator.predict(X[test]), groups=metric_groups[test], **kwargs))
    return np.array(scores)


def _split_scores(search, n_splits, candidate=0):
    return np.array([search.cv_results_[f"split{i}_test_score"][candidate] for i in range(n_splits)])


def test_scorer_is_a_sklearn_scorer_and_does_not_leak_routing_config(search_data):
    X, y, groups, _ = search_data
    assert get_config()["enable_metadata_routing"] is False
    scorer = make_group_scorer()
    assert get_config()["enable_metadata_routing"] is False
    assert repr(scorer) == "make_scorer(worst_group_accuracy, response_method='predict')"
    estimator = LogisticRegression().fit(X, y)
    with config_context(enable_metadata_routing=True):
        value = scorer(estimator, X, y, groups=groups)
    assert value == worst_group_accuracy(y, estimator.predict(X), groups=groups)
    restored = pickle.loads(pickle.dumps(scorer))
    with config_context(enable_metadata_routing=True):
        assert restored(estimator, X, y, groups=groups) == value


def test_grid_search_routes_groups_to_the_scorer(search_data):
    X, y, groups, _ = search_data
    cv = KFold(3)
    with config_context(enable_metadata_routing=True):
        search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=cv, scoring=make_group_scorer()).fit(
            X, y, groups=groups
        )
    expected = _manual_scores(X, y, cv.split(X, y), groups)
    np.testing.assert_allclose(_split_scores(search, 3), expected)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_group_kfold_and_scorer_share_the_same_groups(search_data):
    X, y, groups, _ = search_data
    cv = GroupKFold(2)
    with config_context(enable_metadata_routing=True):
        search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=cv, scoring=make_group_scorer()).fit(
            X, y, groups=groups
        )
    # Each test fold holds whole robustness groups (GroupKFold used the same array).
    expected = _manual_scores(X, y, cv.split(X, y, groups), groups)
    np.testing.assert_allclose(_split_scores(search, 2), expected)


@pytest.mark.parametrize("alias_by", ["groups_param", "set_score_request"])
def test_group_kfold_and_scorer_get_different_groups_through_an_alias(search_data, alias_by):
    X, y, robustness_groups, fold_groups = search_data
    cv = GroupKFold(5)
    with config_context(enable_metadata_routing=True):
        if alias_by == "groups_param":
            scorer = make_group_scorer(groups_param="eval_groups")
        else:
            scorer = make_group_scorer().set_score_request(groups="eval_groups")
        search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=cv, scoring=scorer)
        search.fit(X, y, groups=fold_groups, eval_groups=robustness_groups)
    # Splits come from the fold groups, scores from the robustness groups.
    expected = _manual_scores(X, y, cv.split(X, y, fold_groups), robustness_groups)
    np.testing.assert_allclose(_split_scores(search, 5), expected)
    wrong = _manual_scores(X, y, cv.split(X, y, fold_groups), fold_groups)
    assert not np.allclose(expected, wrong)  # the check above can tell the arrays apart


def test_cross_validate_with_several_group_scorers(search_data):
    X, y, groups, _ = search_data
    cv = KFold(2)
    weights = {0: 3498, 1: 184, 2: 56, 3: 1057}
    scoring = {
        "wga": make_group_scorer(),
        "gap": make_group_scorer("accuracy_gap", average="groups"),
        "adjusted": make_group_scorer("weighted_group_accuracy", weights=weights),
        "accuracy": "accuracy",
    }
    with config_context(enable_metadata_routing=True):
        result = cross_validate(LogisticRegression(), X, y, cv=cv, scoring=scoring, params={"groups": groups})
    splits = list(cv.split(X, y))
    np.testing.assert_allclose(result["test_wga"], _manual_scores(X, y, splits, groups))
    # The gap is "lower is better", so its scorer returns -gap like sklearn's neg_* scorers.
    np.testing.assert_allclose(
        result["test_gap"],
        -_manual_scores(X, y, splits, groups, metric=accuracy_gap, average="groups"),
    )
    np.testing.assert_allclose(
        result["test_adjusted"],
        _manual_scores(X, y, splits, groups, metric=weighted_group_accuracy, weights=weights),
    )


def test_custom_callable_metric(search_data):
    X, y, groups, _ = search_data

    def best_group_accuracy(y_true, y_pred, *, groups):
        return float(group_accuracies(y_true, y_pred, groups=groups).accuracy.max())

    scorer = make_group_scorer(best_group_accuracy)
    estimator = LogisticRegression().fit(X, y)
    with config_context(enable_metadata_routing=True):
        value = scorer(estimator, X, y, groups=groups)
    assert value == best_group_accuracy(y, estimator.predict(X), groups=groups)


def test_scorer_without_routing_called_directly_explains_how_to_enable_it(search_data):
    X, y, _, _ = search_data
    estimator = LogisticRegression().fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"'worst_group_accuracy' group scorer was called "
        r"without groups.*" + ROUTING_HINT,
    ):
        make_group_scorer()(estimator, X, y)
    # Passing groups by hand with routing off is refused by scikit-learn itself, with a
    # message that already names the setting.
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        make_group_scorer()(estimator, X, y, groups=np.zeros(len(y)))


def test_grid_search_without_routing_warns_with_the_hint_and_scores_nan(search_data):
    # scikit-learn catches scoring errors: with the default error_score=np.nan our
    # message arrives inside its "Scoring failed" warning.
    X, y, groups, _ = search_data
    search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=GroupKFold(2), scoring=make_group_scorer())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y, groups=groups)
    messages = [str(warning.message) for warning in caught]
    assert any("Scoring failed" in message and "enable_metadata_routing=True" in message for message in messages)
    assert np.isnan(search.cv_results_["mean_test_score"]).all()


def test_grid_search_without_routing_raises_with_error_score_raise(search_data):
    X, y, groups, _ = search_data
    search = GridSearchCV(
        LogisticRegression(), {"C": [1.0]}, cv=GroupKFold(2), scoring=make_group_scorer(), error_score="raise"
    )
    with pytest.raises(ValueError, match=r"without groups.*" + ROUTING_HINT + r".*pass groups=\.\.\. to fit"):
        search.fit(X, y, groups=groups)


def test_cross_validate_without_routing_raises_with_error_score_raise(search_data):
    X, y, groups, _ = search_data
    with pytest.raises(ValueError, match=ROUTING_HINT):
        cross_validate(
            LogisticRegression(),
            X,
            y,
            groups=groups,
            cv=GroupKFold(2),
            scoring=make_group_scorer(),
            error_score="raise",
        )


def test_routing_on_but_no_groups_passed_names_the_parameter(search_data):
    X, y, _, fold_groups = search_data
    scorer = make_group_scorer(groups_param="eval_groups")
    with config_context(enable_metadata_routing=True):
        search = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=GroupKFold(2), scoring=scorer, error_score="raise")
        with pytest.raises(
            ValueError,
            match=r"Metadata routing is enabled, but nothing was "
            r"routed.*'eval_groups'.*fit\(X, y, eval_groups=groups\)",
        ):
            search.fit(X, y, groups=fold_groups)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("worst",), {}, r"metric must be one of 'accuracy_gap', .* got 'worst' instead"),
        ((3,), {}, "metric must be a metric name or a callable"),
        ((), dict(groups_param="eval-groups"), "groups_param must be a valid Python identifier"),
        ((), dict(groups_param=True), "groups_param must be a valid Python identifier"),
        ((), dict(groups=[0, 1]), "groups cannot be fixed when the scorer is made"),
        (
            (),
            dict(weights=[1, 2]),
            r"the arguments \['weights'\] do not fit "
            r"worst_group_accuracy",
        ),
        (("weighted_group_accuracy",), {}, "weights=... for 'weighted_group_accuracy'"),
        (("accuracy_gap",), dict(average="mean"), "average must be one of"),
        (("harmonic_mean_accuracy",), dict(weights=[1, 2]), "weights is only used with average='weighted'"),
    ],
)
def test_make_group_scorer_rejects_bad_arguments_when_made(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_group_scorer(*args, **kwargs)
