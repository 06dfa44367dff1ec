"""Tests for ``skclip_sage.demo`` and ``skclip-sage demo``: the coloured digits, the captions,
the tiny-CLIP trainer, the run (reuse of the trained model) and the trained model used
end to end through the other commands.

The demo runs once per session in a configuration that trains in seconds
(``demo_fixtures.FAST_DEMO``); the trainer's determinism is checked on a smaller one.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from demo_fixtures import DIGIT_CLASSES, demo_run

from skclip_sage.cli import main
from skclip_sage.demo import (
    CAPTION_TEMPLATES,
    COLOUR_CAPTION_TEMPLATES,
    COLOURS,
    DIGIT_NAMES,
    digit_captions,
    load_coloured_digits,
    run_demo,
    tiny_clip_config,
    train_tiny_clip,
    write_coloured_digits,
)

SMALL = {"n_train": 50, "n_test": 20, "image_size": 16}
MICRO_MODEL = tiny_clip_config(image_size=16, patch_size=8, width=32, layers=1, embed_dim=16)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return demo_run(tmp_path_factory)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# --- the benchmark -------------------------------------------------------------------


@pytest.mark.parametrize("n_colours", [2, 10])
def test_benchmark_layout_balance_and_spurious_colour(tmp_path, n_colours):
    digits = write_coloured_digits(tmp_path, n_train=400, n_test=20, n_colours=n_colours, image_size=16, seed=3)
    train, test = digits.split == "train", digits.split == "test"
    assert train.sum() == 400 and test.sum() == 20 * n_colours
    assert digits.colour_names == list(COLOURS)[:n_colours]
    # Training: each digit mostly in its own colour (d % n_colours), never always.
    assert 0.90 <= digits.majority[train].mean() < 1.0
    assert np.array_equal(digits.majority, digits.colour == digits.target % n_colours)
    # Test: every digit in every colour, so within a class all groups have one size.
    counts = np.bincount(digits.groups[test], minlength=10 * n_colours).reshape(10, n_colours)
    assert (counts > 0).all() and (counts == counts[:, :1]).all()
    assert len(digits.group_names) == 10 * n_colours
    assert (
        digits.group_names[digits.groups[0]]
        == f"{DIGIT_NAMES[digits.target[0]]}/{digits.colour_names[digits.colour[0]]}"
    )
    # The manifest is a plain CSV with relative paths that any loader reads.
    rows = read_rows(tmp_path / "manifest.csv")
    assert list(rows[0]) == ["path", "label", "digit", "colour", "split", "group", "majority"]
    assert {row["split"] for row in read_rows(tmp_path / "test.csv")} == {"test"}
    assert len(read_rows(tmp_path / "train.csv")) == 400
    assert all((tmp_path / row["path"]).is_file() for row in rows)
    from PIL import Image

    with Image.open(digits.data[0]) as image:
        assert image.size == (16, 16) and image.mode == "RGB"
        pixels = np.asarray(image)
    # Stroke in the image's colour on black: every lit pixel is a multiple of that colour.
    colour = np.asarray(COLOURS[digits.colour_names[digits.colour[0]]], dtype=float)
    lit = pixels.reshape(-1, 3)[pixels.reshape(-1, 3).max(axis=1) > 60]
    assert len(lit) > 0 and np.allclose(lit / lit.max(axis=1, keepdims=True), colour / colour.max(), atol=0.05)


def test_benchmark_is_a_function_of_the_seed(tmp_path):
    first = write_coloured_digits(tmp_path / "a", seed=1, **SMALL)
    second = write_coloured_digits(tmp_path / "b", seed=1, **SMALL)
    other = write_coloured_digits(tmp_path / "c", seed=2, **SMALL)
    manifest = (tmp_path / "a" / "manifest.csv").read_bytes()
    assert manifest == (tmp_path / "b" / "manifest.csv").read_bytes()
    assert manifest != (tmp_path / "c" / "manifest.csv").read_bytes()
    assert all(open(a, "rb").read() == open(b, "rb").read() for a, b in zip(first.data, second.data))
    assert not np.array_equal(first.colour, other.colour)


def test_benchmark_reused_for_same_arguments_and_rewritten_otherwise(tmp_path):
    digits = write_coloured_digits(tmp_path, seed=0, **SMALL)
    stamp = (tmp_path / "manifest.csv").stat().st_mtime_ns
    again = write_coloured_digits(tmp_path, seed=0, **SMALL)
    assert (tmp_path / "manifest.csv").stat().st_mtime_ns == stamp
    assert list(again.data) == list(digits.data)
    rewritten = write_coloured_digits(tmp_path, seed=5, **SMALL)
    assert rewritten.settings["seed"] == 5
    # The first benchmark's images are gone: the folder holds exactly what the manifest lists.
    on_disk = sorted(str(path) for path in (tmp_path / "images").rglob("*.png"))
    assert on_disk == sorted(rewritten.data)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n_train": 1790}, "n_train must be between 10 and 1787"),
        ({"n_train": 1500, "n_test": 400}, "n_test must be None or between 10 and 297"),
        ({"majority_fraction": 0.0}, r"majority_fraction must be in \(0, 1\]"),
        ({"image_size": 4}, "image_size must be between 8 and 512"),
        ({"n_colours": 11}, "n_colours must be between 2 and 10"),
    ],
)
def test_benchmark_argument_errors(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        write_coloured_digits(tmp_path, **arguments)
    assert not (tmp_path / "manifest.csv").exists()


def test_load_coloured_digits_names_the_fix_for_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="write one with skclip_sage.demo.write_coloured_digits"):
        load_coloured_digits(tmp_path)


# --- captions and the trainer ---------------------------------------------------------


def test_captions_never_name_the_colour_except_the_colour_templates():
    for template in CAPTION_TEMPLATES:
        assert not any(colour in template for colour in COLOURS), template
    captions = digit_captions([3, 7], ["red", "blue"])
    assert len(captions) == 2 and len(captions[0]) == len(CAPTION_TEMPLATES) + len(COLOUR_CAPTION_TEMPLATES)
    assert all("three" in caption for caption in captions[0])
    naming_colour = [caption for caption in captions[1] if "blue" in caption]
    assert naming_colour == [t.format(digit="seven", colour="blue") for t in COLOUR_CAPTION_TEMPLATES]


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"target": [1], "colours": []}, "got 1 digits but 0 colours"),
        ({"target": [1], "colours": ["red"], "templates": []}, "templates is empty"),
        ({"target": [1], "colours": ["red"], "templates": ["no field"]}, "exactly one {}"),
        ({"target": [1], "colours": ["red"], "colour_templates": ["a {digit}"]}, "{digit} and {colour}"),
        ({"target": [12], "colours": ["red"]}, "between 0 and 9; got 12"),
    ],
)
def test_caption_errors(arguments, message):
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        digit_captions(**arguments)


def test_tiny_clip_config_errors():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        tiny_clip_config(image_size=30, patch_size=8)
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny_clip_config(width=100)


def test_trainer_is_deterministic_for_a_seed_and_records_its_run(tmp_path):
    digits = write_coloured_digits(tmp_path / "digits", seed=0, **SMALL)
    train = digits.split == "train"
    captions = digit_captions(digits.target[train], np.asarray(digits.colour_names)[digits.colour[train]])
    weights = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model, summary = train_tiny_clip(
            digits.data[train],
            captions,
            tmp_path / name,
            model_cfg=MICRO_MODEL,
            epochs=2,
            batch_size=16,
            seed=seed,
            num_threads=1,
            verbose=False,
        )
        assert model == f"local-dir:{(tmp_path / name).resolve()}"
        weights.append((tmp_path / name / "open_clip_model.safetensors").read_bytes())
    assert weights[0] == weights[1] and weights[0] != weights[2]
    assert summary.epochs == 2 and len(summary.losses) == 2 and np.isfinite(summary.final_loss)
    assert str(summary).startswith("trained 2 epochs on 50 images: loss ")
    record = json.loads((tmp_path / "c" / "training.json").read_text())
    assert record["seed"] == 1 and record["model_cfg"] == MICRO_MODEL and record["summary"]["epochs"] == 2


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"captions": [["a"]]}, "got 2 images but 1 caption lists"),
        ({"captions": [["a"], []]}, "1 images have no caption"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"max_lr": 0.0}, "max_lr must be positive"),
        ({"num_threads": 0}, "num_threads must be None or >= 1"),
    ],
)
def test_trainer_argument_errors(tmp_path, arguments, message):
    call = {"image_paths": ["x.png", "y.png"], "captions": [["a"], ["b"]], "folder": tmp_path, **arguments}
    with pytest.raises(ValueError, match=message):
        train_tiny_clip(**call)


# --- the run ---------------------------------------------------------------------------


def test_trained_model_learned_and_shows_the_spurious_effect(demo):
    rows = {row["mode"]: row for row in demo.rows if row["k"] in (1, 20) or row["mode"] == "ensemble"}
    for mode in ("single", "ensemble"):
        assert rows[mode]["majority"] >= 80.0, rows[mode]
        assert rows[mode]["minority"] < rows[mode]["majority"]
    assert demo.training_accuracy >= 80.0
    assert not demo.model_reused


def test_results_files_state_what_was_measured(demo):
    output = demo.benchmark.folder.parent
    assert [path.name for path in demo.written] == ["results.csv", "results.md", "results.png"]
    assert (output / "results.png").read_bytes().startswith(b"\x89PNG")
    markdown = (output / "results.md").read_text()
    assert "a toy with learned embeddings, not evidence about real data" in markdown
    assert f"Training accuracy (zero-shot ensemble on the training split): {demo.training_accuracy:.1f}%" in markdown
    assert "| Mode | K | Majority groups | Minority groups | WGA |" in markdown
    assert "Verdict: ensemble (K=20) WGA" in markdown
    ensemble = next(row for row in demo.rows if row["mode"] == "ensemble")
    sage_wins = any(row["WGA"] > ensemble["WGA"] for row in demo.rows if row["mode"] == "sage")
    assert ("SAGE does not beat the ensemble" in markdown) is not sage_wins
    rows = read_rows(output / "results.csv")
    assert [(row["mode"], row["k"]) for row in rows] == [(row["mode"], str(row["k"])) for row in demo.rows]
    assert {"mode", "k", "Avg", "WGA", "group_accuracy[three/yellow]", "group_accuracy[three/red]"} <= set(rows[0])
    assert {"roboshot", "tie*", "orth_proj", "orth_cali", "roboshot+sage", "orth_cali+sage"} <= {
        row["mode"] for row in rows
    }
    assert (output / "templates.txt").read_text().splitlines() == list(CAPTION_TEMPLATES)


def test_second_run_reuses_the_model_and_a_new_recipe_retrains(tmp_path):
    arguments = {"n_train": 50, "n_test": 10, "batch_size": 16, "k_values": (1,), "modes": ("ensemble", "sage")}
    arguments.update(debias_modes=("tie*",), model_cfg=MICRO_MODEL, plot=False, verbose=False, num_threads=1)
    lines = []
    first = run_demo(tmp_path, epochs=1, **arguments)
    weights = (tmp_path / "model" / "open_clip_model.safetensors").stat().st_mtime_ns
    second = run_demo(tmp_path, epochs=1, log=lines.append, **arguments)
    assert not first.model_reused and second.model_reused
    assert (tmp_path / "model" / "open_clip_model.safetensors").stat().st_mtime_ns == weights
    assert any(line.startswith("reusing the tiny CLIP") for line in lines)
    assert [row["WGA"] for row in second.rows] == [row["WGA"] for row in first.rows]
    assert second.training == first.training
    third = run_demo(tmp_path, epochs=2, **arguments)
    assert not third.model_reused and third.training.startswith("trained 2 epochs")


# --- the trained model through the other commands ---------------------------------------


def model_options(demo):
    return ["--model", demo.model, "--templates", demo.templates, "-q"]


def test_demo_command_help_and_registration(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "--output DIR" in help_text and "--epochs" in help_text and "not evidence about real data" in help_text


def test_classify_with_the_demo_model(demo, tmp_path, capsys):
    images = demo.benchmark.folder / "images" / "test" / "3"
    out = tmp_path / "pred.csv"
    code = main(
        ["classify", str(images), "--classes", *DIGIT_CLASSES, "--selection", "ensemble", "-o", str(out)]
        + model_options(demo)
    )
    assert code == 0, capsys.readouterr().err
    rows = read_rows(out)
    assert len(rows) == len(list(images.iterdir()))
    own = demo.benchmark.colour_names[3 % len(demo.benchmark.colour_names)]
    in_own_colour = [row for row in rows if row["path"].endswith(f"_{own}.png")]
    # Threes drawn in their training colour are recognised.
    assert in_own_colour and all(row["predicted_class"] == "three" for row in in_own_colour), in_own_colour


def test_embed_with_the_demo_model(demo, tmp_path, capsys):
    out = tmp_path / "emb.npy"
    manifest = demo.benchmark.folder / "test.csv"
    code = main(["embed", "--manifest", str(manifest), "-o", str(out), "--model", demo.model, "-q"])
    assert code == 0, capsys.readouterr().err
    X = np.load(out)
    assert X.shape == (len(read_rows(manifest)), 32) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)


def test_evaluate_manifest_with_the_demo_model(demo, tmp_path, capsys):
    out = tmp_path / "report.json"
    manifest = demo.benchmark.folder / "test.csv"
    command = ["evaluate", "manifest", str(manifest), "--group-column", "group", "--compare", "ensemble"]
    code = main(command + ["--json", str(out)] + model_options(demo))
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    groups = {group["name"]: group for group in run["groups"]}
    assert len(groups) == len(demo.benchmark.group_names) and groups["three/yellow"]["count"] == 3
    # Same images, same model, same templates: the CLI agrees with the demo's own table.
    ensemble = next(row for row in demo.rows if row["mode"] == "ensemble")
    assert run["summary"]["WGA"] * 100 == pytest.approx(ensemble["WGA"], abs=1e-6)
