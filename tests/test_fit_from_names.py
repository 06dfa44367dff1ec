"""SageZeroShotClassifier.fit from class names alone, and several texts per class (issue 9, section 1)."""

import argparse
import warnings

import numpy as np
import pytest
from fakes import WordSumEncoder, image_embeddings, word_vector
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skclip_sage import SageZeroShotClassifier
from skclip_sage.exceptions import DuplicatePromptWarning, NumericClassNamesWarning
from skclip_sage.prompts import clear_text_bank_cache

WIDTH = 16
NAMES = {"bird": "landbird", "fish": "goldfish", "tree": "oak"}
TEMPLATES = ["a photo of a {}.", "a drawing of a {}.", "art of the {}.", "a {} in the wild.", "itap of my {}."]


def make_classifier(encoder=None, **params):
    params = {"templates": TEMPLATES, "class_names": NAMES, "device": "cpu", **params}
    return SageZeroShotClassifier(encoder or WordSumEncoder(WIDTH), **params)


def make_data(n=30, seed=0):
    labels = np.array(sorted(NAMES))[np.random.default_rng(seed).integers(0, 3, size=n)]
    return image_embeddings(NAMES, labels, width=WIDTH, seed=seed), labels


def unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


# ---------------------------------------------------------------- fit() without X or y


def test_fit_without_x_or_y_equals_fitting_on_data():
    X, y = make_data()
    encoder = WordSumEncoder(WIDTH)
    from_names = make_classifier(encoder).fit()
    from_data = make_classifier(encoder).fit(X, y)
    assert from_names.classes_.tolist() == ["bird", "fish", "tree"]
    assert from_names.n_features_in_ == WIDTH == encoder.embedding_dim
    assert not hasattr(from_names, "feature_names_in_")
    np.testing.assert_array_equal(from_names.text_embeddings_, from_data.text_embeddings_)
    np.testing.assert_array_equal(from_names.predict_proba(X), from_data.predict_proba(X))
    assert (from_names.predict(X) == y).mean() > 0.9


def test_x_alone_is_checked_for_width_and_finiteness():
    X, _ = make_data()
    assert make_classifier().fit(X).n_features_in_ == WIDTH
    with pytest.raises(ValueError, match="X has 15 features, but SageZeroShotClassifier is expecting 16 features"):
        make_classifier().fit(X[:, :15])
    bad = X.copy()
    bad[2, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or infinity in 1 of 30 rows \(2\)"):
        make_classifier().fit(bad)


def test_y_alone_gives_the_classes_without_x():
    _, y = make_data()
    clf = make_classifier(class_names=None).fit(y=y)
    assert clf.classes_.tolist() == ["bird", "fish", "tree"] and clf.n_features_in_ == WIDTH


def test_refitting_without_x_forgets_the_feature_names_of_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = make_data()
    clf = make_classifier().fit(pd.DataFrame(X, columns=[f"d{i}" for i in range(WIDTH)]), y)
    assert hasattr(clf, "feature_names_in_")
    assert not hasattr(clf.fit(), "feature_names_in_")


class MisdeclaredEncoder:
    """Says 512 features, returns 16."""

    identity, embedding_dim, logit_scale = "misdeclared", 512, 100.0

    def encode_text(self, texts):
        return np.stack([word_vector(text, WIDTH) for text in texts])


def test_an_encoder_whose_embedding_dim_disagrees_with_its_texts_is_named():
    with pytest.raises(ValueError, match="declares embedding_dim=512, but its encode_text returned 16 features"):
        make_classifier(MisdeclaredEncoder()).fit()


# ---------------------------------------------------------------- the dict defines the classes


def test_a_dict_defines_the_classes_whatever_subset_y_holds():
    X, y = make_data()
    kept = y != "tree"
    clf = make_classifier().fit(X[kept], y[kept])
    assert clf.classes_.tolist() == ["bird", "fish", "tree"]
    assert clf.predict_proba(X).shape == (30, 3)
    np.testing.assert_array_equal(clf.predict_proba(X), make_classifier().fit().predict_proba(X))


def test_integer_keys_are_the_classes_and_the_labels_predict_returns():
    X, y = make_data()
    names = {2: "oak", 0: "landbird", 1: "goldfish"}
    clf = make_classifier(class_names=names).fit()
    assert clf.classes_.tolist() == [0, 1, 2] and clf.class_names_ == ["landbird", "goldfish", "oak"]
    assert (clf.predict(X) == np.searchsorted(sorted(NAMES), y)).mean() > 0.9


def test_a_label_the_dict_does_not_name_is_an_error_naming_it():
    X, y = make_data()
    y = y.copy()
    y[:2] = "cat"
    with pytest.raises(ValueError, match=r"y holds label\(s\) \['cat'\] that class_names does not name.*\['bird',"):
        make_classifier().fit(X, y)
    with pytest.raises(ValueError, match=r"'0' in y is not 0"):  # labels keep their type
        make_classifier(class_names={0: "landbird", 1: "oak"}).fit(X[:4], ["0", "1", "0", "1"])


@pytest.mark.parametrize(
    "class_names, message",
    [
        ({}, "class_names is an empty dict"),
        ({0: "cat", "b": "dog"}, r"labels of class_names cannot be sorted: they mix the types \['int', 'str'\]"),
        ({(0, 1): "cat", (1, 2): "dog"}, "must be single values"),
    ],
)
def test_bad_dict_keys_are_errors(class_names, message):
    with pytest.raises(ValueError, match=message):
        make_classifier(class_names=class_names).fit()


def test_cross_validation_and_grid_search_give_the_same_columns_in_every_fold():
    y = np.repeat(sorted(NAMES), 10)  # unshuffled folds: each training fold misses a whole class
    X = image_embeddings(NAMES, y, width=WIDTH)

    def n_columns(estimator, X_test, y_test):
        return estimator.predict_proba(X_test).shape[1]

    folds = KFold(3)
    assert all(len(set(y[train])) == 2 for train, _ in folds.split(X))
    results = cross_validate(make_classifier(), X, y, cv=folds, scoring=n_columns, return_estimator=True)
    assert results["test_score"].tolist() == [3, 3, 3]
    assert all(estimator.classes_.tolist() == ["bird", "fish", "tree"] for estimator in results["estimator"])
    search = GridSearchCV(make_classifier(), {"k": [1, 2]}, cv=folds, scoring=n_columns, error_score="raise")
    assert search.fit(X, y).cv_results_["mean_test_score"].tolist() == [3.0, 3.0]


# ---------------------------------------------------------------- a list of names


def test_a_list_without_y_makes_the_names_the_labels():
    X, y = make_data()
    clf = make_classifier(class_names=["oak", "landbird", "goldfish"]).fit()
    assert clf.classes_.tolist() == ["goldfish", "landbird", "oak"] == clf.class_names_
    expected = np.array([NAMES[label] for label in y])
    assert (clf.predict(X) == expected).mean() > 0.9


def test_a_list_with_y_keeps_its_meaning_aligned_with_the_sorted_labels():
    X, y = make_data()
    codes = np.searchsorted(sorted(NAMES), y)
    clf = make_classifier(class_names=["landbird", "goldfish", "oak"]).fit(X, codes)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.class_names_ == ["landbird", "goldfish", "oak"]


@pytest.mark.parametrize(
    "class_names, message",
    [
        (["cat", ["dog", "puppy"]], r"Without y, a list class_names gives the labels themselves.*\['dog', 'puppy'\]"),
        (["cat", "dog", "cat"], r"lists \['cat'\] more than once"),
        (["cat", ""], r"Class name '' \(at position 1\) is ''"),  # the position in the list given, not sorted
        ("cat dog", "'class_names' parameter of SageZeroShotClassifier must be an instance of 'dict'"),
    ],
)
def test_bad_lists_without_y_are_errors(class_names, message):
    with pytest.raises(ValueError, match=message):
        make_classifier(class_names=class_names).fit()


def test_an_empty_name_is_reported_at_its_position_in_the_order_given():
    # Issue 17 item 9 (reliability case 60): the dict's own order, not the sorted labels'.
    with pytest.raises(ValueError, match=r"Class name 'bird' \(at position 2\) is ''"):
        make_classifier(class_names={"tree": "oak", "fish": "goldfish", "bird": ""}).fit()


def test_numeric_names_in_a_list_are_texts_and_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericClassNamesWarning)
        make_classifier(class_names=["1", "2"]).fit()


# ---------------------------------------------------------------- several texts per class


SEVERAL = {"bird": ["landbird", "sparrow", "songbird"], "fish": "goldfish", "tree": ["oak", "birch"]}


def expected_bank(encoder, class_names):
    """For every template: the normalised mean of the unit embeddings of its prompts, class by class."""
    rows = []
    for template in TEMPLATES:
        row = []
        for label in sorted(class_names):
            texts = class_names[label] if isinstance(class_names[label], list) else [class_names[label]]
            row.append(unit(unit(encoder.encode_text([template.format(text) for text in texts])).mean(axis=0)))
        rows.append(row)
    return np.array(rows)


def test_several_texts_per_class_average_their_unit_embeddings_template_by_template():
    encoder = WordSumEncoder(WIDTH)
    clf = make_classifier(encoder, class_names=SEVERAL).fit()
    assert clf.class_names_ == [["landbird", "sparrow", "songbird"], "goldfish", ["oak", "birch"]]
    assert clf.text_embeddings_.shape == (5, 3, WIDTH) and clf.text_embeddings_.dtype == np.float32
    np.testing.assert_allclose(clf.text_embeddings_, expected_bank(encoder, SEVERAL), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(clf.text_embeddings_, axis=-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("selection", ["sage", "ensemble", "single", "random", "text"])
def test_every_selection_works_with_several_texts(selection):
    rng = np.random.default_rng(0)
    labels = np.array(sorted(SEVERAL))[rng.integers(0, 3, size=60)]
    centres = {"bird": "sparrow", "fish": "goldfish", "tree": "birch"}
    X = np.stack([word_vector(centres[label], WIDTH) for label in labels]) + 0.05 * rng.normal(size=(60, WIDTH))
    clf = make_classifier(class_names=SEVERAL, selection=selection, k=2, random_state=0).fit()
    assert (clf.predict(X) == labels).mean() > 0.8
    assert np.isfinite(clf.predict_proba(X)).all()


def test_a_one_text_list_equals_the_plain_name():
    as_lists = make_classifier(class_names={label: [name] for label, name in NAMES.items()}).fit()
    np.testing.assert_array_equal(as_lists.text_embeddings_, make_classifier().fit().text_embeddings_)


@pytest.mark.parametrize(
    "texts, message",
    [
        ([], r"Class 'fish' \(at position 1\) has an empty list of texts"),
        (["goldfish", " "], r"Text 1 of class 'fish' \(at position 1\) is ' '"),
        (["goldfish", 3], r"Text 1 of class 'fish' \(at position 1\) is 3"),
        (3.5, r"Class name 'fish' \(at position 1\) is 3.5 \(float\)"),
    ],
)
def test_empty_lists_and_empty_texts_are_errors_naming_the_class(texts, message):
    with pytest.raises(ValueError, match=message):
        make_classifier(class_names={**NAMES, "fish": texts}).fit()


def test_a_text_shared_by_two_classes_or_repeated_in_one_warns():
    with pytest.warns(DuplicatePromptWarning, match=r"\[\['Gull', 'gull '\]\].*classes \[\['bird', 'fish'\]\]"):
        make_classifier(class_names={**NAMES, "bird": ["landbird", "Gull"], "fish": ["goldfish", "gull "]}).fit()
    with pytest.warns(DuplicatePromptWarning, match=r"\[\['oak', 'Oak'\]\].*classes \[\['tree'\]\]"):
        make_classifier(class_names={**NAMES, "tree": ["oak", "Oak"]}).fit()


def test_prompt_lengths_are_checked_for_every_text(tiny_model):
    long = "a very " * 40 + "long description"
    names = {"cat": ["cat", long], "dog": "dog"}
    clf = SageZeroShotClassifier(tiny_model, pretrained=None, templates="simple", class_names=names, device="cpu")
    with pytest.raises(ValueError, match=r"7 of 21 prompts exceed the text encoder's 77-token context: .*long descr"):
        clf.fit()


# ---------------------------------------------------------------- the text-bank cache


@pytest.fixture
def empty_text_bank_cache():
    clear_text_bank_cache()
    yield
    clear_text_bank_cache()


def test_the_bank_cache_covers_every_text_and_how_texts_group_into_classes(empty_text_bank_cache):
    encoder = WordSumEncoder(WIDTH)
    first = {"a": ["cat", "dog"], "b": "fish"}
    regrouped = {"a": "cat", "b": ["dog", "fish"]}  # the same prompts, grouped otherwise
    banks = [make_classifier(encoder, class_names=names).fit().text_embeddings_ for names in (first, regrouped)]
    assert encoder.calls() == 2
    np.testing.assert_allclose(banks[1], expected_bank(WordSumEncoder(WIDTH), regrouped), atol=1e-6)
    assert not np.allclose(banks[0], banks[1])
    another_text = {"a": ["cat", "kitten"], "b": "fish"}
    make_classifier(encoder, class_names=another_text).fit()
    assert encoder.calls() == 3
    again = make_classifier(encoder, class_names=first).fit().text_embeddings_
    assert encoder.calls() == 3  # recalled, not encoded again
    np.testing.assert_array_equal(again, banks[0])


def test_grid_search_over_several_text_sets_encodes_each_once(empty_text_bank_cache):
    X, y = make_data(n=45)
    encoder = WordSumEncoder(WIDTH)
    grid = {"class_names": [NAMES, SEVERAL], "k": [1, 2]}
    search = GridSearchCV(make_classifier(encoder), grid, cv=3).fit(X, y)
    assert encoder.calls() == 2
    assert search.best_score_ > 0.8
    assert clone(search.best_estimator_).fit().classes_.tolist() == ["bird", "fish", "tree"]


def test_a_dataframe_after_fitting_from_names_is_scored_without_a_feature_names_warning():
    pd = pytest.importorskip("pandas")
    X, _ = make_data()
    clf = make_classifier().fit()
    frame = pd.DataFrame(X, columns=[f"d{i}" for i in range(WIDTH)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.predict_proba(frame)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-12)
    with pytest.warns(UserWarning, match="fitted without feature names"):  # fitted on an array: sklearn's rule
        make_classifier().fit(X).predict(frame)


# ---------------------------------------------------------------- the command line


def test_the_cli_fits_its_classifier_from_the_class_names_alone(monkeypatch):
    from skclip_sage.cli._errors import InputError
    from skclip_sage.cli._estimators import check_prompts, check_width, fit_classifier

    calls = []
    fit = SageZeroShotClassifier.fit

    def recording_fit(self, X=None, y=None):
        calls.append((X, y))
        return fit(self, X, y)

    monkeypatch.setattr(SageZeroShotClassifier, "fit", recording_fit)
    args = argparse.Namespace(
        model=WordSumEncoder(WIDTH), pretrained=None, device="cpu", precision="auto", batch_size=8,
        cache_dir=None, quiet=True, truncate=False,
    )  # fmt: skip
    options = {"templates": TEMPLATES, "selection": "sage", "k": 1, "seed": None}
    names = [["landbird", "sparrow"], "goldfish"]
    images = np.ones((3, WIDTH))
    clf = fit_classifier(args, labels=["bird", "fish"], prompt_names=names, images=images, **options)
    assert calls == [(None, None)]  # no placeholder rows, no labels
    assert clf.classes_.tolist() == ["bird", "fish"] and clf.class_names_ == names
    width = check_prompts(args, labels=["bird", "fish"], prompt_names=names, templates=TEMPLATES)
    assert width == WIDTH and calls[-1] == (None, None)
    with pytest.raises(InputError, match="embedded with 32 features but the text embeddings .* have 16"):
        check_width(width, 32, "the model")
