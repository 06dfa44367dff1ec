"""skclip_sage.comparison: the rows, the evaluation loop and the results writers."""

import csv

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skclip_sage import SageZeroShotClassifier
from skclip_sage.comparison import ComparisonMethod, compare_methods, selection_methods, write_results
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
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert "| sage | 1 |" in markdown and "a paper (approximate)." in markdown and "a note" in markdown
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
