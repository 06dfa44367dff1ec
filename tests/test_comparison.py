"""skclip_sage.comparison: the rows, the evaluation loop and the results writers."""

import csv

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skclip_sage import SageZeroShotClassifier
from skclip_sage.comparison import (
    WRITER_FILE,
    ComparisonMethod,
    ResultsOverwriteError,
    check_results_folder,
    compare_methods,
    selection_methods,
    single_template_methods,
    write_results,
)
from skclip_sage.synthetic import make_spurious_benchmark

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def simulation():
    return make_spurious_benchmark("theory_holds", 300, n_templates=6, seed=1)


def classifier(simulation, **parameters):
    return SageZeroShotClassifier(
        simulation.encoder,
        templates=simulation.templates,
        class_names=simulation.class_names,
        device="cpu",
        **parameters,
    )


def test_selection_methods_clip_k_to_the_pool_and_drop_duplicates(simulation):
    methods = selection_methods(
        simulation.encoder, class_names=simulation.class_names, templates=simulation.templates, k_values=(1, 5, 6, 80)
    )
    assert [(method.name, method.k) for method in methods] == [
        ("single", 1),
        ("ensemble", 6),
        *((mode, k) for mode in ("random", "random_with_replacement", "text", "sage") for k in (1, 5, 6)),
        *((mode, 6) for mode in ("score_average", "autoclip", "zpe", "perception")),
    ]
    assert all(method.estimator.random_state == 0 for method in methods)
    assert methods[-5].estimator.get_params()["k"] == 6
    with pytest.raises(ValueError, match="every K must be >= 1"):
        selection_methods("ViT-B-32", class_names=["a", "b"], k_values=(0,))


def test_rows_match_the_classifier_and_robustness_report(simulation):
    from skclip_sage.metrics import robustness_report

    methods = [ComparisonMethod("sage", classifier(simulation), k=1)]
    (row,) = compare_methods(
        methods, simulation.data, simulation.target, groups=simulation.groups, group_names=simulation.group_names
    )
    y_pred = classifier(simulation).fit(simulation.data, simulation.target).predict(simulation.data)
    report = robustness_report(simulation.target, y_pred, groups=simulation.groups, group_names=simulation.group_names)
    expected = dict(zip(report["name"], 100 * report["value"]))
    assert row["WGA"] == pytest.approx(expected["WGA"]) and row["Avg"] == pytest.approx(expected["Avg"])
    assert row["groups"] == pytest.approx({name: expected[name] for name in simulation.group_names})
    assert row["worst_group"] == min(simulation.group_names, key=expected.__getitem__)
    assert (row["n_templates"], row["n_images"], row["fit_on"]) == (6, 300, "evaluation")


def test_a_named_group_without_samples_is_reported_but_never_the_worst(simulation):
    # The first group's images are left out: it has no accuracy, and the worst group is among the others
    # (first, because a NaN first in line is what a plain min() would keep).
    kept = simulation.groups != simulation.groups.min()
    methods = [ComparisonMethod("sage", classifier(simulation), k=1)]
    (row,) = compare_methods(
        methods,
        simulation.data[kept],
        simulation.target[kept],
        groups=simulation.groups[kept],
        group_names=dict(enumerate(simulation.group_names)),
    )
    empty = simulation.group_names[0]
    assert np.isnan(row["groups"][empty])
    present = {name: value for name, value in row["groups"].items() if name != empty}
    assert row["worst_group"] == min(present, key=present.__getitem__)
    assert row["WGA"] == pytest.approx(min(present.values()))


def test_train_split_methods_fit_on_x_train(simulation):
    seen = []

    def record(X):
        seen.append(len(X))
        return X

    pipeline = make_pipeline(FunctionTransformer(record), classifier(simulation, selection="single"))
    methods = [ComparisonMethod("recorded", pipeline, fit_on="train")]
    with pytest.raises(ValueError, match="pass X_train and y_train"):
        compare_methods(methods, simulation.data, simulation.target, groups=simulation.groups)
    X_train, y_train = simulation.data[:50], simulation.target[:50]
    (row,) = compare_methods(
        methods, simulation.data, simulation.target, groups=simulation.groups, X_train=X_train, y_train=y_train
    )
    # fit saw the 50 training rows, predict the 300 evaluated ones; the pipeline's classifier names the pool.
    assert seen == [50, 300] and row["n_templates"] == 6 and row["fit_on"] == "train"


def test_methods_are_validated():
    with pytest.raises(ValueError, match="fit_on must be one of"):
        ComparisonMethod("x", SageZeroShotClassifier(), fit_on="test")
    with pytest.raises(ValueError, match="must have fit and predict"):
        ComparisonMethod("x", object())
    for template in (-1, 1.0, True, "0"):
        with pytest.raises(ValueError, match="template must be None or a template's index"):
            ComparisonMethod("single", SageZeroShotClassifier(), template=template)
    with pytest.raises(ValueError, match="at least one method"):
        compare_methods([], np.zeros((2, 2)), [0, 1], groups=[0, 1])


def test_write_results_puts_published_numbers_beside_their_rows(simulation, tmp_path):
    methods = selection_methods(
        simulation.encoder,
        class_names=simulation.class_names,
        templates=simulation.templates,
        modes=("single", "sage"),
        k_values=(1, 3),
        device="cpu",
    )
    rows = compare_methods(methods, simulation.data, simulation.target, groups=simulation.groups)

    def paper(row):
        return {"Avg": 80.0, "WGA": 50.0, "source": "a paper"} if row["mode"] == "sage" and row["k"] == 1 else {}

    written = write_results(tmp_path / "out", rows, title="toy", model="sim", notes=["a note"], paper_numbers=paper)
    assert [path.name for path in written] == ["results.csv", "results.md", "results.png"]
    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [(line["mode"], line["k"], line["paper_WGA"], line["paper_Avg"]) for line in table] == [
        ("single", "1", "", ""),
        ("sage", "1", "50.0", "80.0"),
        ("sage", "3", "", ""),
    ]
    assert {f"group_accuracy[{group}]" for group in range(4)} <= set(table[0])
    # Columns no row fills are left out: no paper HM, no pretrained tag, no template columns.
    assert not {"paper_HM", "pretrained", "template", "source", "dataset"} & set(table[0])
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| sage | 1 |" in markdown and "a paper (approximate)." in markdown and "a note" in markdown
    assert "| Mode | K | Avg | WGA | Gap | HM | Worst group | Paper Avg | Paper WGA |\n" in markdown
    assert (tmp_path / "out" / "results.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="at least one row"):
        write_results(tmp_path, [], title="t", model="m")


def test_debias_methods_build_every_row_with_the_classifiers_model(simulation):
    from sklearn.pipeline import Pipeline

    from skclip_sage.comparison import DEBIAS_MODES, debias_methods

    methods = debias_methods(
        simulation.encoder,
        class_names=simulation.class_names,
        templates=simulation.templates,
        concepts=simulation.concepts,
        lam=50.0,
        sage_k=3,
        device="cpu",
    )
    assert [(method.name, method.k) for method in methods] == [
        ("roboshot", 1),
        ("tie*", 1),
        ("orth_proj", 1),
        ("orth_cali", 1),
        ("roboshot+sage", 3),
        ("orth_cali+sage", 3),
    ]
    assert tuple(method.name for method in methods) == DEBIAS_MODES
    by_name = {method.name: method.estimator for method in methods}
    assert isinstance(by_name["roboshot"], Pipeline) and by_name["roboshot"][0].model is simulation.encoder
    assert by_name["roboshot"][0].device == "cpu"  # encoder parameters reach the transformers
    assert by_name["orth_proj"].text_debias.lam == 0.0 and by_name["orth_cali"].text_debias.lam == 50.0
    assert by_name["orth_cali+sage"].get_params()["selection"] == "sage"
    assert "training-split" in methods[1].description
    with pytest.raises(ValueError, match="unknown modes"):
        debias_methods("ViT-B-32", class_names=["a", "b"], concepts="waterbirds", modes=("tie",))
    with pytest.raises(ValueError, match="is not a preset"):
        debias_methods("ViT-B-32", class_names=["a", "b"], concepts="imagenet")
    with pytest.raises(ValueError, match="concepts lacks"):
        debias_methods("ViT-B-32", class_names=["a", "b"], concepts={"harmful": []})


def pooled(simulation):
    """The simulation's pool with a source per template: odd templates 'clean', even ones 'leaky'."""
    return ["clean" if index % 2 else "leaky" for index in range(len(simulation.templates))]


def test_single_template_methods_one_row_per_template_grouped_by_source(simulation):
    sources = pooled(simulation)
    methods = single_template_methods(
        simulation.encoder,
        class_names=simulation.class_names,
        templates=simulation.templates,
        template_sources=sources,
        device="cpu",
    )
    assert [(method.name, method.k, method.template, method.source) for method in methods] == [
        ("single", 1, index, sources[index]) for index in (0, 2, 4, 1, 3, 5)
    ]
    assert all(method.estimator.templates == [simulation.templates[method.template]] for method in methods)
    plain = single_template_methods(
        simulation.encoder, class_names=simulation.class_names, templates=["a {}.", "b {}."]
    )
    assert [(method.template, method.source) for method in plain] == [(0, None), (1, None)]
    with pytest.raises(ValueError, match="template_sources has 2 entries but the pool has 6"):
        single_template_methods(
            "m", class_names=["a", "b"], templates=simulation.templates, template_sources=["x", "y"]
        )
    with pytest.raises(ValueError, match="non-empty string"):
        single_template_methods("m", class_names=["a", "b"], templates=["a {}.", "b {}."], template_sources=["x", ""])


def test_rows_carry_templates_subset_accuracies_and_selection_shares(simulation):
    sources = pooled(simulation)
    shared = {"class_names": simulation.class_names, "templates": simulation.templates, "device": "cpu"}
    methods = single_template_methods(simulation.encoder, template_sources=sources, **shared)
    methods += selection_methods(simulation.encoder, modes=("ensemble", "text", "sage"), k_values=(1, 3), **shared)
    minority = np.isin(simulation.groups, [1, 2])
    subsets = {"majority groups": ~minority, "minority groups": minority}
    rows = compare_methods(
        methods,
        simulation.data,
        simulation.target,
        groups=simulation.groups,
        subsets=subsets,
        template_sources=sources,
    )
    by_template = {row["template"]: row for row in rows if row["template"] is not None}
    assert by_template[3]["template_text"] == simulation.templates[3] and by_template[3]["source"] == "clean"
    # Subset accuracy is the accuracy over the subset's images.
    sage = classifier(simulation, selection="sage", k=1).fit(simulation.data, simulation.target)
    y_pred = sage.predict(simulation.data)
    (row,) = [row for row in rows if row["mode"] == "sage" and row["k"] == 1]
    assert row["subsets"]["minority groups"] == pytest.approx(
        100 * np.mean(y_pred[minority] == simulation.target[minority])
    )
    # Selection shares: the sources of the templates each image was classified with.
    chosen = np.asarray(sources)[sage.selected_templates(simulation.data)[:, 0]]
    (majority_shares, minority_shares) = row["selections"]
    assert (minority_shares["subset"], minority_shares["n_images"]) == ("minority groups", int(minority.sum()))
    assert minority_shares["shares"]["clean"] == pytest.approx(100 * np.mean(chosen[minority] == "clean"))
    assert majority_shares["shares"]["leaky"] == pytest.approx(100 * np.mean(chosen[~minority] == "leaky"))
    # Only per-image choices have shares: not single templates, the ensemble or text's one fixed set.
    assert [row["mode"] for row in rows if row["selections"] is not None] == ["sage", "sage"]
    with pytest.raises(ValueError, match="must be a boolean mask over the 300 evaluated images"):
        compare_methods(methods[:1], simulation.data, simulation.target, groups=simulation.groups, subsets={"a": [1]})


def test_selection_shares_need_one_source_per_template_of_the_pool(simulation):
    methods = [ComparisonMethod("sage", classifier(simulation, selection="sage"))]
    with pytest.raises(
        ValueError, match="template_sources names 2 templates but the 'sage' classifier has a pool of 6"
    ):
        compare_methods(
            methods, simulation.data, simulation.target, groups=simulation.groups, template_sources=["a", "b"]
        )


def test_write_results_with_templates_subsets_and_selections(simulation, tmp_path):
    sources = pooled(simulation)
    shared = {"class_names": simulation.class_names, "templates": simulation.templates, "device": "cpu"}
    methods = single_template_methods(simulation.encoder, template_sources=sources, **shared)
    methods += selection_methods(simulation.encoder, modes=("ensemble", "random", "sage"), k_values=(1, 2), **shared)
    minority = np.isin(simulation.groups, [1, 2])
    rows = compare_methods(
        methods,
        simulation.data,
        simulation.target,
        groups=simulation.groups,
        subsets={"majority groups": ~minority, "minority groups": minority},
        template_sources=sources,
    )
    written = write_results(tmp_path, rows, title="toy", model="sim", writer="a test")
    assert [path.name for path in written] == ["results.csv", "results.md", "selections.csv", "results.png"]
    with open(tmp_path / "results.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [line["template"] for line in table[:6]] == ["0", "2", "4", "1", "3", "5"]
    assert table[0]["source"] == "leaky" and table[0]["template_text"] == simulation.templates[0]
    assert table[6]["template"] == "" and table[6]["mode"] == "ensemble"
    assert {"accuracy[majority groups]", "accuracy[minority groups]"} <= set(table[0])
    assert not [column for column in table[0] if column.startswith("paper_")]
    with open(tmp_path / "selections.csv", newline="", encoding="utf-8") as handle:
        shares = list(csv.DictReader(handle))
    assert list(shares[0]) == ["mode", "k", "subset", "n_images", "share[leaky]", "share[clean]"]
    assert [(line["mode"], line["k"]) for line in shares] == [
        (mode, k) for mode in ("random", "sage") for k in ("1", "2") for _ in range(2)
    ]
    for line in shares:
        assert float(line["share[leaky]"]) + float(line["share[clean]"]) == pytest.approx(100.0, abs=0.02)
    markdown = (tmp_path / "results.md").read_text()
    assert "| Mode | K | Template | Source | Avg | WGA | Majority groups | Minority groups | Gap | HM |" in markdown
    assert f"| single | 1 | 3: {simulation.templates[3]} | clean |" in markdown
    assert (
        "Where the per-image selections took their templates from" in markdown
        and "sage K=1 (majority groups: leaky " in markdown
    )
    assert (tmp_path / WRITER_FILE).read_text() == "a test\n"
    # A later run without shares or plot leaves no file of this one behind.
    write_results(tmp_path, rows[6:7], title="toy", model="sim", writer="a test", plot=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results.csv", "results.md", WRITER_FILE]


def test_results_of_another_writer_are_refused_unless_forced(simulation, tmp_path):
    methods = [ComparisonMethod("sage", classifier(simulation, selection="sage"))]
    rows = compare_methods(methods, simulation.data, simulation.target, groups=simulation.groups)
    write_results(tmp_path, rows, title="toy", model="sim", writer="one command", plot=False)
    before = (tmp_path / "results.md").read_text()
    check_results_folder(tmp_path, "one command")  # its own results: rewritten freely
    with pytest.raises(ResultsOverwriteError, match="written by one command, not another command") as error:
        write_results(tmp_path, rows, title="changed", model="sim", writer="another command", plot=False)
    assert [path.rsplit("/", 1)[-1] for path in error.value.paths] == ["results.md", "results.csv"]
    assert (tmp_path / "results.md").read_text() == before
    import pickle

    assert pickle.loads(pickle.dumps(error.value)).paths == error.value.paths
    write_results(tmp_path, rows, title="changed", model="sim", writer="another command", plot=False, force=True)
    assert (tmp_path / WRITER_FILE).read_text() == "another command\n"
    (tmp_path / WRITER_FILE).unlink()
    with pytest.raises(ResultsOverwriteError, match="unknown command"):
        check_results_folder(tmp_path, "another command")
    check_results_folder(tmp_path / "new", "anyone")  # nothing there yet


def test_a_k_beyond_the_pool_is_refused_as_the_classifier_refuses_it_or_runs_as_all(caplog):
    # Issue 22: whether K fits the pool is decided in one place (selection.check_k).
    import logging

    from skclip_sage import SageZeroShotClassifier
    from skclip_sage.comparison import selection_methods

    names = ["cat", "dog"]
    with pytest.raises(ValueError) as classifier_error:
        SageZeroShotClassifier("ViT-B-32", templates="simple", class_names=names, k=10).fit()
    with pytest.raises(ValueError) as comparison_error:
        selection_methods(
            "ViT-B-32", class_names=names, templates="simple", modes=("sage",), k_values=(1, 10), k_beyond_pool="raise"
        )
    assert str(comparison_error.value) == str(classifier_error.value)
    assert "k=10 is larger than the template pool: choose 1 <= k <= 7" in str(comparison_error.value)
    # The default keeps the paper's K list runnable on any pool: K beyond it is all of it, logged.
    with caplog.at_level(logging.INFO, logger="skclip_sage.comparison"):
        methods = selection_methods(
            "ViT-B-32", class_names=names, templates="simple", modes=("sage",), k_values=(1, 10)
        )
    assert [method.k for method in methods] == [1, 7]
    assert "K=[10] beyond the 7 templates run as K=7" in caplog.text
    with pytest.raises(ValueError, match="k_beyond_pool must be 'all' or 'raise'"):
        selection_methods("ViT-B-32", class_names=names, k_beyond_pool="clip")
