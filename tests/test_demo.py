"""Tests for ``skclip_sage.demo`` and ``skclip-sage demo``: the coloured digits, the caption
designs, the tiny-CLIP trainer (thread choice, progress lines), the run (outputs, reuse of
the trained model, refusal to overwrite another command's results) and the trained model
used end to end through the other commands.

The demo runs once per session and design in a configuration that trains in seconds
(``demo_fixtures.FAST_DEMO``); the trainer's determinism is checked on a smaller one.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from demo_fixtures import DIGIT_CLASSES, demo_run

from skclip_sage.cli import main
from skclip_sage.comparison import PAPER_MODES, WRITER_FILE, write_results
from skclip_sage.demo import (
    CAPTION_TEMPLATES,
    COLOUR_CAPTION_TEMPLATES,
    COLOURS,
    DIGIT_NAMES,
    DemoFilesError,
    caption_sources,
    design_captions,
    digit_captions,
    load_coloured_digits,
    pool_sources,
    run_demo,
    source_templates,
    tiny_clip_config,
    train_tiny_clip,
    write_coloured_digits,
)
from skclip_sage.demo._files import RECORD_FILE
from skclip_sage.selection import SELECTION_METHODS

SMALL = {"n_train": 50, "n_test": 20, "image_size": 16}
MICRO_MODEL = tiny_clip_config(image_size=16, patch_size=8, width=32, layers=1, embed_dim=16)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="session", params=["sources", "uniform"])
def any_design(request, tmp_path_factory):
    return demo_run(tmp_path_factory, design=request.param)


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
    # Training: each digit mostly in its own colour (d % n_colours; 80 % by default), never always.
    assert 0.72 <= digits.majority[train].mean() <= 0.88
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


# --- captions and the caption designs ---------------------------------------------------


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


@pytest.fixture(scope="module")
def design_benchmark(tmp_path_factory):
    """The design's own training split (1,500 digits, two colours, default majority fraction); tiny images."""
    digits = write_coloured_digits(tmp_path_factory.mktemp("design"), n_train=1500, n_test=10, image_size=8)
    train = digits.split == "train"
    return digits, train


def test_source_b_is_colour_balanced_and_source_a_colour_determined(design_benchmark):
    digits, train = design_benchmark
    target, colour, majority = digits.target[train], digits.colour[train], digits.majority[train]
    sources = caption_sources(target, colour, majority, n_colours=2, seed=0)
    assert set(sources.tolist()) == {"A", "B"}
    in_a, in_b = sources == "A", sources == "B"
    # Source A: every image in its digit's own colour, so the colour is a function of the digit.
    assert majority[in_a].all()
    for digit in range(10):
        assert len(set(colour[in_a & (target == digit)].tolist())) == 1
    # Source B: every minority-colour image, and per digit as many in each colour: colour independent of digit.
    assert in_b[~majority].all()
    for digit in range(10):
        of_digit = in_b & (target == digit)
        assert of_digit.sum() > 0 and np.sum(colour[of_digit] == 0) == np.sum(colour[of_digit] == 1)
    assert np.mean(colour[in_b] == 0) == 0.5
    # Seeded: the same seed draws the same majority images into B, another seed others.
    assert np.array_equal(sources, caption_sources(target, colour, majority, n_colours=2, seed=0))
    assert not np.array_equal(sources, caption_sources(target, colour, majority, n_colours=2, seed=1))


def test_source_b_with_more_colours_takes_a_colours_share_of_majority_images():
    # Digit 0 in colour 0 (its own) eight times and once in each of colours 1-3: B takes round(3 / 3) = 1 own.
    target = np.zeros(11, dtype=int)
    colour = np.array([0] * 8 + [1, 2, 3])
    sources = caption_sources(target, colour, colour == 0, n_colours=4, seed=0)
    assert sources.tolist().count("B") == 4 and (sources[8:] == "B").all()


def test_each_source_is_captioned_only_with_its_ten_templates(design_benchmark):
    digits, train = design_benchmark
    target, colour, majority = digits.target[train], digits.colour[train], digits.majority[train]
    sources = caption_sources(target, colour, majority, n_colours=2, seed=0)
    colour_names = np.asarray(digits.colour_names)[colour]
    templates = source_templates("sources")
    assert templates == {"A": CAPTION_TEMPLATES[:10], "B": CAPTION_TEMPLATES[10:]}
    for design in ("sources", "uniform"):
        captions = design_captions(target, colour_names, sources, design)
        for index in (int(np.flatnonzero(sources == "A")[0]), int(np.flatnonzero(sources == "B")[0])):
            name = DIGIT_NAMES[target[index]]
            expected = source_templates(design)[sources[index]]
            digit_only = [caption for caption in captions[index] if colour_names[index] not in caption]
            # Its source's templates only, each as often; colour captions 2 in 22 under every design.
            assert sorted(set(digit_only)) == sorted(template.format(name) for template in expected)
            assert len(captions[index]) == 22 and len(digit_only) == 20
            assert len(set(digit_only)) == len(expected)
    assert len(source_templates("uniform")["A"]) == 20 and source_templates("uniform")["B"] == CAPTION_TEMPLATES
    with pytest.raises(ValueError, match="design must be one of"):
        design_captions([1], ["red"], ["A"], "mixed")
    with pytest.raises(ValueError, match="caption sources must be among"):
        design_captions([1], ["red"], ["C"])


def test_pool_sources_name_each_evaluation_template():
    assert pool_sources("sources") == ["A (biased)"] * 10 + ["B (balanced)"] * 10
    assert pool_sources("uniform") == ["templates 0-9"] * 10 + ["templates 10-19"] * 10


# --- the trainer --------------------------------------------------------------------------


def test_tiny_clip_config_errors():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        tiny_clip_config(image_size=30, patch_size=8)
    with pytest.raises(ValueError, match="multiple of 32"):
        tiny_clip_config(width=100)


@pytest.fixture(scope="module")
def small_training_set(tmp_path_factory):
    digits = write_coloured_digits(tmp_path_factory.mktemp("small"), seed=0, **SMALL)
    train = digits.split == "train"
    captions = digit_captions(digits.target[train], np.asarray(digits.colour_names)[digits.colour[train]])
    return digits.data[train], captions


def micro_training(small_training_set, folder, **arguments):
    images, captions = small_training_set
    call = {"model_cfg": MICRO_MODEL, "epochs": 2, "batch_size": 16, "num_threads": 1, "verbose": False}
    return train_tiny_clip(images, captions, folder, **{**call, **arguments})


def test_trainer_is_deterministic_for_a_seed_and_records_its_run(small_training_set, tmp_path):
    weights = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        model, summary = micro_training(small_training_set, tmp_path / name, seed=seed)
        assert model == f"local-dir:{(tmp_path / name).resolve()}"
        weights.append((tmp_path / name / "open_clip_model.safetensors").read_bytes())
    assert weights[0] == weights[1] and weights[0] != weights[2]
    assert summary.epochs == 2 and len(summary.losses) == 2 and np.isfinite(summary.final_loss)
    assert str(summary).startswith("trained 2 epochs on 50 images with 1 torch thread: loss ")
    record = json.loads((tmp_path / "c" / "training.json").read_text())
    assert record["seed"] == 1 and record["model_cfg"] == MICRO_MODEL and record["summary"]["epochs"] == 2
    assert record["summary"]["num_threads"] == 1 and record["thread_timings"] == {}


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"captions": [["a"]]}, "got 2 images but 1 caption lists"),
        ({"captions": [["a"], []]}, "1 images have no caption"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"max_lr": 0.0}, "max_lr must be positive"),
        ({"num_threads": 0}, "num_threads must be 'auto', None or an int >= 1"),
        ({"num_threads": "fast"}, "num_threads must be 'auto', None or an int >= 1"),
    ],
)
def test_trainer_argument_errors(tmp_path, arguments, message):
    call = {"image_paths": ["x.png", "y.png"], "captions": [["a"], ["b"]], "folder": tmp_path, **arguments}
    with pytest.raises(ValueError, match=message):
        train_tiny_clip(**call)


def test_fastest_thread_count_keeps_the_faster_and_restores_torch():
    import torch

    from skclip_sage.demo._threads import fastest_thread_count

    # A clock that advances by each step's cost under the thread count the step runs with: no real timing.
    now, seen = [0.0], []
    cost = {1: 0.5, 2: 0.2, 3: 0.2}

    def make_trial():
        def step():
            seen.append(torch.get_num_threads())
            now[0] += cost[torch.get_num_threads()]

        return step

    before = torch.get_num_threads()
    chosen, timings = fastest_thread_count(make_trial, [1, 2, 3], clock=lambda: now[0])
    assert chosen == 2  # 3 is as fast: a tie goes to fewer threads
    assert timings == pytest.approx({1: 0.5, 2: 0.2, 3: 0.2})
    assert seen == [1] * 4 + [2] * 4 + [3] * 4  # a warm-up step, then three timed ones, each
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least one candidate"):
        fastest_thread_count(make_trial, [])


def test_auto_threads_times_both_counts_logs_the_choice_and_trains_as_that_count(small_training_set, tmp_path):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lines = []
        _, summary = micro_training(small_training_set, tmp_path / "auto", num_threads="auto", log=lines.append)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    record = json.loads((tmp_path / "auto" / "training.json").read_text())
    timings = {int(threads): seconds for threads, seconds in record["thread_timings"].items()}
    assert set(timings) == {1, 2} and summary.num_threads == min(timings, key=timings.get)
    (choice,) = [line for line in lines if line.startswith("torch threads: timed a training step with 1 thread")]
    assert choice.endswith(f"training with {summary.num_threads}")
    # Timing ran on a throwaway copy: the weights are those of a run told that thread count outright.
    micro_training(small_training_set, tmp_path / "fixed", num_threads=summary.num_threads)
    assert (tmp_path / "auto" / "open_clip_model.safetensors").read_bytes() == (
        tmp_path / "fixed" / "open_clip_model.safetensors"
    ).read_bytes()


PROGRESS_LINE = re.compile(r"^epoch (\d+)/4: loss \d+\.\d{3}, \d+ s elapsed, about \d+ s left$")


def test_progress_lines_when_stderr_is_not_a_terminal(small_training_set, tmp_path, monkeypatch):
    import io

    pipe = io.StringIO()  # what a log file or a pipe is: no terminal
    monkeypatch.setattr(sys, "stderr", pipe)
    lines = []
    micro_training(small_training_set, tmp_path / "log", epochs=4, verbose=True, log=lines.append)
    epochs = [int(PROGRESS_LINE.match(line)[1]) for line in lines if PROGRESS_LINE.match(line)]
    assert epochs == [1, 2, 3, 4] and len(lines) == 4
    assert "Training tiny CLIP" not in pipe.getvalue()  # no progress bar where no one sees it redrawn


def test_progress_bar_and_no_lines_on_a_terminal(small_training_set, tmp_path, monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    lines = []
    micro_training(small_training_set, tmp_path / "bar", epochs=4, verbose=True, log=lines.append)
    assert not [line for line in lines if PROGRESS_LINE.match(line)]
    assert "Training tiny CLIP" in terminal.getvalue()


def test_progress_lines_come_every_few_epochs_and_at_the_end():
    from skclip_sage.demo._progress import EpochProgress

    lines = []
    progress = EpochProgress(60, verbose=False, log=lines.append)
    for epoch in range(1, 61):
        progress.update(epoch, 2.5)
    progress.close()
    assert [int(line.split("/")[0].split()[1]) for line in lines] == list(range(6, 61, 6))
    assert lines[-1].endswith("about 0 s left")


# --- the run ---------------------------------------------------------------------------


def rows_of(result, mode):
    return [row for row in result.rows if row["mode"] == mode]


def test_trained_model_learned_and_shows_the_spurious_effect(any_design):
    ensemble = rows_of(any_design, "ensemble")[0]
    assert ensemble["subsets"]["majority groups"] >= 80.0, ensemble
    assert ensemble["subsets"]["minority groups"] < ensemble["subsets"]["majority groups"]
    assert any_design.training_accuracy >= 60.0
    assert not any_design.model_reused


def test_rows_hold_every_template_alone_grouped_by_source_and_the_comparisons_modes(any_design):
    singles = rows_of(any_design, "single")
    sources = pool_sources(any_design.design)
    assert [row["template"] for row in singles] == list(range(20))  # grouped by source: A's ten, then B's
    assert [row["source"] for row in singles] == sources
    assert [row["template_text"] for row in singles] == list(CAPTION_TEMPLATES)
    assert all(row["n_templates"] == 1 and row["k"] == 1 for row in singles)
    # Every mode of the comparison's defaults appears, with no demo list to update.
    assert {mode for mode in PAPER_MODES} <= {row["mode"] for row in any_design.rows}
    assert {"roboshot", "tie*", "orth_proj", "orth_cali", "roboshot+sage", "orth_cali+sage"} <= {
        row["mode"] for row in any_design.rows
    }
    for row in any_design.rows:
        assert set(row["subsets"]) == {"majority groups", "minority groups"}
        per_image = SELECTION_METHODS.get(row["mode"].split("+")[-1])
        chooses = row["template"] is None and per_image is not None and per_image.per_image
        assert (row["selections"] is not None) is chooses, row["mode"]
    for row in rows_of(any_design, "sage"):
        (majority, minority) = row["selections"]
        assert (majority["subset"], minority["subset"]) == ("majority groups", "minority groups")
        assert sum(minority["shares"].values()) == pytest.approx(100.0)
        assert set(minority["shares"]) == set(sources)


def test_results_files_state_what_was_measured(any_design):
    output = any_design.benchmark.folder.parent
    assert [path.name for path in any_design.written] == [
        "results.csv",
        "results.md",
        "selections.csv",
        "results.png",
        "report.html",
    ]
    from PIL import Image

    with Image.open(output / "results.png") as image:
        assert image.format == "PNG" and image.size[0] >= 1400  # written large enough to read
    assert (output / WRITER_FILE).read_text() == "skclip-sage demo\n"
    markdown = (output / "results.md").read_text()
    assert "a toy with learned embeddings, not evidence about real data" in markdown
    assert f"caption design '{any_design.design}'" in markdown
    assert f"Training accuracy (zero-shot ensemble on the training split): {any_design.training_accuracy:.1f}%" in (
        markdown
    )
    assert "| Mode | K | Template | Source | Avg | WGA | Majority groups | Minority groups | Gap | HM |" in markdown
    assert "| single | 1 | 3: a drawing of the digit {}. |" in markdown
    full_table = markdown.split("## Every row\n\n")[1].split("\n\n")[0]
    assert full_table.startswith("| Mode |") and "Paper" not in full_table  # no published numbers: no paper columns
    assert "Where the per-image selections took their templates from" in markdown
    assert "Avg: plain accuracy over all images." in markdown and "skclip-sage evaluate manifest" in markdown
    # The verdict is computed from the rows.
    ensemble = rows_of(any_design, "ensemble")[0]
    sage = rows_of(any_design, "sage")
    singles = rows_of(any_design, "single")
    assert f"the ensemble (K=20) {ensemble['WGA']:.1f}" in markdown
    assert f"SAGE K=1 {sage[0]['WGA']:.1f}" in markdown
    assert f"to {max(row['WGA'] for row in singles):.1f} (template" in markdown
    beats = any(row["WGA"] > ensemble["WGA"] for row in sage)
    assert ("SAGE does not beat the ensemble on WGA at any K" in markdown) is not beats
    rows = read_rows(output / "results.csv")
    assert [(row["mode"], row["k"]) for row in rows] == [(row["mode"], str(row["k"])) for row in any_design.rows]
    assert {"template", "template_text", "source", "accuracy[majority groups]", "accuracy[minority groups]"} <= set(
        rows[0]
    )
    assert {"group_accuracy[three/yellow]", "group_accuracy[three/red]"} <= set(rows[0])
    assert not [column for column in rows[0] if column.startswith("paper_") or column == "pretrained"]
    for column in rows[0]:
        assert any(row[column] != "" for row in rows), column  # no empty column
    assert rows[3]["template"] == "3" and rows[3]["source"] == pool_sources(any_design.design)[3]
    shares = read_rows(output / "selections.csv")
    per_image = [row for row in any_design.rows if row["selections"]]
    assert [(row["mode"], row["k"], row["subset"]) for row in shares] == [
        (row["mode"], str(row["k"]), subset) for row in per_image for subset in ("majority groups", "minority groups")
    ]
    assert list(shares[0])[4:] == [f"share[{name}]" for name in dict.fromkeys(pool_sources(any_design.design))]
    assert (output / "templates.txt").read_text().splitlines() == list(CAPTION_TEMPLATES)


def test_results_md_leads_with_the_ranking_the_verdict_in_full_and_the_shares(any_design):
    """Issue 23 item 5: ranking by WGA first, then the verdict, the selection shares, and the full table last."""
    from skclip_sage.comparison._ranking import method_label, rank_rows

    output = any_design.benchmark.folder.parent
    markdown = (output / "results.md").read_text()
    headings = [
        "## Every method ranked by worst-group accuracy",
        "## Verdict",
        "## What the selections chose",
        "## Every row",
    ]
    positions = [markdown.index(heading) for heading in headings]
    assert positions == sorted(positions)
    ranked_section = markdown[positions[0] : positions[1]]
    lines = [line for line in ranked_section.splitlines() if line.startswith("| ") and "Place" not in line]
    ranked = rank_rows(any_design.rows)
    assert len(lines) == len(any_design.rows)  # every row, once
    for line, entry in zip(lines, ranked):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[0] == f"{entry['place']}{'=' if entry['tied'] > 1 else ''}"
        assert cells[1] == method_label(entry["row"], any_design.rows)
        assert cells[2:4] == [f"{entry['row']['WGA']:.1f}", f"{entry['row']['Avg']:.1f}"]
    wgas = [float(line.split("|")[3]) for line in lines]
    assert wgas == sorted(wgas, reverse=True)
    sage = min((entry for entry in ranked if entry["row"]["mode"] == "sage"), key=lambda entry: entry["row"]["k"])
    if sage["place"] > 1:
        assert f"sage K=1 is placed {sage['place']} of {len(ranked)}" in ranked_section
    smallest = min(count for count in any_design.rows[0]["group_counts"].values() if count)
    assert f"{100 / smallest:.1f} in the smallest group" in ranked_section
    verdict = markdown[positions[1] : positions[2]]
    beaten_by = sum(entry["row"]["WGA"] > sage["row"]["WGA"] + 1e-6 for entry in ranked)
    assert f"{beaten_by} row(s) beat it" in verdict and "It beats" in verdict and "It ties" in verdict


def test_second_run_reuses_the_model_and_a_new_recipe_or_design_retrains(tmp_path):
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
    assert json.loads((tmp_path / "model" / "demo.json").read_text())["recipe"]["design"]["name"] == "sources"
    # A model trained for one caption design never serves another.
    uniform = run_demo(tmp_path, epochs=1, design="uniform", **arguments)
    assert not uniform.model_reused
    assert json.loads((tmp_path / "model" / "demo.json").read_text())["recipe"]["design"]["name"] == "uniform"
    third = run_demo(tmp_path, epochs=2, design="uniform", **arguments)
    assert not third.model_reused and third.training.startswith("trained 2 epochs")
    # modes without "single": no per-template rows; plot=False removed nothing it had not written.
    assert [row["mode"] for row in third.rows] == ["ensemble", "sage", "tie*"]
    assert not (tmp_path / "results.png").exists()


def foreign_results(folder, writer="benchmarks/reproduce_paper.py"):
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("results.md", "results.csv"):
        (folder / name).write_text(f"{writer}'s {name}\n")
    (folder / WRITER_FILE).write_text(writer + "\n")
    return {name: (folder / name).read_text() for name in ("results.md", "results.csv")}


def test_demo_refuses_results_another_command_wrote_before_any_work(tmp_path, capsys):
    before = foreign_results(tmp_path / "out")
    code = main(["demo", "--output", str(tmp_path / "out"), "-q"])
    assert code == 2
    error = capsys.readouterr().err
    assert "results.md" in error and "results.csv" in error and "--force" in error
    assert "not written by the demo" in error and "results.written-by names benchmarks/reproduce_paper.py" in error
    assert {name: (tmp_path / "out" / name).read_text() for name in before} == before
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["results.csv", "results.md", WRITER_FILE]
    # Results that no marker vouches for are refused too, and --force does not change that.
    (tmp_path / "out" / WRITER_FILE).unlink()
    assert main(["demo", "--output", str(tmp_path / "out"), "--force", "-q"]) == 2
    assert "never overwritten, not even with --force" in capsys.readouterr().err
    with pytest.raises(DemoFilesError, match="force=True"):
        run_demo(tmp_path / "out", force=True)
    assert {name: (tmp_path / "out" / name).read_text() for name in before} == before


MICRO_RUN = {
    "n_train": 50,
    "n_test": 10,
    "batch_size": 16,
    "k_values": (1,),
    "modes": ("ensemble",),
    "debias_modes": (),
    "model_cfg": MICRO_MODEL,
    "verbose": False,
    "num_threads": 1,
    "epochs": 1,
}


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("force", [False, True])
def test_demo_never_overwrites_a_users_templates_or_model_even_with_force(tmp_path, capsys, force):
    # Issue 21, section 4: the results marker covered only results.*; templates.txt and model/ were overwritten.
    (tmp_path / "templates.txt").write_text("my own template {}\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "open_clip_model.safetensors").write_bytes(b"my own weights")
    (tmp_path / "model" / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    code = main(["demo", "--output", str(tmp_path), "-q", *(["--force"] if force else [])])
    error = capsys.readouterr().err
    assert code == 2, error
    for name in ("templates.txt", "open_clip_model.safetensors", "notes.txt"):
        assert name in error
    assert "--force" in error
    assert snapshot(tmp_path) == before  # nothing written, nothing changed
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model", "templates.txt"]
    with pytest.raises(DemoFilesError) as raised:
        run_demo(tmp_path, force=force, **MICRO_RUN)
    assert {path for path, _ in raised.value.conflicts} == {str(path) for path in before}
    assert snapshot(tmp_path) == before


def test_demo_rewrites_its_own_files_and_replaces_an_edited_one_only_with_force(tmp_path):
    run_demo(tmp_path, plot=False, **MICRO_RUN)
    record = json.loads((tmp_path / RECORD_FILE).read_text())["files"]
    assert {"templates.txt", "results.md", "model/open_clip_model.safetensors", "coloured_digits/manifest.csv"} <= set(
        record
    )
    assert all(value is not None for value in record.values())
    (tmp_path / "templates.txt").write_text("edited by hand {}\n")
    with pytest.raises(DemoFilesError, match="changed since the demo wrote it.*Pass --force"):
        run_demo(tmp_path, plot=False, **MICRO_RUN)
    assert (tmp_path / "templates.txt").read_text() == "edited by hand {}\n"
    again = run_demo(tmp_path, plot=False, force=True, **MICRO_RUN)
    assert again.model_reused
    assert (tmp_path / "templates.txt").read_text().splitlines() == list(CAPTION_TEMPLATES)


def test_a_rerun_with_other_benchmark_arguments_deletes_only_the_images_the_demo_wrote(tmp_path):
    # Issue 21, section 4: the whole of coloured_digits/images/ was deleted, the user's files with it.
    first = run_demo(tmp_path, plot=False, **MICRO_RUN)
    images = tmp_path / "coloured_digits" / "images"
    mine = [images / "mine.png", images / "train" / "0" / "mine.png", tmp_path / "coloured_digits" / "notes.txt"]
    for path in mine:
        path.write_bytes(b"the user's own file")
    second = run_demo(tmp_path, plot=False, seed=1, **MICRO_RUN)
    assert not second.model_reused
    assert all(path.read_bytes() == b"the user's own file" for path in mine)
    demo_images = set(first.benchmark.data) | set(second.benchmark.data)
    on_disk = {str(path) for path in images.rglob("*.png")} - {str(path) for path in mine}
    assert on_disk == set(second.benchmark.data) and on_disk != set(first.benchmark.data)
    assert on_disk <= demo_images
    # The standalone writer keeps a stranger's file too: it deletes only what its manifest lists.
    standalone = write_coloured_digits(tmp_path / "alone", seed=0, **SMALL)
    (tmp_path / "alone" / "images" / "mine.png").write_bytes(b"mine")
    write_coloured_digits(tmp_path / "alone", seed=1, **SMALL)
    assert (tmp_path / "alone" / "images" / "mine.png").read_bytes() == b"mine"
    assert not any(
        Path(path).exists() for path in set(standalone.data) - set(load_coloured_digits(tmp_path / "alone").data)
    )


def test_a_no_plot_rerun_removes_only_the_demos_results_png_and_says_so(tmp_path, monkeypatch, capsys):
    # Issue 21, section 4: write_results deleted results.png / selections.csv without a word.
    first = run_demo(tmp_path, **MICRO_RUN)
    assert (tmp_path / "results.png").is_file() and first.removed == []
    second = run_demo(tmp_path, plot=False, **MICRO_RUN)
    # The HTML report is drawn with the plots, so it goes with results.png.
    assert sorted(second.removed) == [tmp_path / "report.html", tmp_path / "results.png"]
    assert not (tmp_path / "results.png").exists() and not (tmp_path / "report.html").exists()
    recorded = json.loads((tmp_path / RECORD_FILE).read_text())["files"]
    assert "results.png" not in recorded and "report.html" not in recorded
    # The command line says so, once, as a warning (shown under --quiet too).
    import skclip_sage.demo

    def fake_run_demo(output, **arguments):
        return type(
            "Result", (), {"seconds": 0.0, "model": "m", "templates": "t", "removed": [tmp_path / "results.png"]}
        )()

    monkeypatch.setattr(skclip_sage.demo, "run_demo", fake_run_demo)
    assert main(["demo", "--output", str(tmp_path), "-q"]) == 0
    error = capsys.readouterr().err
    assert error.count("removed") == 1 and f"warning: removed {tmp_path / 'results.png'}" in error


def test_write_results_removes_only_its_own_earlier_files_and_says_so(demo, tmp_path):
    rows = rows_of(demo, "ensemble")
    lines = []
    # Another writer's results.png, overwritten under force: never deleted, only named.
    (tmp_path / "results.png").write_bytes(b"another command's plot")
    (tmp_path / WRITER_FILE).write_text("another command\n")
    write_results(tmp_path, rows, title="t", model="m", plot=False, writer="me", force=True, log=lines.append)
    assert (tmp_path / "results.png").read_bytes() == b"another command's plot"
    assert len(lines) == 1 and lines[0].startswith(f"left {tmp_path / 'results.png'} as it was")
    # Its own results.png of an earlier run: removed, and said.
    write_results(tmp_path, rows, title="t", model="m", plot=True, writer="me", log=lines.append)
    write_results(tmp_path, rows, title="t", model="m", plot=False, writer="me", log=lines.append)
    assert not (tmp_path / "results.png").exists()
    assert lines[-1] == f"removed {tmp_path / 'results.png'}: written by an earlier run of me, not by this one"


def test_demo_option_errors_name_the_option(tmp_path, capsys):
    # Issue 21, section 7: --k 21 became 20, --seed -5 failed without naming it, -o FILE gave a raw Errno.
    for options, message in (
        (["--k", "1", "21"], "--k: must be <= 20"),
        (["--seed", "-5"], "--seed: must be >= 0"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["demo", "--output", str(tmp_path / "never"), *options])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    (tmp_path / "a-file").write_text("not a folder")
    assert main(["demo", "--output", str(tmp_path / "a-file"), "-q"]) == 2
    error = capsys.readouterr().err
    assert "is a file, not a folder" in error and "Errno" not in error
    assert not (tmp_path / "never").exists() and (tmp_path / "a-file").read_text() == "not a folder"
    with pytest.raises(ValueError, match=r"k_values must be integers between 1 and 20.*\[1, 21\]"):
        run_demo(tmp_path / "never", k_values=(1, 21))
    with pytest.raises(ValueError, match="seed must be a non-negative integer; got -5"):
        run_demo(tmp_path / "never", seed=-5)
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        run_demo(tmp_path / "a-file")
    assert not (tmp_path / "never").exists()


# --- the command line ---------------------------------------------------------------------


def test_demo_command_help_and_registration(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--output DIR" in help_text and "--epochs" in help_text and "not evidence about real data" in help_text
    assert "--design {sources,uniform}" in help_text and "--threads N" in help_text and "--force" in help_text


@pytest.mark.parametrize(
    "options, expected",
    [
        ([], {"design": "sources", "num_threads": "auto", "force": False}),
        (["--design", "uniform", "--threads", "1", "--force"], {"design": "uniform", "num_threads": 1, "force": True}),
    ],
)
def test_demo_command_passes_design_threads_and_force(monkeypatch, tmp_path, options, expected):
    import skclip_sage.demo
    from skclip_sage.cli._runtime import LOGGER

    calls = []

    def fake_run_demo(output, **arguments):
        calls.append(arguments)
        return type("Result", (), {"seconds": 0.0, "model": "local-dir:m", "templates": "t.txt", "removed": []})()

    monkeypatch.setattr(skclip_sage.demo, "run_demo", fake_run_demo)
    assert main(["demo", "--output", str(tmp_path), *options]) == 0
    (arguments,) = calls
    assert {name: arguments[name] for name in expected} == expected
    assert arguments["log"] == LOGGER.info  # progress and the thread choice reach stderr through the CLI's logger


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_demo_threads_option_rejects_bad_values(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--threads", value])
    assert exit_info.value.code == 2 and "--threads" in capsys.readouterr().err


# --- the trained model through the other commands ---------------------------------------


def model_options(demo):
    return ["--model", demo.model, "--templates", demo.templates, "-q"]


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


def test_evaluate_manifest_agrees_with_the_demo_table(demo, tmp_path, capsys):
    out = tmp_path / "report.json"
    manifest = demo.benchmark.folder / "test.csv"
    command = ["evaluate", "manifest", str(manifest), "--group-column", "group", "--compare", "ensemble"]
    code = main(command + ["--json", str(out)] + model_options(demo))
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    (run,) = report["runs"]
    groups = {group["name"]: group for group in run["groups"]}
    assert len(groups) == len(demo.benchmark.group_names) and groups["three/yellow"]["count"] == 3
    # Same images, same model, same templates, same definition of Avg: the CLI agrees with the demo's table.
    ensemble = rows_of(demo, "ensemble")[0]
    assert report["average"] == "plain"
    assert run["summary"]["Avg"] == pytest.approx(ensemble["Avg"], abs=1e-6)
    assert run["summary"]["WGA"] == pytest.approx(ensemble["WGA"], abs=1e-6)


def test_the_record_never_deletes_an_edited_file_or_follows_a_link_even_with_force(tmp_path):
    # Issue 21, section 4: what --force may do, checked on the record alone (no demo run).
    from skclip_sage.demo._files import CHANGED, NOT_WRITTEN, WrittenFiles

    files = WrittenFiles(tmp_path)
    files.write_text("mine.txt", "the demo's\n")
    assert json.loads((tmp_path / RECORD_FILE).read_text())["files"]["mine.txt"] is not None
    (tmp_path / "mine.txt").write_text("edited by hand\n")
    assert files.why_not("mine.txt") == CHANGED and not files.unchanged("mine.txt")
    forced = WrittenFiles(tmp_path, force=True)
    assert forced.why_not("mine.txt") is None  # --force may replace it ...
    assert forced.remove(["mine.txt"]) == []  # ... but never deletes it
    assert (tmp_path / "mine.txt").read_text() == "edited by hand\n"
    (tmp_path / "target.txt").write_text("the user's\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "target.txt")
    assert forced.why_not("link.txt") == NOT_WRITTEN
    with pytest.raises(DemoFilesError, match="link.txt"):
        forced.write_text("link.txt", "the demo's\n")
    assert (tmp_path / "target.txt").read_text() == "the user's\n" and (tmp_path / "link.txt").is_symlink()
    # A file of the user's holding exactly what the demo would write is taken over: nothing changes.
    (tmp_path / "same.txt").write_text("the demo's\n")
    files.write_text("same.txt", "the demo's\n")
    assert "same.txt" in json.loads((tmp_path / RECORD_FILE).read_text())["files"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [RECORD_FILE, "mine.txt", "target.txt", "link.txt", "same.txt"]
    )  # no staging folder left behind


def test_a_rerun_into_a_relative_output_folder_reuses_its_own_files(tmp_path, monkeypatch):
    # The README's `demo --output results` is relative: the record's keys are relative to
    # the folder, so files found under it must be too, or the second run refuses its own model.
    monkeypatch.chdir(tmp_path)
    first = run_demo("out", **MICRO_RUN)
    second = run_demo("out", **MICRO_RUN)
    assert first.model == second.model and (tmp_path / "out" / "model" / "open_clip_model.safetensors").is_file()


def test_a_record_entry_outside_the_output_folder_is_ignored(tmp_path):
    # An edited demo-files.json cannot make the demo replace or delete a file elsewhere.
    from skclip_sage.demo._files import RECORD_FILE, WrittenFiles

    (tmp_path / "out").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    record = {"files": {"../notes.txt": None, str(tmp_path / "notes.txt"): None, "templates.txt": None}}
    (tmp_path / "out" / RECORD_FILE).write_text(json.dumps(record))
    files = WrittenFiles(tmp_path / "out")
    assert list(files.files) == ["templates.txt"]
    files.remove(["../notes.txt"])
    assert (tmp_path / "notes.txt").read_text() == "mine"
