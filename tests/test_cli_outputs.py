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
        (
            ["embed", IMAGE, "-o", "e.npy", "--paths", "s.csv", "--on-error", "skip", "--failures", "s.csv"],
            "--failures 's.csv' and --paths 's.csv' are the same",
        ),
        (["embed", "--manifest", "list.csv", "-o", "e.npy", "--paths", "list.csv"], "is the input"),
        (["embed", IMAGE, "-o", "e3.csv", "--on-error", "skip", "--failures", "e3.csv"], "are the same file"),
        (["embed", IMAGE, "-o", "link.npy"], "is the input"),  # a symlink to an input
        (["embed", IMAGE, "-o", "./photos/../e.csv", "--on-error", "skip", "--failures", "e.csv"], "are the same file"),
        (["classify", "--manifest", "list.csv", "--classes", "a", "b", "-o", "list.csv"], "is the input"),
        (["classify", IMAGE, "--classes", "a", "b", "--templates", "mine.csv", "-o", "mine.csv"], "is the input"),
        (["evaluate", "folder", "photos", "--json", "r.json", "--predictions", "r.json"], "are the same file"),
        (["evaluate", "folder", "photos", "--plot", OTHER], "is the input"),
        (
            ["evaluate", "folder", "photos", "--plot", "p.png", "--predictions", "p.csv", "--json", "p.templates.json"],
            "same file",
        ),
        (["evaluate", "manifest", "list.csv", "--csv", "list.csv"], "is the input"),
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

        table = pyarrow.parquet.read_table(f"x{extension}")
        assert table.column_names == ["path", "embedding"]
        assert table.schema.field("embedding").type == pyarrow.list_(pyarrow.float32(), expected.shape[1])
        assert table.column("path").to_pylist() == paths
        got = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
        np.testing.assert_array_equal(got, expected)  # float32 all the way: bit for bit
        return
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


# --- issue 17: the model's files, temporary names, spreadsheets, folders ------------------


@pytest.mark.parametrize(
    ("arguments", "destroyed"),
    [
        (["classify", IMAGE, "--classes", "a", "b", "-o", "model/open_clip_config.json"], "open_clip_config.json"),
        (["evaluate", "folder", "photos", "--json", "model/open_clip_model.safetensors"], "open_clip_model"),
        (["embed", IMAGE, "-o", "model/open_clip_config.json"], "open_clip_config.json"),
    ],
)
def test_an_output_onto_the_local_dir_models_files_is_refused(photos, arguments, destroyed, capsys):
    # Issue 17 item 1 (reliability case 41): the model's files are inputs; they used to be overwritten.
    (photos / "model").mkdir()
    (photos / "model" / "open_clip_config.json").write_text('{"model_cfg": {}}')
    (photos / "model" / "open_clip_model.safetensors").write_bytes(b"weights")
    before = snapshot(photos)
    code = main([*arguments, "--model", "local-dir:model", "-q"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "is the input" in err and destroyed in err and "Nothing was written" in err
    assert snapshot(photos) == before


def test_outputs_onto_a_transformers_folder_or_a_checkpoint_are_refused(photos, capsys):
    # Issue 17 item 1 (reliability case 41): a transformers: folder and a --pretrained file too.
    (photos / "hfmodel").mkdir()
    (photos / "hfmodel" / "config.json").write_text("{}")
    (photos / "weights.bin").write_bytes(b"checkpoint")
    before = snapshot(photos)
    for arguments in (
        ["evaluate", "folder", "photos", "--json", "hfmodel/config.json", "--model", "transformers:hfmodel"],
        ["evaluate", "folder", "photos", "--model", "ViT-B-32", "--pretrained", "weights.bin", "--json", "weights.bin"],
    ):
        assert main([*arguments, "-q"]) == 2
        assert "is the input" in capsys.readouterr().err
    assert snapshot(photos) == before


def test_a_symlink_at_a_temporary_name_cannot_redirect_the_write(tmp_path):
    # Issue 17 item 6a (reliability case 44): the temporary file is new (O_EXCL), never a planted link.
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = tmp_path / "out.csv"
    (tmp_path / f".out.csv.partial-{os.getpid()}").symlink_to(victim)  # the name the old code used
    with open_output(str(target)) as stream:
        stream.write("result\n")
    assert victim.read_text() == "precious\n"
    assert not target.is_symlink() and target.read_text() == "result\n"
    # A new output gets the permissions open() would give it, not mkstemp's 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(photos, tiny_model, capsys):
    # Issue 17 item 6c (reliability case 45): OWASP's characters get a leading apostrophe; numbers stay numbers.
    write_image_copy = (photos / "photos" / "cat" / "cat_000.png").read_bytes()
    (photos / "=evil.png").write_bytes(write_image_copy)
    (photos / "@broken.png").write_text("not an image")
    (photos / "list.csv").write_text("path,note\n=evil.png,-2+3\n@broken.png,fine\n")
    code = main(
        ["classify", "--manifest", "list.csv", "--classes", "=HYPERLINK(1)", "+dog", "-o", "p.csv"]
        + ["--on-error", "skip"]
        + model_options(tiny_model)
    )
    assert code == 1, capsys.readouterr().err
    (row,) = read_rows("p.csv")
    assert row["path"] == "'=evil.png" and row["note"] == "'-2+3"
    assert row["predicted_class"] in ("'=HYPERLINK(1)", "'+dog")
    assert 0 <= float(row["probability_=HYPERLINK(1)"]) <= 1  # headers only start with 'probability_'
    assert [failure["path"] for failure in read_rows("p.failures.csv")] == ["'@broken.png"]
    # The other formats hold the values as they are.
    assert (
        main(
            ["classify", "--manifest", "list.csv", "--classes", "a", "b", "-o", "p.json", "--on-error", "skip"]
            + model_options(tiny_model)
        )
        == 1
    )
    assert json.loads((photos / "p.json").read_text())[0]["path"] == "=evil.png"
    from skclip_sage.cli._outputs import escape_formula

    for cell in ("=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert escape_formula(cell) == "'" + cell
    for cell in ("-0.5", "+1", "1e-05", "-inf", "cat", "", 3):
        assert escape_formula(cell) == cell


def test_output_folders_are_created(photos, tiny_model, capsys):
    # Issue 15 (reliability case 62): the README's `--json out/report.json` used to exit 3.
    code = main(
        ["evaluate", "folder", "photos", "--compare", "single", "--json", "out/report.json"]
        + ["--predictions", "out/deeper/predictions.csv", "--on-error", "skip"]
        + model_options(tiny_model)
    )
    assert code == 0, capsys.readouterr().err
    assert json.loads((photos / "out" / "report.json").read_text())["n_evaluated"] == 4
    assert len(read_rows(photos / "out" / "deeper" / "predictions.csv")) == 4
    assert (photos / "out" / "report.failures.csv").read_text() == "path,reason\n"


def test_an_output_under_a_file_says_the_file_is_not_a_folder(photos, capsys):
    # Issue 17 item 9 (reliability case 58): it used to say that the folder does not exist.
    code = main(["classify", IMAGE, "--classes", "a", "b", "-o", f"{IMAGE}/p.csv", "--model", "local-dir:/no/such"])
    err = capsys.readouterr().err
    assert code == 3 and f"{IMAGE!r} is a file, not a folder" in err and "does not exist" not in err


def test_a_name_that_just_fits_is_written_and_a_longer_one_fails_before_any_work(photos, tiny_model, capsys):
    # Issue 17 item 8 (reliability case 52): the temporary name no longer grows from the output's.
    name = "p" * 248 + ".csv"  # 252 bytes, under the usual limit of 255
    assert main(["classify", IMAGE, "--classes", "a", "b", "-o", name] + model_options(tiny_model)) == 0
    assert len(read_rows(photos / name)) == 1 and sorted(os.listdir(photos)) == sorted(["photos", name])
    capsys.readouterr()
    longer = "p" * 300 + ".csv"
    assert main(["classify", IMAGE, "--classes", "a", "b", "-o", longer, "--model", "local-dir:/no/such"]) == 3
    err = capsys.readouterr().err
    assert "304 bytes long, more than the 255" in err and "/no/such" not in err


def test_a_folder_that_cannot_be_written_fails_before_any_work_naming_the_output(photos, monkeypatch, capsys):
    # Issue 17 item 8 (reliability case 53): root writes anywhere, so the refusal is injected.
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: str(path) != str(photos / "ro") and access(path, mode))
    (photos / "ro").mkdir()
    code = main(["classify", IMAGE, "--classes", "a", "b", "-o", "ro/p.csv", "--model", "local-dir:/no/such"])
    err = capsys.readouterr().err
    assert code == 3 and "--output 'ro/p.csv': cannot write to the folder" in err and "/no/such" not in err


def test_a_write_that_fails_names_the_output_not_the_temporary_file(photos, tiny_model, monkeypatch, capsys):
    # Issue 17 item 8 (reliability case 53): the error used to name '.p.csv.partial-<pid>'.
    def refuse(*args, dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", os.path.join(dir, ".p.csv.tmp"))

    monkeypatch.setattr("skclip_sage.cli._atomic.tempfile.mkstemp", refuse)
    code = main(["classify", IMAGE, "--classes", "a", "b", "-o", "p.csv"] + model_options(tiny_model))
    err = capsys.readouterr().err
    assert code == 3 and "could not write 'p.csv': Permission denied" in err and ".tmp" not in err
    assert not (photos / "p.csv").exists()


def test_failures_and_sidecars_follow_their_extension(photos, tiny_model, capsys):
    # Issue 17 item 9 (reliability case 59): --failures x.parquet used to be a CSV named .parquet.
    import pyarrow.parquet

    (photos / "photos" / "cat" / "broken.png").write_text("not an image")
    code = main(
        ["classify", "photos", "--classes", "a", "b", "-o", "p.csv", "--on-error", "skip"]
        + ["--failures", "f.parquet"]
        + model_options(tiny_model)
    )
    assert code == 1, capsys.readouterr().err
    (failure,) = pyarrow.parquet.read_table(photos / "f.parquet").to_pylist()
    assert failure["path"].endswith("broken.png") and "cannot identify image file" in failure["reason"]
    before = snapshot(photos)
    for arguments in (
        ["classify", "photos", "--classes", "a", "b", "--on-error", "skip", "--failures", "f.txt"],
        ["embed", "photos", "-o", "e.npy", "--paths", "e.json"],
        ["evaluate", "folder", "photos", "--json", "r.csv"],
        ["evaluate", "folder", "photos", "--csv", "r.parquet"],
    ):
        assert main([*arguments, "--model", "local-dir:/no/such"]) == 2
        assert "ends in" in capsys.readouterr().err
    assert snapshot(photos) == before


@pytest.mark.parametrize("output", ["p.csv", "p.jsonl", "-"])
def test_a_file_name_that_is_not_utf8_fails_before_any_image_is_embedded(photos, tiny_model, output, capsys):
    # Issue 17 item 8 (reliability case 54): the text outputs used to fail after embedding, naming no file.
    undecodable = os.fsdecode(b"caf\xe9.png")
    (photos / "photos" / "cat" / undecodable).write_bytes((photos / IMAGE).read_bytes())
    options = ["--model", tiny_model, "--pretrained", "none", "--templates", "simple"]
    code = main(["classify", "photos", "--classes", "a", "b", "-o", output, *options])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    assert "caf\\xe9.png' is not valid UTF-8" in captured.err and "embedding" not in captured.err
    assert captured.out == "" and not (photos / output).exists()
    # .npy with its .txt sidecar keeps the name byte for byte.
    assert main(["embed", "photos", "-o", "e.npy", "-q", *options[:4]]) == 0
    assert b"caf\xe9.png\n" in (photos / "e.paths.txt").read_bytes()


def test_the_plot_legend_says_which_empty_groups_wga_excludes(tmp_path, tiny_model, capsys):
    # Issue 17 item 9 (reliability case 61): only the axis used to say "no samples".
    root = make_image_folder(tmp_path / "ds", classes=("cat", "dog"), n_per_class=2)
    for path in (root / "dog").iterdir():
        path.write_text("unreadable")
    code = main(
        [
            "evaluate",
            "folder",
            str(root),
            "--compare",
            "single",
            "--on-error",
            "skip",
            "--plot",
            str(tmp_path / "g.svg"),
        ]
        + model_options(tiny_model)
    )
    assert code == 1, capsys.readouterr().err
    assert "WGA excludes 1 group(s)" in (tmp_path / "g.svg").read_text()


def old_embed_set(photos, tiny_model):
    """An earlier ``embed -o e.npy`` of one image (1 row, 1 path, a failures file), as bytes."""
    assert main(["embed", IMAGE, "-o", "e.npy", "--on-error", "skip", *model_options(tiny_model, templates=False)]) == 0
    names = ("e.npy", "e.paths.txt", "e.failures.csv")
    return {name: (photos / name).read_bytes() for name in names}


def test_embed_replaces_its_array_and_sidecar_together_or_not_at_all_on_a_full_disk(
    photos, tiny_model, monkeypatch, capsys
):
    # Issue 21, section 4: on a full disk the .npy was replaced, then .paths.txt failed: the new 4-row array
    # sat beside the old 1-path sidecar while the message said "Nothing was written there".
    import errno

    import skclip_sage.cli._embed as embed_command

    before = old_embed_set(photos, tiny_model)
    real_sidecar = embed_command.write_sidecar

    def sidecar_on_a_full_disk(path, image_paths):
        with open_output(path, binary=True) as stream:
            stream.write(b"photos/cat/cat_000.png\n")  # part of it fits, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(embed_command, "write_sidecar", sidecar_on_a_full_disk)
    code = main(["embed", "photos", "-o", "e.npy", "--on-error", "skip", *model_options(tiny_model, templates=False)])
    error = capsys.readouterr().err
    assert code == 3
    assert "could not write 'e.paths.txt': No space left on device" in error
    assert "Nothing was written: 'e.npy', 'e.paths.txt', 'e.failures.csv' are as they were." in error
    assert {name: (photos / name).read_bytes() for name in before} == before
    assert sorted(os.listdir(photos)) == sorted(["photos", *before])  # no temporary file left behind
    assert np.load(photos / "e.npy").shape[0] == len((photos / "e.paths.txt").read_text().splitlines()) == 1
    # With room again, the whole new set goes in.
    monkeypatch.setattr(embed_command, "write_sidecar", real_sidecar)
    assert main(["embed", "photos", "-o", "e.npy", *model_options(tiny_model, templates=False)]) == 0
    assert np.load(photos / "e.npy").shape[0] == len((photos / "e.paths.txt").read_text().splitlines()) == 4


def test_embed_puts_the_old_set_back_when_moving_the_new_one_in_fails(photos, tiny_model, monkeypatch, capsys):
    # Issue 21, section 4: a failure between the renames must not leave half of each set either.
    before = old_embed_set(photos, tiny_model)
    real_replace = os.replace

    def replace(source, destination):
        if str(source).endswith(".partial") and str(destination).endswith("e.paths.txt"):
            raise OSError(5, "Input/output error")
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    code = main(["embed", "photos", "-o", "e.npy", "--on-error", "skip", *model_options(tiny_model, templates=False)])
    error = capsys.readouterr().err
    assert code == 3 and "could not write 'e.paths.txt': Input/output error" in error and "as they were" in error
    assert {name: (photos / name).read_bytes() for name in before} == before
    assert sorted(os.listdir(photos)) == sorted(["photos", *before])


def read_back(path):
    """``path`` read by the csv module and by pandas: (list of dict, DataFrame)."""
    import pandas

    frame = pandas.read_csv(path, dtype=str, keep_default_na=False)
    return read_rows(path), frame


def test_a_carriage_return_inside_a_csv_cell_is_quoted_in_every_command(photos, tiny_model, capsys):
    # Issue 21, section 5: with "\n" line ends the csv module left a bare "\r" unquoted, so readers split the row.
    carriage = os.path.join("photos", "cat", "a\rb.png")
    (photos / carriage).write_bytes((photos / IMAGE).read_bytes())
    (photos / "list.csv").write_bytes(b'path,note\n"photos/cat/a\rb.png","one\rtwo"\nphotos/dog/dog_000.png,plain\n')
    options = model_options(tiny_model)
    commands = {
        "classify.csv": ["classify", "photos", "--classes", "cat", "dog", "-o", "classify.csv", *options],
        "pass-through.csv": [
            "classify",
            "--manifest",
            "list.csv",
            "--classes",
            "cat",
            "dog",
            "-o",
            "pass-through.csv",
            *options,
        ],
        "embed.csv": ["embed", "photos", "-o", "embed.csv", *options[:5]],
        "sidecar.csv": ["embed", "photos", "-o", "embed.npy", "--paths", "sidecar.csv", *options[:5]],
        "predictions.csv": ["evaluate", "folder", "photos", "--predictions", "predictions.csv", *options],
    }
    for output, command in commands.items():
        assert main(command) == 0, (output, capsys.readouterr().err)
        rows, frame = read_back(photos / output)
        expected = 2 if output == "pass-through.csv" else 5
        assert len(rows) == len(frame) == expected, output
        assert list(frame["path"]) == [row["path"] for row in rows]
        assert any(row["path"].endswith(carriage) for row in rows), output
    rows, frame = read_back(photos / "pass-through.csv")
    assert [row["note"] for row in rows] == list(frame["note"]) == ["one\rtwo", "plain"]


def test_embed_parquet_layouts_are_read_by_pandas_and_pyarrow(photos, tiny_model, capsys):
    # Issue 22, section 3: Parquet from Arrow arrays, the embedding one fixed-size-list column; wide on request.
    import pandas
    import pyarrow.parquet

    options = model_options(tiny_model, False)
    assert main(["embed", "photos", "-o", "e.npy", *options]) == 0
    expected = np.load(photos / "e.npy")
    assert main(["embed", "photos", "-o", "list.parquet", *options]) == 0
    assert main(["embed", "photos", "-o", "wide.parquet", "--parquet-layout", "wide", *options]) == 0
    frame = pandas.read_parquet(photos / "list.parquet")
    np.testing.assert_array_equal(np.stack(frame["embedding"].to_list()), expected)
    wide = pyarrow.parquet.read_table(photos / "wide.parquet")
    assert wide.column_names == ["path", *(f"embedding_{index}" for index in range(expected.shape[1]))]
    assert {field.type for field in wide.schema if field.name != "path"} == {pyarrow.float32()}
    np.testing.assert_array_equal(pandas.read_parquet(photos / "wide.parquet").iloc[:, 1:].to_numpy(), expected)
    assert main(["embed", "photos", "-o", "e.npz", "--parquet-layout", "wide", *options]) == 2
    assert "--parquet-layout applies to .parquet output only" in capsys.readouterr().err


def test_the_parquet_writer_writes_bounded_row_groups(tmp_path, monkeypatch):
    # Issue 22, section 3: rows go out a row group at a time, so the writer's memory does not grow with n.
    import pyarrow.parquet

    import skclip_sage.cli._parquet as parquet_module

    monkeypatch.setattr(parquet_module, "ROW_GROUP_BYTES", 4 * 8 * 100)  # 100 rows of 8 features per group
    embeddings = np.random.default_rng(0).standard_normal((1050, 8)).astype(np.float32)
    paths = [f"img_{index}.png" for index in range(1050)]
    for layout in parquet_module.PARQUET_LAYOUTS:
        with open(tmp_path / f"{layout}.parquet", "wb") as stream:
            assert parquet_module.write_embeddings_parquet(stream, embeddings, paths, layout=layout) == 11
        metadata = pyarrow.parquet.ParquetFile(tmp_path / f"{layout}.parquet").metadata
        assert metadata.num_row_groups == 11 and metadata.num_rows == 1050
        assert {metadata.row_group(group).num_rows for group in range(10)} == {100}
        table = pyarrow.parquet.read_table(tmp_path / f"{layout}.parquet")
        assert table.column("path").to_pylist() == paths
        got = (
            np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
            if layout == "list"
            else np.column_stack([table.column(f"embedding_{index}").to_numpy() for index in range(8)])
        )
        np.testing.assert_array_equal(got, embeddings)
    with pytest.raises(ValueError, match="layout must be one of"):
        parquet_module.write_embeddings_parquet(tmp_path / "x", embeddings, paths, layout="tall")


def test_classify_replaces_its_predictions_sidecar_and_failures_together(photos, tiny_model, monkeypatch, capsys):
    # Issue 21, section 4: outputs that belong together, as for embed; here the predictions fail to write last.
    import errno

    import skclip_sage.cli._classify as classify_command

    (photos / "photos" / "cat" / "broken.png").write_text("not an image")
    command = ["classify", "photos", "--classes", "cat", "dog", "-o", "p.csv", "--on-error", "skip"]
    command += ["--selection", "ensemble", *model_options(tiny_model)]
    assert main(command) == 1, capsys.readouterr().err
    before = {name: (photos / name).read_bytes() for name in ("p.csv", "p.failures.csv", "p.templates.json")}
    (photos / "photos" / "cat" / "broken.png").unlink()

    def table_on_a_full_disk(path, columns, **options):
        with open_output(path):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(classify_command, "write_table", table_on_a_full_disk)
    assert main(command) == 3
    error = capsys.readouterr().err
    assert "could not write 'p.csv': No space left on device" in error and "are as they were" in error
    assert {name: (photos / name).read_bytes() for name in before} == before
    assert sorted(os.listdir(photos)) == sorted(["photos", *before])
