"""Tests for the files the ``skclip-sage`` commands write (skclip_sage.cli._outputs).

Output protection and atomic writes (RELIABILITY case 31), output formats chosen by
extension, ``--top-k``, manifest columns carried through, template sets written once.
Commands run in this process with the tiny ``local-dir:`` model, loaded once.
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from dataset_fixtures import make_image_folder

from skclip_sage.cli import main
from skclip_sage.cli._outputs import check_outputs, open_output, write_table
from skclip_sage.prompts._template_sets import SIMPLE_IMAGENET_TEMPLATES


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """``tmp_path`` as the working folder, holding ``photos/{cat,dog}/`` with two images each."""
    make_image_folder(tmp_path / "photos", classes=("cat", "dog"), n_per_class=2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def model_options(tiny_model, templates=True):
    return ["--model", tiny_model, "--pretrained", "none", "-q", *(["--templates", "simple"] if templates else [])]


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def snapshot(folder):
    """Every file under ``folder`` with its bytes (symlinks as their target text)."""
    files = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            files[path] = os.readlink(path) if os.path.islink(path) else open(path, "rb").read()
    return files


IMAGE = os.path.join("photos", "cat", "cat_000.png")
OTHER = os.path.join("photos", "dog", "dog_000.png")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # issue 10: the output would have turned the input image into CSV text.
        (["classify", IMAGE, OTHER, "--classes", "cat", "dog", "-o", IMAGE], "the file type follows the extension"),
        (["classify", IMAGE, "--class-file", "names.csv", "-o", "names.csv"], "--output 'names.csv' is the input"),
        (["embed", IMAGE, "-o", "e.npy", "--paths", "e.npy"], "--paths 'e.npy' and --output 'e.npy' are the same"),
        (["embed", IMAGE, "-o", "e.npy", "--paths", IMAGE], "is the input"),
        (["embed", IMAGE, "-o", "e3.npy", "--on-error", "skip", "--failures", "e3.npy"], "are the same file"),
        (["embed", IMAGE, "-o", "link.npy"], "is the input"),  # a symlink to an input
        (["embed", IMAGE, "-o", "./photos/../e.npy", "--paths", "e.npy"], "are the same file"),
        (["classify", "--manifest", "list.csv", "--classes", "a", "b", "-o", "list.csv"], "is the input"),
        (["classify", IMAGE, "--classes", "a", "b", "--templates", "mine.csv", "-o", "mine.csv"], "is the input"),
        (["evaluate", "folder", "photos", "--json", "r.json", "--csv", "r.json"], "are the same file"),
        (["evaluate", "folder", "photos", "--plot", OTHER], "is the input"),
        (
            ["evaluate", "folder", "photos", "--plot", "p.png", "--predictions", "p.csv", "--csv", "p.templates.json"],
            "same file",
        ),
        (["evaluate", "manifest", "list.csv", "--json", "list.csv"], "is the input"),
    ],
)
def test_output_equal_to_an_input_or_another_output_is_refused(photos, arguments, message, capsys):
    # RELIABILITY case 31: exit 2 before any model work, nothing written, inputs unchanged.
    (photos / "link.npy").symlink_to(photos / IMAGE)
    (photos / "list.csv").write_text(f"path,label\n{IMAGE},cat\n{OTHER},dog\n")
    (photos / "mine.csv").write_text("a photo of a {}.\n")
    (photos / "names.csv").write_text("cat\ndog\n")
    before = snapshot(photos)
    # A model that does not exist: reaching it would exit 3, so 2 proves the check came first.
    code = main([*arguments, "--model", "local-dir:/no/such/model"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert snapshot(photos) == before


def test_outputs_are_written_atomically(tmp_path):
    # An interrupted write leaves the old file intact and no partial file behind.
    target = tmp_path / "out.csv"
    target.write_text("old results\n")
    with pytest.raises(KeyboardInterrupt):
        with open_output(str(target)) as stream:
            stream.write("half of the new")
            raise KeyboardInterrupt
    assert target.read_text() == "old results\n"
    assert sorted(os.listdir(tmp_path)) == ["out.csv"]
    # A symlinked output is written through: the link stays, its target is replaced.
    (tmp_path / "link.csv").symlink_to(target)
    with open_output(str(tmp_path / "link.csv")) as stream:
        stream.write("new\n")
    assert os.path.islink(tmp_path / "link.csv") and target.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["link.csv", "out.csv"]


def test_check_outputs_allows_distinct_files(tmp_path):
    (tmp_path / "in.png").write_bytes(b"x")
    check_outputs([("-o", str(tmp_path / "a.csv")), ("--failures", str(tmp_path / "b.csv")), ("x", None)], [])
    check_outputs([("-o", str(tmp_path / "existing.csv"))], [str(tmp_path / "in.png")])


@pytest.mark.parametrize("extension", [".csv", ".parquet", ".json", ".jsonl"])
def test_write_table_formats_hold_the_same_values(tmp_path, extension):
    pytest.importorskip("pandas")
    import pandas

    columns = {
        "path": ["a.png", "b.png"],
        "p": [np.float32(0.25), np.float32(0.75)],
        "indices": [[0, 2], [1]],
        "missing": [None, "why"],
    }
    path = tmp_path / f"t{extension}"
    write_table(str(path), columns, option="-o")
    readers = {
        ".csv": pandas.read_csv,
        ".parquet": pandas.read_parquet,
        ".json": pandas.read_json,
        ".jsonl": lambda file: pandas.read_json(file, lines=True),
    }
    frame = readers[extension](path)
    assert list(frame.columns) == list(columns)
    assert frame["path"].tolist() == ["a.png", "b.png"] and frame["p"].tolist() == [0.25, 0.75]
    indices = frame["indices"].tolist()
    assert [json.loads(item) if isinstance(item, str) else list(item) for item in indices] == [[0, 2], [1]]
    assert frame["missing"].isna().tolist() == [True, False]


def test_classify_writes_by_extension_with_top_k(photos, tiny_model, capsys):
    results = {}
    for extension in (".csv", ".json", ".jsonl", ".parquet"):
        output = f"pred{extension}"
        code = main(
            ["classify", "photos", "--classes", "dog", "cat", "bird", "--top-k", "2", "--k", "2", "-o", output]
            + model_options(tiny_model)
        )
        assert code == 0, capsys.readouterr().err
        if extension == ".csv":
            results[extension] = read_rows(output)
        elif extension == ".parquet":
            import pyarrow.parquet

            results[extension] = pyarrow.parquet.read_table(output).to_pylist()
        else:
            text = open(output, encoding="utf-8").read()
            results[extension] = (
                json.loads(text) if extension == ".json" else [json.loads(line) for line in text.splitlines()]
            )
    rows = results[".json"]
    assert len(rows) == 4
    assert list(rows[0]) == [
        "path",
        "predicted_class",
        "probability_dog",
        "probability_cat",
        "probability_bird",
        "top1_class",
        "top1_probability",
        "top2_class",
        "top2_probability",
        "template_indices",
        "templates",
    ]
    for row in rows:
        probabilities = {name: row[f"probability_{name}"] for name in ("dog", "cat", "bird")}
        ranked = sorted(probabilities, key=probabilities.get, reverse=True)
        assert [row["top1_class"], row["top2_class"]] == ranked[:2] and row["predicted_class"] == ranked[0]
        assert row["top1_probability"] == probabilities[ranked[0]] >= row["top2_probability"]
        assert row["templates"] == [SIMPLE_IMAGENET_TEMPLATES[index] for index in row["template_indices"]]
    assert results[".jsonl"] == rows

    def as_float32(records):
        # Parquet keeps float32 columns; JSON holds their shortest decimal text.
        return [
            {key: np.float32(value) if isinstance(value, float) else value for key, value in record.items()}
            for record in records
        ]

    assert as_float32(results[".parquet"]) == as_float32(rows)
    csv_rows = results[".csv"]
    assert [row["path"] for row in csv_rows] == [row["path"] for row in rows]
    assert [float(row["top1_probability"]) for row in csv_rows] == [row["top1_probability"] for row in rows]
    assert [json.loads(row["template_indices"]) for row in csv_rows] == [row["template_indices"] for row in rows]


def test_classify_ensemble_lists_its_templates_once(photos, tiny_model, capsys):
    code = main(
        ["classify", "photos", "--classes", "cat", "dog", "--selection", "ensemble", "-o", "p.parquet"]
        + model_options(tiny_model)
    )
    assert code == 0, capsys.readouterr().err
    import pyarrow.parquet

    table = pyarrow.parquet.read_table("p.parquet")
    assert "templates" not in table.column_names and "template_indices" not in table.column_names
    sidecar = json.loads((photos / "p.templates.json").read_text())
    assert sidecar["selection"] == "ensemble" and sidecar["templates"] == list(SIMPLE_IMAGENET_TEMPLATES)
    assert json.loads(table.schema.metadata[b"skclip_sage.templates"]) == sidecar


@pytest.mark.parametrize("extension", [".npz", ".parquet", ".jsonl"])
def test_embed_writes_by_extension(photos, tiny_model, capsys, extension):
    assert main(["embed", "photos", "-o", "e.npy"] + model_options(tiny_model, False)) == 0, capsys.readouterr().err
    expected = np.load("e.npy")
    paths = (photos / "e.paths.txt").read_text().splitlines()
    assert main(["embed", "photos", "-o", f"x{extension}"] + model_options(tiny_model, False)) == 0
    assert not (photos / "x.paths.txt").exists()  # these formats hold the paths themselves
    if extension == ".npz":
        with np.load(f"x{extension}") as archive:
            np.testing.assert_array_equal(archive["embeddings"], expected)
            assert archive["paths"].tolist() == paths
        return
    if extension == ".parquet":
        import pyarrow.parquet

        records = pyarrow.parquet.read_table(f"x{extension}").to_pylist()
    else:
        records = [json.loads(line) for line in (photos / f"x{extension}").read_text().splitlines()]
    assert [record["path"] for record in records] == paths
    got = np.array([[record[f"embedding_{index}"] for index in range(expected.shape[1])] for record in records])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_unknown_extension_exits_2_and_writes_nothing(photos, capsys):
    before = snapshot(photos)
    assert main(["embed", "photos", "-o", "x.h5", "--model", "local-dir:/no/such"]) == 2
    assert ".npy, .npz, .csv, .parquet, .json, .jsonl" in capsys.readouterr().err
    assert main(["embed", "photos", "-o", "x.npz", "--paths", "p.txt", "--model", "local-dir:/no/such"]) == 2
    assert "--paths applies to .npy output only" in capsys.readouterr().err
    assert snapshot(photos) == before
