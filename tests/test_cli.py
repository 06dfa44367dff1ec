"""Tests for the ``skclip-sage`` command line (skclip_sage.cli).

Each command runs at least once as a real subprocess (``python -m skclip_sage``)
with the tiny ``local-dir:`` model; every such run checks several things at once,
because each costs a torch import. Further error paths call ``main(argv)`` in this
process, where the model is already loaded.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from dataset_fixtures import make_celeba, make_image_folder, make_pacs, make_waterbirds, write_image

from skclip_sage.cli import main
from skclip_sage.cli._errors import InputError, UsageError
from skclip_sage.cli._inputs import expand_image_arguments
from skclip_sage.cli._text_inputs import collect_class_names, resolve_templates_option
from skclip_sage.io import clear_memory_caches
from skclip_sage.prompts._template_sets import SIMPLE_IMAGENET_TEMPLATES

COMMANDS = ("classify", "evaluate", "embed", "templates")


def start_cli(*arguments, cwd):
    """Start ``python -m skclip_sage ARGUMENTS`` in ``cwd``, capturing its output."""
    return subprocess.Popen(
        [sys.executable, "-m", "skclip_sage", *map(str, arguments)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    """Wait for a process from :func:`start_cli`; return it as a ``CompletedProcess``."""
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_cli(*arguments, cwd):
    """Run ``python -m skclip_sage ARGUMENTS`` in ``cwd``; return the completed process."""
    return finish(start_cli(*arguments, cwd=cwd))


def read_csv(path_or_text):
    """Rows of a CSV file (or CSV text) as dicts."""
    if os.path.exists(str(path_or_text)):
        with open(path_or_text, newline="", encoding="utf-8") as stream:
            return list(csv.DictReader(stream))
    return list(csv.DictReader(io.StringIO(path_or_text)))


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory):
    """``photos/{cat,dog}/`` (3 images each, a broken ``cat/broken.jpg``, a hidden file),
    ``more/`` for globs, ``single.png`` and a manifest of relative paths."""
    root = tmp_path_factory.mktemp("cli_images")
    make_image_folder(root / "photos", classes=("cat", "dog"), n_per_class=3)
    (root / "photos" / "cat" / "broken.jpg").write_text("<html>not an image</html>")
    (root / "photos" / "dog" / "notes.txt").write_text("not an image, not a sample")
    (root / "photos" / ".hidden.png").write_bytes(b"")
    for index in range(2):
        write_image(root / "more" / f"m{index}.png", (10 * index, 200, 30))
    write_image(root / "single.png", (200, 0, 0))
    (root / "manifest.csv").write_text("file,label\nphotos/dog/dog_000.png,dog\nsingle.png,cat\n")
    return root


def model_options(tiny_model):
    return ["--model", tiny_model, "--pretrained", "none"]


@pytest.fixture(scope="module")
def model_runs(image_tree, tiny_model, tmp_path_factory):
    """One subprocess each of classify, evaluate and embed, started together.

    Each pays several seconds of torch import, so they run side by side; the
    tests below check their outputs.
    """
    evaluate_folder = tmp_path_factory.mktemp("cli_evaluate")
    make_waterbirds(evaluate_folder / "data", n_per_group=2)
    embed_folder = tmp_path_factory.mktemp("cli_embed")
    model = model_options(tiny_model)
    processes = {
        # 1 file + 7 images in photos/ (one broken) + 2 from the glob: 9 of 10 readable.
        "classify": start_cli(
            "classify",
            "single.png",
            "photos",
            "more/*.png",
            "--classes",
            "cat",
            "dog",
            "--templates",
            "simple",
            "--k",
            "2",
            "--on-error",
            "skip",
            "--output",
            "predictions.csv",
            *model,
            cwd=image_tree,
        ),
        "evaluate": start_cli(
            "evaluate",
            "waterbirds",
            "data",
            "--compare",
            "sage,ensemble",
            "--k",
            "1",
            "2",
            "--json",
            "report.json",
            "--csv",
            "report.csv",
            *model,
            cwd=evaluate_folder,
        ),
        "embed": start_cli(
            "embed",
            image_tree / "photos",
            "--output",
            embed_folder / "emb.npy",
            "--on-error",
            "skip",
            *model,
            cwd=image_tree,
        ),
    }
    results = {name: finish(process) for name, process in processes.items()}
    return results, {"evaluate": evaluate_folder, "embed": embed_folder}


# --- subprocess runs of every command -------------------------------------------------


def test_classify_files_folder_glob_skips_unreadable_image(image_tree, model_runs):
    result = model_runs[0]["classify"]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    broken = os.path.join("photos", "cat", "broken.jpg")
    assert f"could not read {broken!r}" in result.stderr
    assert "skipped 1 of 10 image(s)" in result.stderr and "predictions.failures.csv" in result.stderr

    rows = read_csv(image_tree / "predictions.csv")
    expected_paths = (
        ["single.png"]
        + [os.path.join("photos", name, f"{name}_{index:03d}.png") for name in ("cat", "dog") for index in range(3)]
        + [os.path.join("more", "m0.png"), os.path.join("more", "m1.png")]
    )
    assert [row["path"] for row in rows] == expected_paths
    assert list(rows[0]) == [
        "path",
        "predicted_class",
        "probability_cat",
        "probability_dog",
        "template_indices",
        "templates",
    ]
    for row in rows:
        probabilities = [float(row["probability_cat"]), float(row["probability_dog"])]
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)
        assert row["predicted_class"] == ("cat", "dog")[int(np.argmax(probabilities))]
        indices = json.loads(row["template_indices"])
        assert len(indices) == 2 and len(set(indices)) == 2
        assert json.loads(row["templates"]) == [SIMPLE_IMAGENET_TEMPLATES[index] for index in indices]

    failures = read_csv(image_tree / "predictions.failures.csv")
    assert [failure["path"] for failure in failures] == [broken]
    assert "cannot identify image file" in failures[0]["reason"]


def test_evaluate_waterbirds_prints_report_and_writes_json_and_csv(model_runs):
    result, tmp_path = model_runs[0]["evaluate"], model_runs[1]["evaluate"]
    assert result.returncode == 0, result.stderr
    for text in ("Avg", "WGA", "Gap", "HM", "landbird_on_land (n=2)", "sage k=1", "sage k=2", "ensemble"):
        assert text in result.stdout
    assert "weighted by training-group sizes" in result.stdout

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["average"] == "weighted" and report["unit"] == "%"
    assert report["n_evaluated"] == 8 and report["class_prompts"] == ["landbirds", "waterbirds"]
    assert [(run["selection"], run["k"]) for run in report["runs"]] == [("sage", 1), ("sage", 2), ("ensemble", None)]
    for run in report["runs"]:
        accuracies = [group["accuracy"] for group in run["groups"]]
        assert run["summary"]["WGA"] == pytest.approx(min(accuracies))
        # The fixture's training split has 2 images per group: the weighted Avg is the group mean.
        assert run["summary"]["Avg"] == pytest.approx(np.mean(accuracies))
        assert 0 <= run["summary"]["HM"] <= 100
    assert len(read_csv(tmp_path / "report.csv")) == 3 * (4 + 4)


def test_embed_writes_npy_and_sidecar_for_readable_images(image_tree, model_runs):
    result, tmp_path = model_runs[0]["embed"], model_runs[1]["embed"]
    assert result.returncode == 1, result.stderr
    embeddings = np.load(tmp_path / "emb.npy")
    paths = (tmp_path / "emb.paths.txt").read_text().splitlines()
    expected = [
        str(image_tree / "photos" / name / f"{name}_{index:03d}.png") for name in ("cat", "dog") for index in range(3)
    ]
    assert paths == expected
    assert embeddings.shape == (6, 32) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1, rtol=1e-5)
    failures = read_csv(tmp_path / "emb.failures.csv")
    assert [failure["path"] for failure in failures] == [str(image_tree / "photos" / "cat" / "broken.jpg")]


def test_templates_lists_sets_and_prints_one(tmp_path):
    listing = run_cli("templates", cwd=tmp_path)
    assert listing.returncode == 0
    assert "openai_imagenet" in listing.stdout and "80 templates" in listing.stdout
    assert "simple" in listing.stdout
    printed = run_cli("templates", "simple", cwd=tmp_path)
    assert printed.stdout.splitlines() == list(SIMPLE_IMAGENET_TEMPLATES)


def test_version_and_progress_switch(tmp_path, monkeypatch):
    from skclip_sage import __version__
    from skclip_sage.cli._runtime import show_progress

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"skclip-sage {__version__}"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert show_progress(quiet=False) and not show_progress(quiet=True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not show_progress(quiet=False)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_examples_and_exit_codes(command, tmp_path):
    result = run_cli(*([command] if command else []), "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "examples:" in result.stdout and "exit codes:" in result.stdout
    assert "skclip-sage" in result.stdout


def test_missing_image_is_a_one_line_error_without_traceback(tmp_path):
    result = run_cli("classify", "no_such.jpg", "--classes", "cat", "dog", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stderr.strip() == (
        "skclip-sage classify: error: 'no_such.jpg' does not exist (no such file, folder or glob match)."
    )


# --- in-process runs: more inputs and error paths ---------------------------------------


def test_manifest_to_stdout_with_ensemble(image_tree, tiny_model, capsys, monkeypatch):
    monkeypatch.chdir(image_tree)
    code = main(
        [
            "classify",
            "--manifest",
            "manifest.csv",
            "--path-column",
            "file",
            "--classes",
            "cat",
            "dog",
            "--templates",
            "simple",
            "--selection",
            "ensemble",
            *model_options(tiny_model),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    rows = read_csv(captured.out)
    assert [row["path"] for row in rows] == ["photos/dog/dog_000.png", "single.png"]
    # The manifest's other columns are carried through; ensemble's one template set
    # is not repeated on every row.
    assert list(rows[0]) == ["path", "label", "predicted_class", "probability_cat", "probability_dog"]
    assert [row["label"] for row in rows] == ["dog", "cat"]
    assert "every image uses the same 7 template(s)" in captured.err
    assert "wrote 2 prediction(s) to stdout" in captured.err


@pytest.mark.parametrize(
    ("dataset", "build", "options", "average", "n_groups"),
    [
        ("celeba", lambda root: make_celeba(root, n_per_group=1), [], "plain", 4),
        ("pacs", lambda root: make_pacs(root), [], "groups", 28),
        ("folder", lambda root: make_image_folder(root, domains=("a", "b")), ["--domain-folders"], "groups", 4),
    ],
)
def test_evaluate_uses_the_papers_average_per_dataset(
    dataset, build, options, average, n_groups, tiny_model, tmp_path, capsys
):
    root = build(tmp_path / "data")
    report_path = tmp_path / "report.json"
    code = main(
        [
            "evaluate",
            dataset,
            str(root),
            "--compare",
            "single",
            "--templates",
            "simple",
            "--json",
            str(report_path),
            *options,
            *model_options(tiny_model),
        ]
    )
    assert code == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())
    assert report["average"] == average and len(report["runs"][0]["groups"]) == n_groups
    assert "single" in capsys.readouterr().out


def test_on_error_raise_names_every_unreadable_image_and_writes_nothing(image_tree, tiny_model, capsys, tmp_path):
    manifest = tmp_path / "images.csv"
    manifest.write_text(f"path\n{image_tree / 'single.png'}\n{image_tree / 'photos/cat/broken.jpg'}\nmissing.png\n")
    output = tmp_path / "out.csv"
    code = main(
        [
            "classify",
            "--manifest",
            str(manifest),
            "--classes",
            "cat",
            "dog",
            "--templates",
            "simple",
            "--output",
            str(output),
            *model_options(tiny_model),
        ]
    )
    err = capsys.readouterr().err
    assert code == 3
    assert "broken.jpg" in err and "missing.png" in err
    assert "2 of 3 image(s) could not be read" in err and "--on-error skip" in err
    assert not output.exists() and not list(tmp_path.glob("*.failures.csv"))


def test_skip_under_strict_writes_readable_rows_and_exits_non_zero(image_tree, tiny_model, capsys, tmp_path):
    # RELIABILITY case 25: predictions for the readable images, a failures file, non-zero exit.
    output, failures = tmp_path / "out.csv", tmp_path / "bad.csv"
    code = main(
        [
            "classify",
            str(image_tree / "photos"),
            "--classes",
            "cat",
            "dog",
            "--templates",
            "simple",
            "--on-error",
            "skip",
            "--strict",
            "--output",
            str(output),
            "--failures",
            str(failures),
            *model_options(tiny_model),
        ]
    )
    assert code == 1, capsys.readouterr().err
    assert len(read_csv(output)) == 6
    assert [row["path"] for row in read_csv(failures)] == [str(image_tree / "photos" / "cat" / "broken.jpg")]


def test_bad_model_and_debug_traceback(image_tree, capsys):
    arguments = [
        "classify",
        str(image_tree / "single.png"),
        "--classes",
        "cat",
        "dog",
        "--templates",
        "simple",
        "--model",
        "local-dir:/no/such/folder",
    ]
    assert main(arguments) == 3
    err = capsys.readouterr().err
    assert "error:" in err and "/no/such/folder" in err and "Traceback" not in err
    assert main([*arguments, "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_strict_turns_warnings_into_errors(image_tree, tiny_model, capsys):
    # "Cat" and "cat" give the same prompt: a DuplicatePromptWarning.
    arguments = [
        "classify",
        str(image_tree / "single.png"),
        "--classes",
        "Cat",
        "cat",
        "--templates",
        "simple",
        *model_options(tiny_model),
    ]
    assert main(arguments) == 0
    assert "warning: Class names" in capsys.readouterr().err
    assert main([*arguments, "--strict"]) == 3
    assert "--strict" in capsys.readouterr().err


def test_random_selection_is_repeatable_with_seed(image_tree, tiny_model, capsys):
    arguments = [
        "classify",
        str(image_tree / "more"),
        "--classes",
        "cat",
        "dog",
        "--templates",
        "simple",
        "--selection",
        "random",
        "--k",
        "3",
        *model_options(tiny_model),
    ]
    outputs = []
    for _ in range(2):
        assert main([*arguments, "--seed", "7"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert main(arguments) == 0
    assert "pass --seed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["classify", "single.png", "--classes", "cat"], 2, "at least 2 classes"),
        (["classify", "single.png", "--classes", "cat", "cat"], 2, "distinct"),
        (["classify", "single.png", "--classes", "a", "b", "--templates", "nope"], 2, "neither a built-in set"),
        (["classify", "single.png", "--classes", "a", "b", "--templates", "simple", "--k", "8"], 2, "1 <= k <= 7"),
        (["classify", "single.png", "--classes", "a", "b", "--k", "0"], 2, "must be >= 1"),
        (["classify", "single.png", "--classes", "a", "b", "--templates", "bad.txt"], 3, "line 3"),
        (["classify", "photos/dog/notes.txt/x", "--classes", "a", "b"], 3, "does not exist"),
        (["classify", "nothing*.png", "--classes", "a", "b"], 3, "matches no file"),
        (["classify", "--classes", "a", "b"], 2, "at least one image"),
        (["classify", "--manifest", "manifest.csv", "--classes", "a", "b"], 3, "no column 'path'"),
        (["classify", "single.png", "--classes", "a", "b", "-o", "single.png/out.csv"], 3, "is a file, not a folder"),
        (["embed", "single.png", "--output", "emb.txt"], 2, "the file type follows the extension, one of .npy"),
        (["classify", "single.png", "--classes", "a", "b", "-o", "p.xlsx"], 2, ".csv, .parquet, .json, .jsonl"),
        (["classify", "single.png", "--classes", "a", "b", "--top-k", "3"], 2, "--top-k 3 is more than the 2"),
        (["classify", "single.png", "--classes", "a", "b", "--seed", "-5"], 2, "must be >= 0"),
        (["evaluate", "folder", "photos", "--seed", "5000000000"], 2, "must be <= 4294967295"),
        (["evaluate", "folder", "photos", "--plot", "g.jpg"], 2, "--plot 'g.jpg' must end in one of .png"),
        (["evaluate", "folder", "photos", "--label-column", "y"], 2, "applies to the manifest dataset only"),
        (["evaluate", "manifest", "manifest.csv"], 3, "no column 'path'; columns found: 'file', 'label'"),
        (["evaluate", "manifest", "manifest.csv", "--path-column", "file", "--label-column", "y"], 3, "no column 'y'"),
        (["evaluate", "waterbirds", "."], 3, "waterbirds"),
        (["evaluate", "pacs", ".", "--split", "val"], 2, "--split applies to"),
        (["evaluate", "folder", "photos", "--compare", "sage,best"], 2, "--compare"),
        (["templates", "nope"], 2, "NAME 'nope'"),
    ],
)
def test_user_errors_exit_codes_and_messages(image_tree, monkeypatch, capsys, arguments, code, message):
    monkeypatch.chdir(image_tree)
    (image_tree / "bad.txt").write_text("# my templates\na photo of a {}.\na photo without a slot\n")
    assert run_main(arguments) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def run_main(arguments):
    """``main(arguments)``, with argparse's own exits (usage errors) returned as codes."""
    try:
        return main(arguments)
    except SystemExit as exit_:
        return exit_.code


# --- input expansion -----------------------------------------------------------------------


def test_expand_images_recursive_sorted_and_globs(tmp_path):
    for name in ["b/z.png", "b/a.JPG", "a.webp", ".hidden/x.png", "b/.x.png", "b/readme.md"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = expand_image_arguments([str(tmp_path)]).paths
    assert found == [str(tmp_path / "a.webp"), str(tmp_path / "b" / "a.JPG"), str(tmp_path / "b" / "z.png")]
    assert expand_image_arguments([str(tmp_path / "**" / "*.png")]).paths == [str(tmp_path / "b" / "z.png")]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("")
    with pytest.raises(InputError, match="holds no images"):
        expand_image_arguments([str(tmp_path / "empty")])
    with pytest.raises(InputError, match="no image"):
        expand_image_arguments([str(tmp_path / "b" / "*.md")])


def test_class_names_and_templates_file(tmp_path):
    (tmp_path / "classes.txt").write_text("# birds\nwaterbird\n\n")
    assert collect_class_names(["landbird"], str(tmp_path / "classes.txt")) == ["landbird", "waterbird"]
    with pytest.raises(UsageError, match="distinct"):
        collect_class_names(["a", "a"], None)
    (tmp_path / "templates.txt").write_text("a photo of a {}.\n  art of the {}.  \n")
    assert resolve_templates_option(str(tmp_path / "templates.txt")) == ["a photo of a {}.", "art of the {}."]
    (tmp_path / "bad.txt").write_text("a {} and a {}.\n")
    with pytest.raises(InputError, match=r"line 1: template 'a \{\} and a \{\}\.' must contain exactly one"):
        resolve_templates_option(str(tmp_path / "bad.txt"))


# --- issue 17: late errors, symlink loops, non-finite embeddings ------------------------------


def test_a_glob_through_a_symlink_loop_lists_each_image_once(tmp_path):
    # Issue 17 item 7 (reliability case 49): `a/**/*.png` with a/loop -> a listed one image 41 times.
    write_image(tmp_path / "a" / "x.png", (1, 2, 3))
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "empty").mkdir()  # matched by '**', holds no image: not an error inside a pattern
    only = [str(tmp_path / "a" / "x.png")]
    assert expand_image_arguments([str(tmp_path / "a" / "**" / "*.png")]).paths == only
    assert expand_image_arguments([str(tmp_path / "**")]).paths == only  # a folder and its subfolders


def test_a_symlink_loop_argument_is_a_failure_row_under_skip(tmp_path, tiny_model, capsys, monkeypatch):
    # Issue 17 item 8 (reliability case 55): it used to stop the command as "does not exist".
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "ok.png", (1, 2, 3))
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    arguments = ["classify", "ok.png", "loop.png", "--classes", "a", "b", "-o", "p.csv", *model_options(tiny_model)]
    assert main([*arguments, "--on-error", "skip", "--templates", "simple"]) == 1, capsys.readouterr().err
    assert [row["path"] for row in read_csv(tmp_path / "p.csv")] == ["ok.png"]
    (failure,) = read_csv(tmp_path / "p.failures.csv")
    assert failure["path"] == "loop.png" and "Too many levels of symbolic links" in failure["reason"]
    assert main([*arguments, "--templates", "simple"]) == 3
    assert "could not read 'loop.png'" in capsys.readouterr().err


def test_a_prompt_too_long_fails_before_any_image_is_embedded(image_tree, tiny_model, capsys, monkeypatch):
    # Issue 17 item 8 (reliability case 50): it used to fail only after every image was embedded.
    monkeypatch.chdir(image_tree)
    long_name = " ".join(["enormous"] * 90)  # far beyond the 77-token context
    arguments = ["classify", "single.png", "photos/cat/broken.jpg", "--classes", "cat", long_name]
    assert main([*arguments, "--templates", "simple", *model_options(tiny_model)]) == 3
    err = capsys.readouterr().err
    assert "(--truncate on the command line)" in err
    assert "embedding" not in err and "could not read" not in err  # the broken image was never reached


@pytest.fixture
def nan_embeddings(monkeypatch):
    """Make the model's image tower return NaN for the images at the given positions of each run.

    Use with ``--batch-size 1``; returns the set of positions to fill in.
    """
    import torch

    from skclip_sage.encoders import OpenClipEncoder

    encode_images = OpenClipEncoder.encode_images
    positions, calls = set(), []

    def encode_images_with_nan(self, pixels):
        embeddings = torch.as_tensor(encode_images(self, pixels))
        calls.append(len(pixels))
        return torch.full_like(embeddings, float("nan")) if len(calls) - 1 in positions else embeddings

    monkeypatch.setattr(OpenClipEncoder, "encode_images", encode_images_with_nan)
    return positions, calls


def test_a_non_finite_embedding_is_listed_as_a_failure_not_dropped(tmp_path, tiny_model, nan_embeddings, capsys):
    # Issue 17 item 3, CLI side (reliability case 43): the row used to vanish with an empty failures file.
    positions, calls = nan_embeddings
    for index in range(3):
        write_image(tmp_path / "images" / f"img_{index}.png", (80 * index, 10, 10))
    image = str(tmp_path / "images" / "img_1.png")

    def classify(output, *options):
        calls.clear()
        clear_memory_caches()  # NaN is decided by the order of model calls: every run embeds every image
        return main(
            ["classify", str(tmp_path / "images"), "--classes", "cat", "dog", "--batch-size", "1", "-o", output]
            + ["--templates", "simple", *options, *model_options(tiny_model)]
        )

    positions.add(1)
    assert classify(str(tmp_path / "p.csv"), "--on-error", "skip") == 1
    err = capsys.readouterr().err
    assert f"could not embed {image!r}: " in err and "non-finite" in err
    assert [row["path"] for row in read_csv(tmp_path / "p.csv")] == [
        str(tmp_path / "images" / f"img_{index}.png") for index in (0, 2)
    ]
    (failure,) = read_csv(tmp_path / "p.failures.csv")
    assert failure["path"] == image and "non-finite" in failure["reason"]

    assert classify(str(tmp_path / "raised.csv")) == 3  # --on-error raise: like an unreadable image
    assert "1 of 3 image(s) gave no embedding (0 could not be read, 1 were read but" in capsys.readouterr().err
    assert not (tmp_path / "raised.csv").exists()

    positions.update({0, 2})
    assert classify(str(tmp_path / "none.csv"), "--on-error", "skip") == 3
    err = capsys.readouterr().err
    assert "none of the 3 image(s) gave an embedding: 3 were read but the model returned a non-finite" in err
    assert "could be read" not in err
    assert len(read_csv(tmp_path / "none.failures.csv")) == 3


@pytest.fixture(scope="module")
def nan_fox_model(tmp_path_factory):
    """A tiny ``local-dir:`` model whose token embedding of "fox" is NaN: its text tower breaks on one class."""
    import open_clip
    import torch
    from conftest import TINY_MODEL_CONFIG

    from skclip_sage.encoders import save_local_dir

    torch.manual_seed(0)
    model = open_clip.CLIP(**TINY_MODEL_CONFIG)
    (fox,) = open_clip.get_tokenizer("ViT-B-32").encode("fox")
    with torch.no_grad():
        model.token_embedding.weight[fox] = float("nan")
    return save_local_dir(tmp_path_factory.mktemp("nan_fox"), model, TINY_MODEL_CONFIG)


@pytest.mark.parametrize("selection", ["sage", "ensemble", "zpe", "autoclip", "random"])
def test_a_text_tower_giving_nan_for_one_class_is_refused_at_fit_naming_its_prompts(nan_fox_model, selection):
    # Issue 21 item 2: NaN text rows gave NaN scores, so every image went to the first class.
    from skclip_sage import SageZeroShotClassifier

    classifier = SageZeroShotClassifier(
        nan_fox_model, pretrained=None, class_names=["cat", "dog", "fox"], templates="simple", selection=selection
    )
    with pytest.raises(ValueError, match="NaN or infinite embeddings for") as raised:
        classifier.fit(np.eye(3, 32, dtype=np.float32))
    assert "fox" in str(raised.value) and "'a photo of a cat.'" not in str(raised.value)


def test_a_debiaser_whose_texts_embed_as_nan_is_refused_naming_them(nan_fox_model):
    # Issue 21 item 2, the debiasers' texts: they go through the same text encoding.
    from skclip_sage.debias import SpuriousTranslation

    debiaser = SpuriousTranslation(nan_fox_model, pretrained=None, spurious_prompts=["a photo of a fox.", "water"])
    with pytest.raises(ValueError, match=r"NaN or infinite embeddings for 1 of 2 prompts \['a photo of a fox.'\]"):
        debiaser.fit(np.eye(3, 32, dtype=np.float32))


def test_classify_with_a_text_tower_giving_nan_exits_non_zero_naming_the_prompts(tmp_path, nan_fox_model, capsys):
    # Issue 21 item 2, CLI side: classify exited 0 labelling every image as the first class.
    for index in range(2):
        write_image(tmp_path / "imgs" / f"img_{index}.png", (80 * index, 10, 10))
    code = main(
        ["classify", str(tmp_path / "imgs"), "--classes", "cat", "dog", "fox", "--templates", "simple"]
        + ["-o", str(tmp_path / "p.csv"), "--model", nan_fox_model, "--pretrained", "none"]
    )
    err = capsys.readouterr().err
    assert code != 0
    assert "NaN or infinite embeddings for" in err and "fox" in err
    assert not (tmp_path / "p.csv").exists()


def test_exit_codes_agree_with_help_for_one_label_and_a_missing_templates_file(image_tree, tiny_model, capsys):
    # Issue 21, section 7: a one-label manifest exited 3 and a missing --templates file 2, against --help.
    from skclip_sage.cli._errors import EXIT_CODES_HELP

    usage = " ".join(EXIT_CODES_HELP.split("\n  3 ")[0].split("\n  2 ")[1].split())
    assert "fewer than two classes given or in a manifest" in usage
    assert "a --templates value that is neither a built-in set nor an existing file" in usage
    (image_tree / "one.csv").write_text("path,label\nsingle.png,cat\nmore/m0.png,cat\n")
    options = model_options(tiny_model)
    assert main(["evaluate", "manifest", str(image_tree / "one.csv"), "--templates", "simple", *options]) == 2
    assert "has one label, 'cat'" in capsys.readouterr().err
    missing = str(image_tree / "my_templates.txt")
    assert main(["classify", str(image_tree / "single.png"), "--classes", "a", "b", "--templates", missing]) == 2
    assert "neither a built-in set" in capsys.readouterr().err


def test_a_warning_from_one_cause_is_printed_once(image_tree, tiny_model, capsys):
    # Issue 21, section 7: the classifier is fitted on the names before and after embedding; each fit warned.
    code = main(
        ["classify", str(image_tree / "single.png"), "--classes", "cat", "Cat", "--templates", "simple"]
        + model_options(tiny_model)
    )
    error = capsys.readouterr().err
    assert code == 0, error
    assert error.count("give identical prompts") == 1


def test_a_non_finite_embedding_is_said_to_give_no_embedding_not_to_be_unreadable(
    tmp_path, tiny_model, nan_embeddings, capsys
):
    # Issue 21, section 7: the failures note and evaluate's table called such an image "unreadable".
    positions, _ = nan_embeddings
    for label, colour in (("cat", 10), ("dog", 200)):
        for index in range(2):
            write_image(tmp_path / "images" / label / f"{label}_{index}.png", (colour, 10 * index, 10))
    positions.add(1)
    options = ["--batch-size", "1", "--templates", "simple", "--on-error", "skip", *model_options(tiny_model)]
    output = str(tmp_path / "report.csv")
    assert main(["evaluate", "folder", str(tmp_path / "images"), "--csv", output, *options]) == 1
    captured = capsys.readouterr()
    assert "listed the 1 image(s) that gave no embedding in" in captured.err
    # Rows counted as the user counts them (issue 23 section 6): 4 images, 1 left out, 3 evaluated.
    assert "4 images, 1 gave no embedding and left out" in captured.out and ", 3 evaluated;" in captured.out
    assert "unreadable" not in captured.err + captured.out


def test_evaluate_replaces_its_outputs_together_when_the_report_fails(tmp_path, tiny_model, monkeypatch, capsys):
    # Issue 21 section 4's rule for every command: the report, written last, failing must not
    # leave this run's --json and --csv beside the previous run's report.
    import errno

    import skclip_sage.cli._evaluate as evaluate_command
    from skclip_sage.cli._outputs import open_output

    for label, colour in (("cat", 10), ("dog", 200)):
        for index in range(2):
            write_image(tmp_path / "images" / label / f"{label}_{index}.png", (colour, 10 * index, 10))
    outputs = {name: tmp_path / name for name in ("r.json", "r.csv", "r.html")}
    options = ["--json", str(outputs["r.json"]), "--csv", str(outputs["r.csv"]), "--report", str(outputs["r.html"])]
    common = ["evaluate", "folder", str(tmp_path / "images"), "--templates", "simple", *model_options(tiny_model)]
    assert main([*common, *options, "--compare", "sage"]) == 0
    before = {name: path.read_bytes() for name, path in outputs.items()}

    def report_on_a_full_disk(path, *args):
        with open_output(path) as stream:
            stream.write("<!doctype html>")
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evaluate_command, "write_report_page", report_on_a_full_disk)
    assert main([*common, *options, "--compare", "sage,ensemble"]) != 0
    assert "No space left on device" in capsys.readouterr().err
    assert {name: path.read_bytes() for name, path in outputs.items()} == before
    assert sorted(os.listdir(tmp_path)) == sorted(["images", *outputs])  # nothing left behind
