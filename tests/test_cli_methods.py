"""``skclip-sage evaluate manifest --compare sage,autoclip,zpe,perception`` on the tiny local-dir model."""

from __future__ import annotations

import csv
import json

import numpy as np
from dataset_fixtures import make_image_folder

from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier
from skclip_sage.cli import main


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_evaluate_manifest_compares_the_training_free_methods(tmp_path, tiny_model, capsys):
    make_image_folder(tmp_path / "img", classes=("cat", "dog"), n_per_class=3)
    paths = sorted((tmp_path / "img").rglob("*.png"))
    rows = [f"{path.relative_to(tmp_path)},{path.parent.name},{'a' if i % 2 else 'b'}" for i, path in enumerate(paths)]
    (tmp_path / "m.csv").write_text("path,label,group\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    out.mkdir()
    options = ["--model", tiny_model, "--pretrained", "none", "-q"]
    code = main(
        [
            "evaluate",
            "manifest",
            str(tmp_path / "m.csv"),
            "--compare",
            "sage,autoclip,zpe,perception,score_average",
            "--templates",
            "simple",
            "--json",
            str(out / "report.json"),
            "--predictions",
            str(out / "predictions.csv"),
            *options,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads((out / "report.json").read_text())
    assert [run["label"] for run in report["runs"]] == ["sage k=1", "autoclip", "zpe", "perception", "score_average"]
    predictions = read_rows(out / "predictions.csv")
    assert len(predictions) == 6
    # The CLI's ZPE run is the classifier fitted on the evaluated (unlabelled) embeddings.
    names = {"cat": "cat", "dog": "dog"}
    X = ClipImageEmbedder(tiny_model, pretrained=None, device="cpu").fit().transform([str(p) for p in paths])
    zpe = SageZeroShotClassifier(
        tiny_model, pretrained=None, templates="simple", class_names=names, selection="zpe", device="cpu"
    ).fit(X)
    expected = zpe.predict(X)
    by_path = {row["path"]: row["zpe_prediction"] for row in predictions}
    assert [by_path[str(p.relative_to(tmp_path))] for p in paths] == expected.tolist()
    for row in predictions:
        for run in ("autoclip", "perception", "score_average"):
            assert row[f"{run}_prediction"] in ("cat", "dog")
            assert 0.5 <= float(row[f"{run}_probability"]) <= 1.0
    assert np.isfinite([float(row["zpe_probability"]) for row in predictions]).all()


def test_classify_with_zpe_fits_on_the_images_it_classifies(tmp_path, tiny_model, capsys):
    make_image_folder(tmp_path / "img", classes=("cat", "dog"), n_per_class=2)
    code = main(
        [
            "classify",
            str(tmp_path / "img"),
            "--classes",
            "cat",
            "dog",
            "--selection",
            "zpe",
            "--templates",
            "simple",
            "--model",
            tiny_model,
            "--pretrained",
            "none",
            "-q",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.count("\n") >= 4
