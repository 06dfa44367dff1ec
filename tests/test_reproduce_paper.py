"""benchmarks/reproduce_paper.py end to end: on the simulator and on a fixture Waterbirds tree."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from dataset_fixtures import make_waterbirds

from skclip_sage.comparison import DEBIAS_MODES, PAPER_MODES, WRITER_FILE

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def reproduce_paper(monkeypatch):
    # The script imports its sibling module paper_numbers the way
    # `python benchmarks/reproduce_paper.py` does: from its own folder on sys.path.
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import reproduce_paper

    return reproduce_paper


def read_rows(output):
    with open(output / "results.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def row_of(rows, mode, k):
    (row,) = [row for row in rows if row["mode"] == mode and row["k"] == str(k)]
    return row


def test_simulation_writes_table_csv_and_plot(reproduce_paper, tmp_path):
    status = reproduce_paper.main(
        [
            "--simulate",
            "confidently_wrong",
            "--output",
            str(tmp_path),
            "--n-samples",
            "400",
            "--n-templates",
            "12",
            "--device",
            "cpu",
        ]
    )
    assert status == 0
    rows = read_rows(tmp_path)
    # single and ensemble once; K in {1, 3, 5, 10, 20, 80} clipped to 12 templates.
    assert [(row["mode"], row["k"]) for row in rows[:2]] == [("single", "1"), ("ensemble", "12")]
    for mode in ("random", "random_with_replacement", "text", "sage"):
        assert [row["k"] for row in rows if row["mode"] == mode] == ["1", "3", "5", "10", "12"]
    # Then every debiasing row once, TIE* fitted on the simulation's own training images.
    debias_rows = [(row["mode"], row["k"], row["fit_on"]) for row in rows[-6:]]
    assert debias_rows == [
        ("roboshot", "1", "evaluation"),
        ("tie*", "1", "train"),
        ("orth_proj", "1", "evaluation"),
        ("orth_cali", "1", "evaluation"),
        ("roboshot+sage", "1", "evaluation"),
        ("orth_cali+sage", "1", "evaluation"),
    ]
    for row in rows:
        average, worst = float(row["Avg"]), float(row["WGA"])
        assert 0 <= worst <= average <= 100
        assert float(row["Gap"]) == pytest.approx(average - worst, abs=0.011)
        assert not [column for column in row if column.startswith("paper_")]  # no simulated numbers: no columns
    # The regime's point shows in the table: SAGE (k=1) is confidently wrong.
    assert float(row_of(rows, "sage", 1)["WGA"]) < float(row_of(rows, "ensemble", 12)["WGA"]) - 30
    # K = n_templates is the ensemble exactly (not so for draws with replacement).
    assert row_of(rows, "sage", 12)["WGA"] == row_of(rows, "ensemble", 12)["WGA"]
    # RoboShot removes the background the vivid templates leak: stacked with SAGE it undoes the failure.
    assert float(row_of(rows, "roboshot+sage", 1)["WGA"]) > float(row_of(rows, "sage", 1)["WGA"]) + 30
    markdown = (tmp_path / "results.md").read_text()
    assert "| Mode | K | Avg | WGA | Gap | HM | Worst group |\n" in markdown
    assert (tmp_path / WRITER_FILE).read_text() == "benchmarks/reproduce_paper.py\n"
    assert "| sage | 1 |" in markdown and "confidently_wrong" in markdown
    assert (tmp_path / "results.png").read_bytes().startswith(PNG_SIGNATURE)


def test_waterbirds_fixture_with_tiny_local_dir_model(reproduce_paper, tmp_path, tiny_model):
    # Unequal group sizes in every split, so the adjusted average differs from the plain one.
    make_waterbirds(tmp_path / "data", n_per_group=[3, 1, 1, 2])
    output = tmp_path / "results"
    arguments = [
        "--dataset",
        "waterbirds",
        "--root",
        str(tmp_path / "data"),
        "--model",
        tiny_model,
        "--output",
        str(output),
        "--device",
        "cpu",
        "--batch-size",
        "4",
        "--k",
        "1",
        "3",
        "100",
    ]
    assert reproduce_paper.main(arguments) == 0
    rows = read_rows(output)
    assert {row["mode"] for row in rows} == {
        "single",
        "ensemble",
        "random",
        "random_with_replacement",
        "text",
        "sage",
        "roboshot",
        "tie*",
        "orth_proj",
        "orth_cali",
        "roboshot+sage",
        "orth_cali+sage",
        "score_average",
        "autoclip",
        "zpe",
        "perception",
        "perception+attributes",
    }
    assert row_of(rows, "perception+attributes", 12)["n_templates"] == "12"  # the official 12 backgrounds
    assert row_of(rows, "tie*", 1)["fit_on"] == "train"  # Waterbirds has a train split
    assert [row["k"] for row in rows if row["mode"] == "sage"] == ["1", "3", "80"]
    assert all(row["n_images"] == "7" for row in rows)
    # Avg is WILDS's adjusted average: group accuracies weighted by the train counts 3:1:1:2.
    group_columns = [column for column in rows[0] if column.startswith("group_accuracy[")]
    assert len(group_columns) == 4
    for row in rows:
        accuracies = [float(row[column]) for column in group_columns]
        weighted = sum(weight * value for weight, value in zip([3, 1, 1, 2], accuracies)) / 7
        assert float(row["Avg"]) == pytest.approx(weighted, abs=0.011)
        assert float(row["WGA"]) == pytest.approx(min(accuracies), abs=0.011)
    # The paper's five-backbone means sit beside the matching rows (the tiny model is none of its backbones).
    assert (row_of(rows, "sage", 1)["paper_WGA"], row_of(rows, "sage", 1)["paper_HM"]) == ("44.9", "59.7")
    assert row_of(rows, "single", 1)["paper_WGA"] == "36.7"
    assert row_of(rows, "ensemble", 80)["paper_WGA"] == "36.2"
    assert row_of(rows, "sage", 3)["paper_WGA"] == ""
    markdown = (output / "results.md").read_text()
    assert "waterbirds (test split)" in markdown and "WILDS's adjusted average" in markdown
    assert "paper, mean of 5 backbones" in markdown
    assert (output / "results.png").read_bytes().startswith(PNG_SIGNATURE)
    # Images were embedded once and cached: a second run reads the cache and agrees.
    cached = list((output / "cache" / "image_embeddings").rglob("*"))
    assert sum(path.is_file() for path in cached) >= 7
    # --paper-model names the paper's backbone behind a local-dir: model; its own WGA replaces the mean.
    assert reproduce_paper.main([*arguments, "--no-plot", "--paper-model", "ViT-B-32"]) == 0
    again = read_rows(output)
    metrics = ("mode", "k", "Avg", "WGA", "Gap", "HM", *group_columns)
    assert [[row[name] for name in metrics] for row in again] == [[row[name] for name in metrics] for row in rows]
    assert (row_of(again, "sage", 1)["paper_WGA"], row_of(again, "sage", 1)["paper_source"]) == (
        "46.0",
        "paper, ViT-B/32",
    )
    assert row_of(again, "ensemble", 80)["paper_WGA"] == "36.2"


def test_dataset_needs_a_root(reproduce_paper, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce_paper.main(["--dataset", "waterbirds", "--output", str(tmp_path)])
    assert exit_info.value.code == 2 and "needs --root" in capsys.readouterr().err


def test_missing_dataset_folder_is_reported_not_raised(reproduce_paper, tmp_path, capsys):
    status = reproduce_paper.main(
        ["--dataset", "pacs", "--root", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out")]
    )
    assert status == 2 and "error:" in capsys.readouterr().err


def test_runs_as_a_script_the_way_the_readme_says(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "reproduce_paper.py"),
            "--simulate",
            "theory_holds",
            "--output",
            str(tmp_path / "results"),
            "--n-samples",
            "200",
            "--n-templates",
            "8",
            "--device",
            "cpu",
            "--no-plot",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""  # progress goes to stderr
    assert "sage K=1" in completed.stderr
    # The main job's table shows every row of the comparison.
    markdown = (tmp_path / "results" / "results.md").read_text()
    for mode in (*PAPER_MODES, *DEBIAS_MODES):
        assert f"| {mode} |" in markdown, mode


SMALL_SIMULATION = ["--simulate", "theory_holds", "--n-samples", "200", "--n-templates", "4", "--no-plot"]


def test_refuses_results_the_demo_wrote_unless_forced(reproduce_paper, tmp_path, capsys):
    for name in ("results.md", "results.csv", "results.png"):
        (tmp_path / name).write_text(f"the demo's {name}")
    (tmp_path / WRITER_FILE).write_text("skclip-sage demo\n")
    assert reproduce_paper.main([*SMALL_SIMULATION, "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "results.md" in error and "results.png" in error and "skclip-sage demo" in error and "--force" in error
    assert (tmp_path / "results.md").read_text() == "the demo's results.md"
    # --force overwrites them; the demo's plot, which this --no-plot run does not replace, is left and named
    # (issue 21, section 4: write_results deletes only files the marker shows its writer wrote).
    assert reproduce_paper.main([*SMALL_SIMULATION, "--output", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "results.md").read_text().startswith("# Selection and debiasing methods: simulation")
    assert (tmp_path / "results.png").read_text() == "the demo's results.png"
    assert f"left {tmp_path / 'results.png'} as it was" in capsys.readouterr().err
    assert (tmp_path / WRITER_FILE).read_text() == "benchmarks/reproduce_paper.py\n"
    # Its own results it rewrites without --force.
    assert reproduce_paper.main([*SMALL_SIMULATION, "--output", str(tmp_path)]) == 0


def test_paper_numbers_examples(reproduce_paper):
    # benchmarks/ is outside pytest's doctest paths; run its examples here.
    import doctest

    import paper_numbers

    assert doctest.testmod(paper_numbers).failed == 0
