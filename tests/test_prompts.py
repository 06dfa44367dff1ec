"""Templates, class names and prompt lengths (skclip_sage.prompts._prompts, _class_names, _template_sets)."""

import re
import warnings

import numpy as np
import pytest

from skclip_sage import SageZeroShotClassifier
from skclip_sage.exceptions import DuplicatePromptWarning, NumericClassNamesWarning, PromptTruncationWarning
from skclip_sage.prompts._class_names import check_class_names, class_names_for, resolve_classes, sorted_labels
from skclip_sage.prompts._prompts import check_prompt_lengths, expand_prompts, resolve_templates
from skclip_sage.prompts._template_sets import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES, TEMPLATE_SETS

# ---------------------------------------------------------------- built-in sets


def test_builtin_sets_equal_open_clip_in_the_same_order():
    from open_clip import zero_shot_metadata

    assert list(OPENAI_IMAGENET_TEMPLATES) == [t("{}") for t in zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES]
    assert list(SIMPLE_IMAGENET_TEMPLATES) == [t("{}") for t in zero_shot_metadata.SIMPLE_IMAGENET_TEMPLATES]
    assert len(OPENAI_IMAGENET_TEMPLATES) == 80 and len(SIMPLE_IMAGENET_TEMPLATES) == 7


def test_builtin_sets_resolve_to_fresh_lists_of_valid_templates():
    for name, templates in TEMPLATE_SETS.items():
        resolved = resolve_templates(name)
        assert resolved == list(templates)
        resolved.append("changed {}")  # a copy: the built-in set is not modified
        assert resolve_templates(name) == list(templates)


def test_template_lists_tuples_and_arrays_are_accepted():
    assert resolve_templates(("a {}.", "b {}.")) == ["a {}.", "b {}."]
    assert resolve_templates(np.array(["a {}.", "b {}."])) == ["a {}.", "b {}."]
    assert resolve_templates(["{{literal}} {}"]) == ["{{literal}} {}"]


# ---------------------------------------------------------------- reliability 12-14


def test_a_bare_template_string_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match=re.escape("templates=['a photo of a {}.']")):
        resolve_templates("a photo of a {}.")


def test_an_unknown_set_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"not a built-in template set.*'openai_imagenet', 'simple'"):
        resolve_templates("imagenet")


@pytest.mark.parametrize(
    "template, fragment",
    [
        ("a photo of a cat.", "found 0 placeholder"),
        ("a photo of a {label}.", "{label}"),
        ("{0} and {1}", "found 2 placeholder"),
        ("{} and {}", "found 2 placeholder"),
        ("a {!r}.", "{!r}"),
        ("a {:>9}.", "{:>9}"),
        ("a photo of a {.", "unbalanced braces"),
        ("a photo of a }{}.", "unbalanced braces"),
    ],
)
def test_bad_placeholders_name_the_template_index_and_text(template, fragment):
    with pytest.raises(ValueError) as caught:
        resolve_templates(["a photo of a {}.", template])
    message = str(caught.value)
    assert "Template 1" in message and repr(template) in message and fragment in message


def test_non_string_templates_are_rejected():
    with pytest.raises(ValueError, match="Template 0 must be a string; got int"):
        resolve_templates([3])
    with pytest.raises(ValueError, match="list of strings; got int"):
        resolve_templates(3)


def test_an_empty_pool_is_rejected():
    with pytest.raises(ValueError, match="templates is empty"):
        resolve_templates([])


# ---------------------------------------------------------------- class names (reliability 7, 8)


def test_class_names_from_a_dict_a_list_or_the_labels():
    classes = np.array(["a", "b"])
    assert class_names_for(classes, {"b": "waterbird", "a": "landbird", "c": "extra"}) == ["landbird", "waterbird"]
    assert class_names_for(classes) == ["a", "b"]
    # Issue 21 section 1, the same rule as fit: by value, by position for 0..C-1, else refused.
    assert class_names_for(np.array(["dog", "cat"]), ["cat", "dog"]) == ["dog", "cat"]
    assert class_names_for(np.array([0, 1]), ["landbird", "waterbird"]) == ["landbird", "waterbird"]
    with pytest.raises(ValueError, match=r"class_names=\{'a': 'landbird', 'b': 'waterbird'\}"):
        class_names_for(classes, ["landbird", "waterbird"])


def test_a_list_paired_with_labels_warns_once_about_names_that_give_one_prompt():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolve_classes(["cat", "Cat "], np.array([0, 1]))
    assert len([warning for warning in caught if issubclass(warning.category, DuplicatePromptWarning)]) == 1


def test_numeric_labels_without_names_warn_about_the_prompts():
    with pytest.warns(NumericClassNamesWarning, match=r"\[0, 3\] are numbers.*'a photo of a 0\.'"):
        assert class_names_for(np.array([0, 3])) == ["0", "3"]


def test_numeric_labels_with_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert class_names_for(np.array([0, 1]), {0: "cat", 1: "dog"}) == ["cat", "dog"]


def test_class_names_errors():
    with pytest.raises(ValueError, match=r"no name for label\(s\) \['b'\]"):
        class_names_for(np.array(["a", "b"]), {"a": "cat"})
    with pytest.raises(ValueError, match="has 3 names but y has 2 classes"):
        class_names_for(np.array(["a", "b"]), ["x", "y", "z"])
    with pytest.raises(ValueError, match="must be a dict"):
        class_names_for(np.array(["a", "b"]), "cat dog")
    with pytest.raises(ValueError, match="must be a dict"):
        class_names_for(np.array(["a", "b"]), 3)


@pytest.mark.parametrize("names, position", [(["cat", ""], 1), (["   ", "dog"], 0), (["cat", "dog", "\t\n"], 2)])
def test_empty_class_names_are_errors_naming_the_position(names, position):
    with pytest.raises(ValueError, match=f"Class name at position {position} is"):
        check_class_names(names)


def test_non_string_class_names_are_errors():
    with pytest.raises(ValueError, match=r"position 1 is 3 \(int\); give a string or a list of strings"):
        check_class_names(["cat", 3])


def test_names_that_collapse_to_one_prompt_warn_naming_them():
    with pytest.warns(DuplicatePromptWarning) as caught:
        assert check_class_names(["cat", "Cat", " cat", "dog"]) == ["cat", "Cat", " cat", "dog"]
    assert len(caught) == 1
    assert "['cat', 'Cat', ' cat']" in str(caught[0].message)


def test_distinct_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_class_names(["cat", "cats", "big cat"])


def test_resolve_classes_from_a_dict_a_list_or_the_labels():
    classes, texts = resolve_classes({"b": ["waterbird", "duck"], "a": "landbird"}, np.array(["b"]))
    assert classes.tolist() == ["a", "b"] and texts == ["landbird", ["waterbird", "duck"]]
    classes, texts = resolve_classes(("dog", "cat"))
    assert classes.tolist() == ["cat", "dog"] == texts
    classes, texts = resolve_classes([["a cat"], "dog"], np.array([0, 1]))
    assert classes.tolist() == [0, 1] and texts == [["a cat"], "dog"]
    # Issue 21 section 1: integer labels other than 0..C-1 are not paired by position.
    with pytest.raises(ValueError, match=r"Say it with a dict; .*class_names=\{3: \['a cat'\], 5: 'dog'\}"):
        resolve_classes([["a cat"], "dog"], np.array([3, 5]))
    with pytest.raises(ValueError, match="The classes come from y or from class_names"):
        resolve_classes(None)


def test_sorted_labels_explain_none_and_mixed_types():
    assert sorted_labels(np.array([2, 1, 2])).tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"y holds None at 1 of 3 positions \(2\)"):
        sorted_labels(np.array(["a", "b", None], dtype=object))
    with pytest.raises(ValueError, match=r"mix the types \['float', 'str'\]"):
        sorted_labels(np.array(["a", 1.5], dtype=object))


# ---------------------------------------------------------------- expansion and lengths


def test_a_class_with_several_texts_takes_one_prompt_per_text_in_place():
    assert expand_prompts(["a {}.", "art of a {}."], [["cat", "kitten"], "dog"]) == [
        "a cat.",
        "a kitten.",
        "a dog.",
        "art of a cat.",
        "art of a kitten.",
        "art of a dog.",
    ]


def test_prompts_are_template_major_and_keep_braces_in_names():
    assert expand_prompts(["a {}.", "art of a {}."], ["cat", "{x}"]) == [
        "a cat.",
        "a {x}.",
        "art of a cat.",
        "art of a {x}.",
    ]


def test_prompt_length_check():
    check_prompt_lengths(["a", "b"], [5, 77], 77, truncate=False)  # at the limit is fine
    with pytest.raises(ValueError, match=r"1 of 2 prompts exceed .*77-token context: 'b' \(78 tokens\).*truncate=True"):
        check_prompt_lengths(["a", "b"], [5, 78], 77, truncate=False)
    with pytest.warns(PromptTruncationWarning, match=r"1 of 2 prompts .*'b' \(78 tokens\)"):
        check_prompt_lengths(["a", "b"], [5, 78], 77, truncate=True)


# ---------------------------------------------------------------- reliability 15 with a real tokenizer


LONG_NAME = " ".join(["extraordinarily"] * 40)


def test_prompts_longer_than_the_context_raise_listing_prompt_and_count(tiny_model):
    clf = SageZeroShotClassifier(tiny_model, pretrained=None, templates=["a photo of a {}."], device="cpu")
    X = np.random.default_rng(0).normal(size=(4, 32))
    with pytest.raises(ValueError) as caught:
        clf.fit(X, ["short", LONG_NAME, "short", LONG_NAME])
    message = str(caught.value)
    assert "1 of 2 prompts exceed the text encoder's 77-token context" in message
    assert f"'a photo of a {LONG_NAME}.'" in message
    assert re.search(r"\((\d+) tokens\)", message) and int(re.search(r"\((\d+) tokens\)", message)[1]) > 77
    assert "truncate=True" in message


def test_truncate_true_warns_once_and_fits(tiny_model):
    clf = SageZeroShotClassifier(
        tiny_model, pretrained=None, templates=["a photo of a {}.", "art of a {}."], truncate=True, device="cpu"
    )
    X = np.random.default_rng(0).normal(size=(4, 32))
    with pytest.warns(PromptTruncationWarning) as caught:
        clf.fit(X, ["short", LONG_NAME, "short", LONG_NAME])
    assert len(caught) == 1
    assert "2 of 4 prompts exceed the 77-token context and were truncated" in str(caught[0].message)
    assert clf.text_embeddings_.shape == (2, 2, 32) and np.isfinite(clf.text_embeddings_).all()


# ---------------------------------------------------------------- issue 23 section 4: template files in Python

TEMPLATE_FILE = "\ufeff# my templates\n\na photo of a {}.\n   # an indented comment\n  a sketch of the {}.  \n\n"


def test_a_path_is_read_as_the_cli_reads_templates(tmp_path):
    from pathlib import Path

    from skclip_sage.cli._text_inputs import resolve_templates_option
    from skclip_sage.prompts import read_template_file

    path = tmp_path / "mine.txt"
    path.write_text(TEMPLATE_FILE, encoding="utf-8")
    expected = ["a photo of a {}.", "a sketch of the {}."]
    assert read_template_file(path) == read_template_file(str(path)) == expected
    assert resolve_templates(Path(path)) == resolve_templates_option(str(path)) == expected


def test_a_classifier_takes_templates_as_a_path(tmp_path, hash_encoder):
    path = tmp_path / "mine.txt"
    path.write_text(TEMPLATE_FILE, encoding="utf-8")
    from_file = SageZeroShotClassifier(hash_encoder, templates=path, class_names=["cat", "dog"]).fit()
    from_list = SageZeroShotClassifier(
        hash_encoder, templates=["a photo of a {}.", "a sketch of the {}."], class_names=["cat", "dog"]
    ).fit()
    assert from_file.templates_ == from_list.templates_
    np.testing.assert_array_equal(from_file.text_embeddings_, from_list.text_embeddings_)


def test_a_bad_template_file_names_its_line_and_a_file_path_string_hints_at_path(tmp_path):
    from pathlib import Path

    from skclip_sage.prompts import read_template_file

    path = tmp_path / "bad.txt"
    path.write_text("# header\na photo of a {}.\na photo of {} and {}.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"templates file '.*bad.txt' line 3: template 'a photo of \{\} and \{\}\.'"):
        read_template_file(Path(path))
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="is empty"):
        resolve_templates(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_templates(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match=r"pass a path object: templates=pathlib.Path"):
        resolve_templates(str(path))
