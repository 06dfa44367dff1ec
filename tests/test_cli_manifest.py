"""Tests for ``skclip-sage evaluate manifest`` and the one manifest reader behind it and ``classify --manifest``.

Also the empty groups of every report output (RELIABILITY case 36) and the
options checked before any model work (case 40). Commands run in this process
with the tiny ``local-dir:`` model, loaded once.
"""

from __future__ import annotations

import csv
import json

import pytest
from dataset_fixtures import make_image_folder, write_image

from skclip_sage.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def model_options(tiny_model):
    return ["--model", tiny_model, "--pretrained", "none", "--templates", "simple", "-q"]


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture
def mine(tmp_path):
    """``data/mine.csv`` naming images relative to its folder, absolutely, through a symlink
    and one unreadable; ``data/names.json`` with several texts for one class."""
    data = tmp_path / "data"
    make_image_folder(data / "img", classes=("cat", "dog"), n_per_class=2)
    outside = tmp_path / "elsewhere"
    write_image(outside / "far.png", (10, 200, 10))
    (data / "img" / "linked.png").symlink_to(outside / "far.png")
    (data / "img" / "broken.png").write_text("not an image")
    rows = [
        ("img/cat/cat_000.png", "cat", "indoor", "a"),
        ("img/cat/cat_001.png", "cat", "outdoor", "b"),
        (str(data / "img" / "dog" / "dog_000.png"), "dog", "indoor", "c"),  # absolute: the user's choice
        ("img/linked.png", "dog", "outdoor", "d"),  # a symlink leading out of the folder
        ("img/broken.png", "dog", "beach", "e"),  # the only image of group "beach"
    ]
    lines = ["file,species,place,note"] + [",".join(row) for row in rows]
    (data / "mine.csv").write_text("\n".join(lines) + "\n")
    (data / "names.json").write_text(json.dumps({"cat": ["cat", "kitten"], "dog": "dog"}))
    return data


def test_evaluate_manifest_end_to_end(mine, tmp_path, tiny_model, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the CSV's relative paths resolve against its folder, not here
    out = tmp_path / "out"
    out.mkdir()
    code = main(
        [
            "evaluate",
            "manifest",
            str(mine / "mine.csv"),
            "--path-column",
            "file",
            "--label-column",
            "species",
            "--group-column",
            "place",
            "--class-names",
            str(mine / "names.json"),
            "--compare",
            "sage,ensemble",
            "--k",
            "1",
            "2",
            "--on-error",
            "skip",
            "--json",
            str(out / "report.json"),
            "--csv",
            str(out / "report.csv"),
            "--predictions",
            str(out / "predictions.csv"),
            "--plot",
            str(out / "groups.png"),
            *model_options(tiny_model),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1, captured.err  # one image skipped
    table = captured.out
    # Rows counted as the user counts them (issue 23 section 6): 5 rows, 1 left out, 4 evaluated.
    assert "manifest: 5 images, 1 gave no embedding and left out (listed in" in table and ", 4 evaluated;" in table
    assert str(out / "report.failures.csv") in table and str(out / "predictions.csv") in table
    assert "beach (n=0)" in table and "no samples" in table
    assert "note: WGA excludes 1 group with no samples: 'beach'" in table

    report = json.loads((out / "report.json").read_text())
    # What was loaded: the local-dir: model ignores pretrained, so none is recorded (issue 23 section 6).
    assert report["model"] == tiny_model and report["pretrained"] is None and report["library"] == "open_clip"
    assert report["class_prompts"] == [["cat", "kitten"], "dog"]
    assert [run["label"] for run in report["runs"]] == ["sage k=1", "sage k=2", "ensemble"]
    for run in report["runs"]:
        groups = {group["name"]: group for group in run["groups"]}
        assert list(groups) == ["beach", "indoor", "outdoor"]
        assert groups["beach"] == {"name": "beach", "count": 0, "accuracy": None, "no_samples": True}
        assert run["summary"]["WGA"] == min(groups[name]["accuracy"] for name in ("indoor", "outdoor"))
        assert "beach" in run["summary_notes"]["WGA"]
    beach = [row for row in read_rows(out / "report.csv") if row["name"] == "beach"]
    assert len(beach) == 3 and all(row["value"] == "" and row["note"] == "no samples" for row in beach)

    predictions = read_rows(out / "predictions.csv")
    assert [row["path"] for row in predictions] == [
        row.split(",")[0] for row in (mine / "mine.csv").read_text().splitlines()[1:]
    ]
    assert [row["label"] for row in predictions] == ["cat", "cat", "dog", "dog", "dog"]
    assert [row["group"] for row in predictions] == ["indoor", "outdoor", "indoor", "outdoor", "beach"]
    assert [bool(row["error"]) for row in predictions] == [False] * 4 + [True]
    assert "cannot identify image file" in predictions[4]["error"]
    assert predictions[4]["sage_k1_prediction"] == "" and predictions[4]["ensemble_probability"] == ""
    for row in predictions[:4]:
        assert row["sage_k2_prediction"] in ("cat", "dog") and 0.5 <= float(row["sage_k2_probability"]) <= 1
        assert len(json.loads(row["sage_k2_template_indices"])) == 2
    assert "ensemble_template_indices" not in predictions[0]
    sidecar = json.loads((out / "predictions.templates.json").read_text())
    assert sidecar["same_for_every_image"] == {"ensemble": list(range(7))} and len(sidecar["templates"]) == 7
    assert (out / "groups.png").read_bytes()[:8] == PNG_SIGNATURE
    assert [row["path"] for row in read_rows(out / "report.failures.csv")] == ["img/broken.png"]


def test_evaluate_manifest_default_columns_and_groups_from_labels(tmp_path, tiny_model, capsys):
    make_image_folder(tmp_path / "img", classes=("cat", "dog"), n_per_class=1)
    (tmp_path / "m.csv").write_text("path,label\nimg/cat/cat_000.png,cat\nimg/dog/dog_000.png,dog\n")
    code = main(["evaluate", "manifest", str(tmp_path / "m.csv"), "--compare", "single", *model_options(tiny_model)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "cat (n=1)" in captured.out and "dog (n=1)" in captured.out


@pytest.mark.parametrize("command", ["classify", "evaluate"])
def test_manifest_row_with_wrong_number_of_fields_names_its_line(tmp_path, command, capsys):
    # RELIABILITY case 40 / issue 10 item 9: the extra field would shift the columns.
    (tmp_path / "m.csv").write_text("path,label\na.png,cat\n\nb.png,dog,extra\n")
    arguments = {
        "classify": ["classify", "--manifest", str(tmp_path / "m.csv"), "--classes", "cat", "dog"],
        "evaluate": ["evaluate", "manifest", str(tmp_path / "m.csv")],
    }[command]
    assert main([*arguments, "--model", "local-dir:/no/such/model"]) == 3
    err = capsys.readouterr().err
    assert "m.csv' line 4: expected 2 fields like the header, got 3" in err and "loading model" not in err


def test_classify_manifest_paths_resolve_against_its_folder(tmp_path, tiny_model, capsys, monkeypatch):
    # RELIABILITY case 40: relative to the manifest, whatever the working folder;
    # absolute entries and '..' are the user's choice and are read.
    make_image_folder(tmp_path / "shared" / "img", classes=("cat",), n_per_class=2)
    (tmp_path / "lists").mkdir()
    absolute = tmp_path / "shared" / "img" / "cat" / "cat_001.png"
    (tmp_path / "lists" / "m.csv").write_text(f"path\n../shared/img/cat/cat_000.png\n{absolute}\n")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    code = main(["classify", "--manifest", "../lists/m.csv", "--classes", "cat", "dog", *model_options(tiny_model)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = list(csv.DictReader(captured.out.splitlines()))
    assert [row["path"] for row in rows] == ["../shared/img/cat/cat_000.png", str(absolute)]


def test_evaluate_folder_reports_a_group_whose_images_all_failed(tmp_path, tiny_model, capsys):
    # issue 10 item 5 / RELIABILITY case 36: every d2/dog image unreadable.
    root = make_image_folder(tmp_path / "ds", classes=("cat", "dog"), n_per_class=2, domains=("d1", "d2"))
    for path in (root / "d2" / "dog").iterdir():
        path.write_text("unreadable")
    code = main(
        [
            "evaluate",
            "folder",
            str(root),
            "--domain-folders",
            "--on-error",
            "skip",
            "--compare",
            "single",
            "--json",
            str(tmp_path / "r.json"),
            "--plot",
            str(tmp_path / "g.png"),
            *model_options(tiny_model),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "d2/dog (n=0)" in captured.out and "WGA excludes 1 group with no samples: 'd2/dog'" in captured.out
    groups = json.loads((tmp_path / "r.json").read_text())["runs"][0]["groups"]
    assert [group["name"] for group in groups] == ["d1/cat", "d1/dog", "d2/cat", "d2/dog"]
    assert groups[3]["no_samples"] and groups[3]["count"] == 0
    assert (tmp_path / "g.png").read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--class-names", "names.txt"], "must be a .json or .csv file"),
        (["--class-names", "bad.json"], "must hold one JSON object"),
        (["--class-names", "short.json"], "class_names gives no text for the label(s) ['dog']"),
    ],
)
def test_evaluate_manifest_class_names_errors(tmp_path, arguments, message, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.csv").write_text("path,label\na.png,cat\nb.png,dog\n")
    (tmp_path / "names.txt").write_text("cat\n")
    (tmp_path / "bad.json").write_text('["cat", "dog"]')
    (tmp_path / "short.json").write_text('{"cat": "a cat"}')
    code = main(["evaluate", "manifest", "m.csv", *arguments, "--model", "local-dir:/no/such/model"])
    err = capsys.readouterr().err
    assert code in (2, 3) and message in err and "loading model" not in err


def test_class_names_csv_collects_several_texts(tmp_path):
    from skclip_sage.cli._text_inputs import read_class_names_file

    (tmp_path / "names.csv").write_text("label,text\ncat,cat\ndog,dog\ncat,kitten\n")
    assert read_class_names_file(str(tmp_path / "names.csv")) == {"cat": ["cat", "kitten"], "dog": "dog"}


def test_truncate_option_reaches_the_classifier(tmp_path, tiny_model, capsys):
    write_image(tmp_path / "a.png", (1, 2, 3))
    long_name = " ".join(["enormous"] * 90)  # far beyond the 77-token context
    arguments = ["classify", str(tmp_path / "a.png"), "--classes", "cat", long_name, *model_options(tiny_model)]
    assert main(arguments) == 3
    assert "(--truncate on the command line)" in capsys.readouterr().err
    assert main([*arguments, "--truncate"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "truncated" in err


# --- issue 17: manifests taken as written, and checked before any image is embedded ----------


def test_a_path_cell_with_a_leading_space_names_that_file(tmp_path, tiny_model, capsys):
    # Issue 17 item 7 (reliability case 46): the cell used to be stripped, reading 'lead.png' instead.
    write_image(tmp_path / " lead.png", (200, 10, 10))
    write_image(tmp_path / "lead.png", (10, 200, 10))
    (tmp_path / "m.csv").write_text('path,label\n" lead.png",cat\n')
    code = main(
        ["classify", "--manifest", str(tmp_path / "m.csv"), "--classes", "cat", "dog", "-o", "-"]
        + model_options(tiny_model)
        + ["--on-error", "skip", "--failures", str(tmp_path / "f.csv")]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (row,) = csv.DictReader(captured.out.splitlines())
    assert row["path"] == " lead.png"
    (tmp_path / " lead.png").unlink()  # now only 'lead.png' exists: the row must fail, not read it
    assert (
        main(
            ["classify", "--manifest", str(tmp_path / "m.csv"), "--classes", "cat", "dog", "-o", "-"]
            + model_options(tiny_model)
            + ["--on-error", "skip", "--failures", str(tmp_path / "f.csv")]
        )
        == 3
    )
    assert read_rows(tmp_path / "f.csv")[0]["path"] == " lead.png"


@pytest.mark.parametrize("column", ["predicted_class", "probability_cat", "path", "templates"])
def test_a_manifest_column_named_like_an_output_column_is_refused(tmp_path, column, capsys):
    # Issue 17 item 7 (reliability case 47): the output column used to replace the manifest's silently.
    (tmp_path / "m.csv").write_text(f"file,{column}\na.png,x\n")
    arguments = ["classify", "--manifest", str(tmp_path / "m.csv"), "--path-column", "file", "--classes", "cat", "dog"]
    assert main([*arguments, "--model", "local-dir:/no/such/model"]) == 3
    err = capsys.readouterr().err
    assert f"has the column(s) ['{column}'], which classify writes itself" in err and "/no/such" not in err


def test_duplicate_labels_in_a_class_names_json_are_an_error_naming_the_label(tmp_path, capsys):
    # Issue 17 item 7 (reliability case 48): JSON keeps the last of two entries, silently.
    (tmp_path / "m.csv").write_text("path,label\na.png,cat\nb.png,dog\n")
    (tmp_path / "names.json").write_text('{"cat": "a cat", "dog": "a dog", "cat": "a kitten"}')
    code = main(
        ["evaluate", "manifest", str(tmp_path / "m.csv"), "--class-names", str(tmp_path / "names.json")]
        + ["--model", "local-dir:/no/such/model"]
    )
    err = capsys.readouterr().err
    assert code == 3 and "gives the label 'cat' more than once" in err


@pytest.mark.parametrize("problem", ["one label", "prompt too long", "empty text"])
def test_evaluate_checks_labels_and_prompts_before_any_image_is_embedded(tmp_path, tiny_model, problem, capsys):
    # Issue 17 item 8 (reliability cases 50, 51): these used to fail after every image was embedded.
    make_image_folder(tmp_path / "img", classes=("cat", "dog"), n_per_class=1)
    (tmp_path / "img" / "broken.png").write_text("not an image")  # reached only if images are embedded
    labels = ("cat", "cat") if problem == "one label" else ("cat", "dog")
    rows = zip(("img/cat/cat_000.png", "img/broken.png"), labels)
    (tmp_path / "m.csv").write_text("path,label\n" + "".join(f"{path},{label}\n" for path, label in rows))
    texts = {"prompt too long": " ".join(["enormous"] * 90), "empty text": " "}.get(problem, "dog")
    (tmp_path / "names.json").write_text(json.dumps({"cat": "cat", "dog": texts}))
    names = [] if problem == "one label" else ["--class-names", str(tmp_path / "names.json")]
    model = ["--model", tiny_model, "--pretrained", "none", "--templates", "simple"]
    code = main(["evaluate", "manifest", str(tmp_path / "m.csv"), *names, *model])
    err = capsys.readouterr().err
    # Fewer than two classes is a usage error, as --help says (issue 21, section 7: it exited 3).
    assert code == (2 if problem == "one label" else 3), err
    expected = {
        "one label": "has one label, 'cat', but zero-shot classification needs at least 2 classes",
        "prompt too long": "(--truncate on the command line)",
        "empty text": "gives the label 'dog' an empty text",
    }[problem]
    assert expected in err and "embedding" not in err and "could not read" not in err


def test_the_cli_and_reproduce_paper_read_one_table_of_dataset_loaders(tmp_path, monkeypatch):
    # Issue 22, section 4: cli/_datasets.py kept four parallel structures and a lambda dispatch, and
    # reproduce_paper.py a fifth list; a loader added to the table is now a dataset for both.
    import argparse
    import importlib
    from pathlib import Path

    from sklearn.utils import Bunch

    from skclip_sage.cli import _datasets
    from skclip_sage.cli._errors import UsageError
    from skclip_sage.datasets import DATASET_LOADERS, DatasetLoader

    assert _datasets.DATASETS == (*DATASET_LOADERS, "manifest")
    assert _datasets.DATASETS_WITH_SPLITS == ("waterbirds", "celeba")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    reproduce_paper = importlib.import_module("reproduce_paper")  # as test_reproduce_paper.py imports it
    assert reproduce_paper.DATASETS == tuple(DATASET_LOADERS)
    calls = []

    def load_toy(root, split="test"):
        calls.append((root, split))
        return Bunch(data=[], train_group_counts=None)

    record = DatasetLoader(
        name="toy", loader=load_toy, options=("split",), splits=("train", "test"), default_split="test"
    )
    monkeypatch.setitem(DATASET_LOADERS, "toy", record)
    options = {"root": str(tmp_path), "domain_folders": False, "average": "paper"}
    options.update({name: None for name in _datasets.MANIFEST_OPTIONS})
    args = argparse.Namespace(dataset="toy", split="train", **options)
    _datasets.check_dataset_options(args)  # --split is accepted: the record has splits
    _datasets.load_dataset(args)
    args.split = None
    _datasets.load_dataset(args)
    assert calls == [(str(tmp_path), "train"), (str(tmp_path), "test")]
    assert _datasets.choose_average(args, Bunch()) == ("plain", None)  # no paper average: the CLI's default
    assert reproduce_paper.average_of("toy") == "groups" and reproduce_paper.average_of("waterbirds") == "weighted"
    args.domain_folders = True
    with pytest.raises(UsageError, match="--domain-folders applies to the folder dataset only, not toy"):
        _datasets.check_dataset_options(args)
    for name, paper in (("waterbirds", "weighted"), ("celeba", "plain"), ("pacs", "groups"), ("vlcs", "groups")):
        assert DATASET_LOADERS[name].paper_average == paper and DATASET_LOADERS[name].concepts == name
    assert [name for name, entry in DATASET_LOADERS.items() if entry.perception_templates] == ["waterbirds", "celeba"]
