"""Tests of skclip_sage.datasets on tiny trees in the real on-disk layouts."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from dataset_fixtures import (
    CELEBA_ATTRIBUTES,
    make_celeba,
    make_image_folder,
    make_pacs,
    make_vlcs,
    make_waterbirds,
)
from PIL import Image

from skclip_sage.datasets import (
    load_celeba,
    load_image_folder,
    load_pacs,
    load_vlcs,
    load_waterbirds,
)

BUNCH_FIELDS = {
    "data",
    "target",
    "groups",
    "target_names",
    "group_names",
    "class_prompts",
    "train_group_counts",
    "DESCR",
}


def rewrite_csv(path, edit):
    """Apply ``edit`` to the list of lines of a CSV file (header first) and save it."""
    lines = Path(path).read_text().splitlines()
    Path(path).write_text("\n".join(edit(lines)) + "\n")


def replace_cell(path, row, column, value):
    """Set one cell of data row ``row`` (0-based, header excluded) of a CSV file."""

    def edit(lines):
        header = lines[0].split(",")
        cells = lines[row + 1].split(",")
        cells[header.index(column)] = value
        lines[row + 1] = ",".join(cells)
        return lines

    rewrite_csv(path, edit)


def assert_same_bunch(first, second):
    assert first.keys() == second.keys()
    for key in first:
        if isinstance(first[key], np.ndarray):
            np.testing.assert_array_equal(first[key], second[key])
        else:
            assert first[key] == second[key]


# --------------------------------------------------------------------------- Waterbirds


def test_waterbirds_test_split_fields(tmp_path):
    folder = make_waterbirds(tmp_path, n_per_group=2)
    bunch = load_waterbirds(folder)
    assert BUNCH_FIELDS <= set(bunch)
    assert len(bunch.data) == 8
    assert all(os.path.isabs(path) and Path(path).is_file() for path in bunch.data)
    assert all(Path(path).is_relative_to(folder.resolve()) for path in bunch.data)
    assert bunch.data == sorted(bunch.data)
    assert bunch.target.dtype == np.int64 and bunch.groups.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(bunch.groups, [0, 0, 1, 1, 2, 2, 3, 3])
    assert set(bunch.split) == {"test"}
    assert bunch.target_names == ["landbird", "waterbird"]
    assert bunch.group_names == ["landbird_on_land", "landbird_on_water", "waterbird_on_land", "waterbird_on_water"]
    assert bunch.class_prompts == ["landbirds", "waterbirds"]
    assert "Sagawa" in bunch.DESCR and "wilds" in bunch.DESCR.lower()
    # Groups agree with the manifest: the fixture colours by group.
    colors = {Image.open(path).getpixel((0, 0))[:2] for path in bunch.data[:2]}
    assert len(colors) == 1


@pytest.mark.parametrize("split, size, code", [("train", 4, 0), ("val", 4, 1), ("test", 4, 2), ("all", 12, None)])
def test_waterbirds_splits(tmp_path, split, size, code):
    make_waterbirds(tmp_path, n_per_group=1)
    bunch = load_waterbirds(tmp_path, split=split)
    assert len(bunch.data) == size
    expected = {"train", "val", "test"} if code is None else {split}
    assert set(bunch.split) == expected


def test_waterbirds_root_or_parent_and_original_folder_name(tmp_path):
    folder = make_waterbirds(tmp_path)
    assert_same_bunch(load_waterbirds(folder), load_waterbirds(tmp_path))
    assert_same_bunch(load_waterbirds(str(folder)), load_waterbirds(tmp_path))
    original = make_waterbirds(tmp_path / "other", folder_name="waterbird_complete95_forest2water2")
    assert len(load_waterbirds(original.parent).data) == 8


def test_waterbirds_train_group_counts(tmp_path):
    make_waterbirds(tmp_path, n_per_group=(3, 1, 2, 4), splits=("train", "test"))
    bunch = load_waterbirds(tmp_path)
    np.testing.assert_array_equal(bunch.train_group_counts, [3, 1, 2, 4])
    no_train = make_waterbirds(tmp_path / "no_train", splits=("test",))
    np.testing.assert_array_equal(load_waterbirds(no_train).train_group_counts, [3498, 184, 56, 1057])


def test_waterbirds_order_does_not_depend_on_csv_order(tmp_path):
    folder = make_waterbirds(tmp_path, n_per_group=3)
    before = load_waterbirds(folder, split="all")
    rewrite_csv(folder / "metadata.csv", lambda lines: [lines[0], *reversed(lines[1:])])
    assert_same_bunch(before, load_waterbirds(folder, split="all"))
    assert_same_bunch(before, load_waterbirds(folder, split="all"))


@pytest.mark.parametrize("split", ["validation", "Test", None, 2])
def test_bad_split_lists_choices(tmp_path, split):
    make_waterbirds(tmp_path)
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'val', 'test', 'all'"):
        load_waterbirds(tmp_path, split=split)
    make_celeba(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_celeba(tmp_path, split=split)


def test_waterbirds_missing_folder_or_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*WILDS"):
        load_waterbirds(tmp_path / "nowhere")
    (tmp_path / "waterbirds_v1.0").mkdir()
    with pytest.raises(FileNotFoundError, match=r"metadata\.csv.*waterbirds_v1\.0.*wilds"):
        load_waterbirds(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file"):
        load_waterbirds(tmp_path / "file.txt")
    with pytest.raises(TypeError, match="folder path"):
        load_waterbirds(None)


def test_waterbirds_missing_column(tmp_path):
    folder = make_waterbirds(tmp_path)
    rewrite_csv(folder / "metadata.csv", lambda lines: [lines[0].replace("place,", "location,"), *lines[1:]])
    expected = r"metadata\.csv' has no column 'place'; columns found: 'img_id'.*'location'"
    with pytest.raises(ValueError, match=expected):
        load_waterbirds(folder)


@pytest.mark.parametrize("column, value", [("y", "2"), ("split", "3"), ("place", "water"), ("y", "")])
def test_waterbirds_bad_value_names_line(tmp_path, column, value):
    folder = make_waterbirds(tmp_path)
    replace_cell(folder / "metadata.csv", 2, column, value)
    with pytest.raises(ValueError, match=rf"metadata\.csv' line 4: column '{column}' must be one of"):
        load_waterbirds(folder)


def test_waterbirds_malformed_csv(tmp_path):
    folder = make_waterbirds(tmp_path)
    manifest = folder / "metadata.csv"
    rewrite_csv(manifest, lambda lines: [*lines[:3], lines[3] + ",extra", *lines[4:]])
    with pytest.raises(ValueError, match="line 4: expected 6 fields"):
        load_waterbirds(folder)
    manifest.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_waterbirds(folder)
    manifest.write_text("img_id,img_filename,y,split,place,place_filename\n\n")
    with pytest.raises(ValueError, match="no data rows"):
        load_waterbirds(folder)


def test_waterbirds_blank_lines_and_bom_are_tolerated(tmp_path):
    folder = make_waterbirds(tmp_path)
    manifest = folder / "metadata.csv"
    rewrite_csv(manifest, lambda lines: ["\ufeff" + lines[0], "", *lines[1:], ""])
    assert len(load_waterbirds(folder).data) == 8


def test_waterbirds_duplicate_rows_and_empty_split(tmp_path):
    folder = make_waterbirds(tmp_path, splits=("test",))
    with pytest.raises(ValueError, match=r"no rows with split == 1 \('val'\)"):
        load_waterbirds(folder, split="val")
    rewrite_csv(folder / "metadata.csv", lambda lines: [*lines, lines[1]])
    with pytest.raises(ValueError, match="twice.*lines 2 and 10"):
        load_waterbirds(folder)


@pytest.mark.parametrize(
    "entry, reason",
    [
        ("../../etc/passwd", "climbs out"),
        ("029.American_Crow/../../secret.jpg", "climbs out"),
        ("..\\..\\secret.jpg", "climbs out"),
        ("/etc/passwd", "is absolute"),
        ("C:\\Windows\\secret.jpg", "is absolute"),
        ("", "is empty"),
    ],
)
def test_waterbirds_unsafe_manifest_path(tmp_path, monkeypatch, entry, reason):
    folder = make_waterbirds(tmp_path / "data")
    secret = tmp_path / "secret.jpg"
    secret.write_text("not for you")
    replace_cell(folder / "metadata.csv", 1, "img_filename", entry)
    touched = []
    real_lstat, real_stat = os.lstat, os.stat
    # Record every path the loader stats: the secret must never be among them.
    monkeypatch.setattr(os, "lstat", lambda path, *a, **k: touched.append(str(path)) or real_lstat(path, *a, **k))
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: touched.append(str(path)) or real_stat(path, *a, **k))
    with pytest.raises(ValueError, match=rf"metadata\.csv' line 3: image path .* {reason}"):
        load_waterbirds(folder)
    assert not any(path.endswith(("secret.jpg", "passwd")) for path in touched)


def test_waterbirds_symlinks(tmp_path):
    folder = make_waterbirds(tmp_path / "data")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_text("not for you")
    inside_link = folder / "029.American_Crow" / "link.jpg"
    inside_link.symlink_to(sorted((folder / "086.Pacific_Loon").iterdir())[0])
    replace_cell(folder / "metadata.csv", 0, "img_filename", "029.American_Crow/link.jpg")
    assert any(path.endswith("link.jpg") for path in load_waterbirds(folder, split="train").data)

    (folder / "029.American_Crow" / "escape.jpg").symlink_to(outside / "secret.jpg")
    replace_cell(folder / "metadata.csv", 0, "img_filename", "029.American_Crow/escape.jpg")
    with pytest.raises(ValueError, match=r"metadata\.csv' line 2: .*escape\.jpg.* is a symlink to"):
        load_waterbirds(folder, split="train")

    (folder / "linked_folder").symlink_to(outside)
    replace_cell(folder / "metadata.csv", 0, "img_filename", "linked_folder/secret.jpg")
    with pytest.raises(ValueError, match="line 2: .*resolves outside"):
        load_waterbirds(folder, split="train")


def test_waterbirds_missing_images_are_listed(tmp_path):
    folder = make_waterbirds(tmp_path, n_per_group=2)
    bunch = load_waterbirds(folder, split="all")
    for path in bunch.data[:3]:
        os.remove(path)
    expected = r"3 of 24 Waterbirds images .* missing .*American_Crow_0001\.jpg' \(line 2\)"
    with pytest.raises(FileNotFoundError, match=expected):
        load_waterbirds(folder, split="all")
    # Only the requested split's files are checked.
    assert len(load_waterbirds(folder, split="test").data) == 8
    for path in bunch.data[3:10]:
        os.remove(path)
    with pytest.raises(FileNotFoundError, match=r"10 of 24 .*, \.\.\.\. The download"):
        load_waterbirds(folder, split="all")


def test_waterbirds_directory_in_place_of_image_is_missing(tmp_path):
    folder = make_waterbirds(tmp_path)
    path = load_waterbirds(folder).data[0]
    os.remove(path)
    os.mkdir(path)
    with pytest.raises(FileNotFoundError, match="1 of 8"):
        load_waterbirds(folder)


# ------------------------------------------------------------------------------ CelebA


def test_celeba_fields(tmp_path):
    folder = make_celeba(tmp_path, n_per_group=(3, 1, 2, 1), splits=("train", "val", "test"))
    bunch = load_celeba(folder)
    assert BUNCH_FIELDS <= set(bunch)
    assert len(bunch.data) == 7 and bunch.data == sorted(bunch.data)
    assert all(Path(path).parent == folder.resolve() / "img_align_celeba" for path in bunch.data)
    np.testing.assert_array_equal(bunch.groups, [0, 0, 0, 1, 2, 2, 3])
    np.testing.assert_array_equal(bunch.target, [0, 0, 0, 0, 1, 1, 1])
    assert bunch.target_names == ["dark_hair", "blond_hair"]
    assert bunch.group_names == ["dark_hair_female", "dark_hair_male", "blond_hair_female", "blond_hair_male"]
    assert bunch.class_prompts == ["a portrait with dark color hair", "a portrait with blonde color hair"]
    np.testing.assert_array_equal(bunch.train_group_counts, [3, 1, 2, 1])
    assert "Liu et al." in bunch.DESCR
    assert len(load_celeba(tmp_path, split="all").data) == 21
    assert set(load_celeba(tmp_path, split="val").split) == {"val"}


def test_celeba_other_attributes(tmp_path):
    make_celeba(tmp_path, n_per_group=3)
    bunch = load_celeba(tmp_path, split="all", target="Smiling", spurious="Young")
    assert bunch.group_names == ["not_smiling_not_young", "not_smiling_young", "smiling_not_young", "smiling_young"]
    assert bunch.class_prompts == ["a portrait without smiling", "a portrait with smiling"]
    attribute_file = tmp_path / "celebA_v1.0" / "list_attr_celeba.csv"
    attribute_rows = [line.split(",") for line in attribute_file.read_text().splitlines()[1:]]
    smiling = CELEBA_ATTRIBUTES.index("Smiling") + 1
    np.testing.assert_array_equal(bunch.target, [int(row[smiling] == "1") for row in attribute_rows])
    expected = "has no column 'Blond_hair'; columns found: 'image_id', '5_o_Clock_Shadow'.*41 in all"
    with pytest.raises(ValueError, match=expected):
        load_celeba(tmp_path, target="Blond_hair")
    with pytest.raises(ValueError, match="must differ"):
        load_celeba(tmp_path, target="Male", spurious="Male")
    with pytest.raises(TypeError, match="spurious must be an attribute name"):
        load_celeba(tmp_path, spurious=3)


def test_celeba_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*celebA"):
        load_celeba(tmp_path / "nowhere")
    folder = make_celeba(tmp_path)
    (folder / "list_eval_partition.csv").rename(folder / "partition.bak")
    with pytest.raises(FileNotFoundError, match=r"list_eval_partition\.csv.*WILDS"):
        load_celeba(tmp_path)
    (folder / "partition.bak").rename(folder / "list_eval_partition.csv")
    shutil.rmtree(folder / "img_align_celeba")
    with pytest.raises(FileNotFoundError, match="expected the folder .*img_align_celeba"):
        load_celeba(tmp_path)
    (folder / "list_attr_celeba.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"expected 'list_attr_celeba\.csv'"):
        load_celeba(tmp_path)


def test_celeba_bad_values_and_partition(tmp_path):
    folder = make_celeba(tmp_path)
    replace_cell(folder / "list_attr_celeba.csv", 4, "Male", "0")
    expected = r"list_attr_celeba\.csv' line 6: column 'Male' must be one of -1, 1; got '0'"
    with pytest.raises(ValueError, match=expected):
        load_celeba(folder)
    folder = make_celeba(tmp_path / "second")
    replace_cell(folder / "list_eval_partition.csv", 0, "partition", "test")
    with pytest.raises(ValueError, match=r"list_eval_partition\.csv' line 2: column 'partition'"):
        load_celeba(folder)
    folder = make_celeba(tmp_path / "third")
    rewrite_csv(folder / "list_eval_partition.csv", lambda lines: lines[:-2])
    expected = r"2 image ids .* have no row in .*list_eval_partition\.csv.*'000023\.jpg' \(line 24\)"
    with pytest.raises(ValueError, match=expected):
        load_celeba(folder)


def test_celeba_unsafe_image_id_and_missing_image(tmp_path):
    folder = make_celeba(tmp_path)
    (folder / "list_attr_celeba.csv").write_text(
        (folder / "list_attr_celeba.csv").read_text().replace("000017.jpg", "../../../etc/passwd")
    )
    (folder / "list_eval_partition.csv").write_text(
        (folder / "list_eval_partition.csv").read_text().replace("000017.jpg", "../../../etc/passwd")
    )
    expected = r"list_attr_celeba\.csv' line 18: image path '\.\./\.\./\.\./etc/passwd' climbs out"
    with pytest.raises(ValueError, match=expected):
        load_celeba(folder)
    folder = make_celeba(tmp_path / "second")
    (folder / "img_align_celeba" / "000018.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 8 CelebA images .*'000018\.jpg' \(line 19\)"):
        load_celeba(folder)


# ------------------------------------------------------------------------ PACS and VLCS


def test_pacs_all_domains(tmp_path):
    folder = make_pacs(tmp_path, n_per_class=2)
    bunch = load_pacs(tmp_path)
    assert BUNCH_FIELDS <= set(bunch) and bunch.train_group_counts is None
    assert len(bunch.data) == 56
    assert bunch.class_prompts == ["dog", "elephant", "giraffe", "guitar", "horse", "house", "person"]
    assert bunch.target_names == bunch.class_prompts
    assert bunch.domain_names == ["art_painting", "cartoon", "photo", "sketch"]
    assert len(bunch.group_names) == 28 and bunch.group_names[0] == "art_painting/dog"
    assert bunch.group_names[27] == "sketch/person"
    np.testing.assert_array_equal(bunch.groups, np.repeat(np.arange(28), 2))
    np.testing.assert_array_equal(bunch.target, np.tile(np.repeat(np.arange(7), 2), 4))
    for path, group in zip(bunch.data, bunch.groups):
        relative = Path(path).relative_to(folder.resolve())
        assert "/".join(relative.parts[:2]) == bunch.group_names[group]
    assert_same_bunch(bunch, load_pacs(folder))
    assert "Li et al." in bunch.DESCR


def test_pacs_domain_selection(tmp_path):
    make_pacs(tmp_path, domains=("photo", "sketch"))
    bunch = load_pacs(tmp_path, domains=["sketch", "photo"])
    assert bunch.domain_names == ["photo", "sketch"]
    assert bunch.group_names[7] == "sketch/dog"
    assert load_pacs(tmp_path, domains="sketch").group_names[0] == "sketch/dog"
    with pytest.raises(FileNotFoundError, match="expected 'art_painting'.*DomainBed"):
        load_pacs(tmp_path)
    for bad in (["Photo"], [], ["photo", "photo"]):
        with pytest.raises(ValueError, match="among 'art_painting', 'cartoon', 'photo', 'sketch'"):
            load_pacs(tmp_path, domains=bad)


def test_pacs_class_folder_errors(tmp_path):
    folder = make_pacs(tmp_path, domains=("photo",))
    shutil.rmtree(folder / "photo" / "horse")
    with pytest.raises(FileNotFoundError, match=r"photo' lacks the class folders \['horse'\]"):
        load_pacs(tmp_path, domains=["photo"])
    (folder / "photo" / "horse").mkdir()
    with pytest.raises(ValueError, match="class folder .*horse' has no images"):
        load_pacs(tmp_path, domains=["photo"])
    (folder / "photo" / "horse" / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="has no images"):
        load_pacs(tmp_path, domains=["photo"])
    (folder / "photo" / "horse" / "nested").mkdir()
    with pytest.raises(ValueError, match=r"horse' contains folders \('nested'\).*Move their images up"):
        load_pacs(tmp_path, domains=["photo"])
    (folder / "photo" / "horse" / "nested").rmdir()
    (folder / "photo" / "horse" / "a.JPG").write_bytes(b"")
    (folder / "photo" / "Horses").mkdir()
    with pytest.raises(ValueError, match=r"unexpected folders \['Horses'\]"):
        load_pacs(tmp_path, domains=["photo"])
    (folder / "photo" / "Horses").rmdir()
    (folder / "photo" / ".ipynb_checkpoints").mkdir()
    (folder / "photo" / "dog" / ".DS_Store").write_bytes(b"")
    (folder / "photo" / "dog" / "._photo_dog_000.jpg").write_bytes(b"")
    bunch = load_pacs(tmp_path, domains=["photo"])
    assert len(bunch.data) == 7 and bunch.data[4].endswith("horse/a.JPG")


def test_vlcs(tmp_path):
    folder = make_vlcs(tmp_path, n_per_class=1)
    bunch = load_vlcs(folder)
    assert len(bunch.data) == 20 and len(bunch.group_names) == 20
    assert bunch.class_prompts == ["bird", "car", "chair", "dog", "person"]
    assert bunch.group_names[5] == "LabelMe/bird"
    np.testing.assert_array_equal(bunch.groups, np.arange(20))
    assert "Fang et al." in bunch.DESCR
    with pytest.raises(ValueError, match="'Caltech101', 'LabelMe', 'SUN09', 'VOC2007'"):
        load_vlcs(folder, domains=["VOC2012"])
    with pytest.raises(FileNotFoundError, match="VLCS.*DomainBed"):
        load_vlcs(tmp_path / "missing")


def test_domain_tree_escaping_symlinks(tmp_path):
    folder = make_pacs(tmp_path / "data", domains=("photo",))
    outside = make_image_folder(tmp_path / "outside", classes=("guitar",))
    (folder / "photo" / "dog" / "escape.jpg").symlink_to(outside / "guitar" / "guitar_000.png")
    with pytest.raises(ValueError, match="escape.jpg' is a symlink to .*outside the dataset root"):
        load_pacs(folder, domains=["photo"])
    (folder / "photo" / "dog" / "escape.jpg").unlink()
    shutil.rmtree(folder / "photo" / "guitar")
    (folder / "photo" / "guitar").symlink_to(outside / "guitar")
    with pytest.raises(ValueError, match="guitar' is a symlink to"):
        load_pacs(folder, domains=["photo"])


# ------------------------------------------------------------------------ Image folders


def test_image_folder_flat(tmp_path):
    root = make_image_folder(tmp_path / "pets", classes=("dog", "cat"), n_per_class=2)
    for index, extension in enumerate([".jpg", ".JPEG", ".bmp", ".gif", ".webp", ".tif", ".TIFF"]):
        (root / "cat" / f"extra_{index}{extension}").write_bytes(b"")
    (root / "cat" / ".hidden.jpg").write_bytes(b"")
    (root / "cat" / "readme.md").write_text("not an image")
    (root / ".cache").mkdir()
    bunch = load_image_folder(root)
    assert bunch.target_names == bunch.class_prompts == bunch.group_names == ["cat", "dog"]
    assert len(bunch.data) == 11
    np.testing.assert_array_equal(bunch.target, [0] * 9 + [1] * 2)
    np.testing.assert_array_equal(bunch.groups, bunch.target)
    assert [Path(path).name for path in bunch.data[:3]] == ["cat_000.png", "cat_001.png", "extra_0.jpg"]
    assert bunch.train_group_counts is None and "2 classes" in bunch.DESCR
    assert_same_bunch(bunch, load_image_folder(str(root)))


def test_image_folder_with_domains(tmp_path):
    root = make_image_folder(tmp_path, classes=("a", "b"), n_per_class=1, domains=("d2", "d1"))
    shutil.rmtree(root / "d1" / "b")
    make_image_folder(root / "d1", classes=("c",), n_per_class=1)
    bunch = load_image_folder(root, domains=True)
    assert bunch.domain_names == ["d1", "d2"] and bunch.target_names == ["a", "b", "c"]
    assert bunch.group_names == ["d1/a", "d1/b", "d1/c", "d2/a", "d2/b", "d2/c"]
    np.testing.assert_array_equal(bunch.groups, [0, 2, 3, 4])
    np.testing.assert_array_equal(bunch.target, [0, 2, 0, 1])


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is a file"):
        load_image_folder(tmp_path / "file.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="has no subfolders"):
        load_image_folder(empty)
    tree = make_image_folder(tmp_path / "tree", domains=("d1",))
    with pytest.raises(ValueError, match="contains folders .*pass domains=True"):
        load_image_folder(tree)
    (tree / "d1" / "loose.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"1 image files directly in .*d1'.*loose\.jpg"):
        load_image_folder(tree, domains=True)
    flat = make_image_folder(tmp_path / "flat")
    (flat / "bird").mkdir()
    with pytest.raises(ValueError, match="class folder .*bird' has no images"):
        load_image_folder(flat)
    with pytest.raises(ValueError, match="directly in .*cat'.*leave domains=False"):
        load_image_folder(make_image_folder(tmp_path / "shallow"), domains=True)
    (tmp_path / "bare" / "d1").mkdir(parents=True)
    with pytest.raises(ValueError, match="hold no class folders"):
        load_image_folder(tmp_path / "bare", domains=True)


def test_image_folder_follows_symlinked_images_anywhere(tmp_path):
    # A tree of one's own (issue 9): images linked in from anywhere are samples,
    # named by the link; the benchmark loaders keep their guard (test above).
    root = make_image_folder(tmp_path / "pets")
    (root / "cat" / "alias.png").symlink_to(root / "dog" / "dog_000.png")
    (root / "kitten").symlink_to(root / "cat")
    bunch = load_image_folder(root)
    assert bunch.target_names == ["cat", "dog", "kitten"] and len(bunch.data) == 8
    outside = make_image_folder(tmp_path / "elsewhere", classes=("x",))
    (root / "dog" / "linked.png").symlink_to(outside / "x" / "x_000.png")
    (root / "bird").symlink_to(outside / "x")
    bunch = load_image_folder(root)
    assert bunch.target_names == ["bird", "cat", "dog", "kitten"]
    assert str(root / "dog" / "linked.png") in bunch.data
    assert [Path(path).name for path, target in zip(bunch.data, bunch.target) if target == 0] == [
        f"x_{index:03d}.png" for index in range(2)
    ]


# ----------------------------------------------------------------------------- Fixtures


def test_fixture_images_are_real_and_coloured_by_group(tmp_path):
    bunch = load_waterbirds(make_waterbirds(tmp_path), split="all")
    colours = {}
    for path, group in zip(bunch.data, bunch.groups):
        with Image.open(path) as image:
            assert image.size == (8, 8) and image.format == "JPEG"
            colours.setdefault(group, set()).add(image.convert("RGB").getpixel((4, 4))[0])
    assert len({min(values) for values in colours.values()}) == 4
    pacs = load_pacs(make_pacs(tmp_path))
    with Image.open(pacs.data[0]) as image:
        assert image.format == "JPEG"


# ----------------------------------------------------------------------------- Manifests


def test_load_manifest_columns_paths_and_class_texts(tmp_path):
    from skclip_sage.datasets import load_manifest

    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "mine.csv"
    manifest.write_text(
        "\ufeffpath,label,group,extra\n"
        "a.jpg,dog,land,1\n"
        "\n"  # blank lines carry no row
        "../up/b.jpg,cat,water,2\n"
        f"{tmp_path / 'abs.jpg'},dog,water,3\n"
    )
    bunch = load_manifest(
        manifest, group_column="group", class_names={"cat": ["cat", "kitten"], "dog": "dog", "owl": "owl"}
    )
    assert bunch.paths == ["a.jpg", "../up/b.jpg", str(tmp_path / "abs.jpg")]
    # Relative to the CSV's folder; absolute entries and '..' are taken as written.
    assert bunch.data == [
        str(tmp_path / "lists" / "a.jpg"),
        str(tmp_path / "lists" / "../up/b.jpg"),
        str(tmp_path / "abs.jpg"),
    ]
    assert bunch.target_names == ["cat", "dog", "owl"]  # a named class no row has is still a class
    assert bunch.target.tolist() == [1, 0, 1] and bunch.class_prompts == [["cat", "kitten"], "dog", "owl"]
    assert bunch.group_names == ["land", "water"] and bunch.groups.tolist() == [0, 1, 1]
    assert bunch.columns["extra"] == ["1", "2", "3"] and bunch.lines == [2, 4, 5]
    assert load_manifest(manifest).group_names == ["cat", "dog"]  # without a group column: the labels


@pytest.mark.parametrize(
    ("text", "options", "match"),
    [
        ("path,label\na.jpg,dog,x\n", {}, r"line 2: expected 2 fields like the header, got 3"),
        ("path,label\na.jpg\n", {}, r"line 2: expected 2 fields like the header, got 1"),
        ("file,label\na.jpg,dog\n", {}, r"no column 'path'; columns found: 'file', 'label'"),
        ("path,label\n,dog\n", {}, r"line 2: the 'path' cell is empty"),
        ("path,label\na.jpg,\n", {}, r"line 2: the 'label' cell is empty"),
        ("path,label\n", {}, r"lists no images"),
        ("path,label\na.jpg,dog\n", {"group_column": "g"}, r"no column 'g'"),
        ("path,label\na.jpg,dog\n", {"class_names": {"cat": "cat"}}, r"no text for the label\(s\) \['dog'\]"),
    ],
)
def test_load_manifest_errors_name_the_line_or_column(tmp_path, text, options, match):
    from skclip_sage.datasets import load_manifest

    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(ValueError, match=match):
        load_manifest(tmp_path / "m.csv", **options)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_manifest(tmp_path / "missing.csv")


def test_load_manifest_keeps_cells_exactly_as_written(tmp_path):
    # Issue 17 item 7 (reliability case 46): " lead.png" names a file whose name starts with a space.
    from skclip_sage.datasets import load_manifest

    (tmp_path / "m.csv").write_text('path,label\n" lead.png",cat\ntrail.png ,dog\n')
    bunch = load_manifest(tmp_path / "m.csv")
    assert bunch.paths == [" lead.png", "trail.png "]
    assert bunch.data == [str(tmp_path / " lead.png"), str(tmp_path / "trail.png ")]
    (tmp_path / "m.csv").write_text("path,label\na.png,   \n")
    with pytest.raises(ValueError, match=r"line 2: the 'label' cell is empty"):
        load_manifest(tmp_path / "m.csv")


def test_an_unterminated_quote_names_the_line_where_it_opens(tmp_path):
    # Issue 17 item 9 (reliability case 56): it used to be reported as a row with the wrong number of fields.
    from skclip_sage.datasets import load_manifest

    (tmp_path / "m.csv").write_text('path,label\na.png,cat\n"b.png,dog\nc.png,cat\n')
    with pytest.raises(ValueError, match=r"line 3: a quoted field opens here and is never closed") as info:
        load_manifest(tmp_path / "m.csv")
    assert "fields" not in str(info.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_manifest_says_what_it_is(tmp_path, encoding):
    # Issue 17 item 9 (reliability case 57): it used to fail "near line 0".
    from skclip_sage.datasets import load_manifest

    (tmp_path / "m.csv").write_bytes("path,label\na.png,cat\n".encode(encoding))
    expected = "UTF-32" if encoding == "utf-32" else "UTF-16"
    with pytest.raises(ValueError, match=f"is {expected}.* text, not UTF-8; save it as UTF-8") as info:
        load_manifest(tmp_path / "m.csv")
    assert "line 0" not in str(info.value)


def test_a_byte_that_is_not_utf8_is_located_on_its_line(tmp_path):
    from skclip_sage.datasets import load_manifest

    rows = "".join(f"img_{index}.png,cat\n" for index in range(3000))  # beyond the decoder's first chunk
    (tmp_path / "m.csv").write_bytes(b"\xef\xbb\xbfpath,label\n" + rows.encode() + b"caf\xe9.png,dog\n")
    with pytest.raises(ValueError, match=r"line 3002 is not UTF-8 text \(byte b'\\xe9'"):
        load_manifest(tmp_path / "m.csv")


def test_read_manifest_then_to_bunch_is_load_manifest_with_the_callers_option_names(tmp_path):
    # Issue 22: the CLI reads a manifest through skclip_sage.datasets' public face, in two steps.
    from skclip_sage.datasets import Manifest, load_manifest, read_manifest

    csv_file = tmp_path / "mine.csv"
    csv_file.write_text("path,label,shot\nimg/a.jpg,cat,indoor\nimg/b.jpg,dog,outdoor\n", encoding="utf-8")
    manifest = read_manifest(csv_file)
    assert isinstance(manifest, Manifest) and manifest.header == ["path", "label", "shot"]
    bunch = manifest.to_bunch(group_column="shot", class_names={"cat": ["cat", "kitten"], "dog": "dog"})
    expected = load_manifest(csv_file, group_column="shot", class_names={"cat": ["cat", "kitten"], "dog": "dog"})
    assert bunch.keys() == expected.keys()
    for key in bunch:
        got, want = bunch[key], expected[key]
        assert (got.tolist() if hasattr(got, "tolist") else got) == (want.tolist() if hasattr(want, "tolist") else want)
    with pytest.raises(ValueError, match="Name the column with --label-column"):
        manifest.to_bunch(label_column="class", options={"label_column": "--label-column"})
