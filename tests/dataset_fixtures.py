"""Builders of tiny datasets in the real on-disk layouts, for tests anywhere in the suite.

Each ``make_*`` function writes into ``root`` (usually pytest's ``tmp_path``) and returns
the dataset folder it created, so a test can pass either that folder or ``root`` to the
loader. Images are 8x8 pictures whose colour depends on the class/group (and varies a
little per image), so a real or fake encoder can tell groups apart.

Usage from a test module in ``tests/``::

    from dataset_fixtures import make_waterbirds

    def test_something(tmp_path):
        folder = make_waterbirds(tmp_path, n_per_group=2)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

__all__ = [
    "CELEBA_ATTRIBUTES",
    "PACS_CLASSES",
    "PACS_DOMAINS",
    "VLCS_CLASSES",
    "VLCS_DOMAINS",
    "make_celeba",
    "make_image_folder",
    "make_pacs",
    "make_vlcs",
    "make_waterbirds",
    "write_image",
]

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
PACS_DOMAINS = ("art_painting", "cartoon", "photo", "sketch")
PACS_CLASSES = ("dog", "elephant", "giraffe", "guitar", "horse", "house", "person")
VLCS_DOMAINS = ("Caltech101", "LabelMe", "SUN09", "VOC2007")
VLCS_CLASSES = ("bird", "car", "chair", "dog", "person")
# The 40 attribute columns of CelebA's list_attr_celeba.csv, in the file's order.
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)
# Well-separated colours, one per class or group index (cycled beyond the list).
PALETTE = (
    (34, 139, 34),
    (30, 144, 255),
    (160, 82, 45),
    (0, 0, 139),
    (255, 215, 0),
    (220, 20, 60),
    (128, 0, 128),
    (255, 140, 0),
    (0, 128, 128),
    (112, 128, 144),
)


def write_image(path, color, *, size=8) -> Path:
    """Write a ``size`` x ``size`` RGB image of one ``color``; the format follows the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), tuple(color)).save(path)
    return path


def _color(index, variation=0):
    red, green, blue = PALETTE[index % len(PALETTE)]
    # A small per-image shift keeps files distinct without blurring group colours.
    return (red, green, (blue + 3 * variation) % 256)


def _group_sizes(n_per_group, n_groups):
    if isinstance(n_per_group, int):
        return [n_per_group] * n_groups
    if len(n_per_group) != n_groups:
        raise ValueError(f"n_per_group needs {n_groups} counts, got {len(n_per_group)}.")
    return list(n_per_group)


def make_waterbirds(
    root,
    n_per_group: int | Sequence[int] = 2,
    *,
    splits=("train", "val", "test"),
    folder_name="waterbirds_v1.0",
) -> Path:
    """Write a WILDS-layout Waterbirds folder with ``n_per_group`` images per group and split.

    ``n_per_group`` is one count or four (landbird-land, landbird-water, waterbird-land,
    waterbird-water). Rows are written in img_id order: split, then group, then image.
    Returns ``root / folder_name``.
    """
    folder = Path(root) / folder_name
    species = {0: "029.American_Crow", 1: "086.Pacific_Loon"}
    places = {0: "/b/bamboo_forest", 1: "/o/ocean"}
    rows = ["img_id,img_filename,y,split,place,place_filename"]
    img_id = 1
    for split in splits:
        for group, count in enumerate(_group_sizes(n_per_group, 4)):
            label, place = divmod(group, 2)
            for index in range(count):
                name = f"{species[label]}/{species[label][4:]}_{img_id:04d}.jpg"
                write_image(folder / name, _color(group, index))
                rows.append(f"{img_id},{name},{label},{SPLIT_CODES[split]},{place},{places[place]}/{img_id:08d}.jpg")
                img_id += 1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder


def make_celeba(
    root,
    n_per_group: int | Sequence[int] = 2,
    *,
    splits=("train", "val", "test"),
    folder_name="celebA_v1.0",
) -> Path:
    """Write a WILDS-layout CelebA folder with ``n_per_group`` images per group and split.

    Groups follow ``2 * Blond_Hair + Male`` (dark-female, dark-male, blond-female,
    blond-male); the other 38 attributes get a fixed pattern of -1/1. Image ids are
    ``000001.jpg`` onwards in split, group, image order. Returns ``root / folder_name``.
    """
    folder = Path(root) / folder_name
    attribute_rows = ["image_id," + ",".join(CELEBA_ATTRIBUTES)]
    partition_rows = ["image_id,partition"]
    number = 1
    for split in splits:
        for group, count in enumerate(_group_sizes(n_per_group, 4)):
            blond, male = divmod(group, 2)
            for index in range(count):
                image_id = f"{number:06d}.jpg"
                write_image(folder / "img_align_celeba" / image_id, _color(group, index))
                values = {
                    name: 1 if (number + position) % 3 == 0 else -1 for position, name in enumerate(CELEBA_ATTRIBUTES)
                }
                values["Blond_Hair"] = 1 if blond else -1
                values["Male"] = 1 if male else -1
                cells = [image_id, *(str(values[name]) for name in CELEBA_ATTRIBUTES)]
                attribute_rows.append(",".join(cells))
                partition_rows.append(f"{image_id},{SPLIT_CODES[split]}")
                number += 1
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    (folder / "list_attr_celeba.csv").write_text("\n".join(attribute_rows) + "\n")
    (folder / "list_eval_partition.csv").write_text("\n".join(partition_rows) + "\n")
    return folder


def _make_domain_tree(folder, domains, classes, n_per_class, extension):
    for domain_index, domain in enumerate(domains):
        for class_index, class_name in enumerate(classes):
            group = domain_index * len(classes) + class_index
            for index in range(n_per_class):
                name = f"{domain}_{class_name}_{index:03d}{extension}"
                write_image(folder / domain / class_name / name, _color(group, index))
    return folder


def make_pacs(root, n_per_class=1, *, domains=PACS_DOMAINS, classes=PACS_CLASSES) -> Path:
    """Write a DomainBed-layout ``PACS`` folder (JPEGs); returns ``root / "PACS"``."""
    return _make_domain_tree(Path(root) / "PACS", domains, classes, n_per_class, ".jpg")


def make_vlcs(root, n_per_class=1, *, domains=VLCS_DOMAINS, classes=VLCS_CLASSES) -> Path:
    """Write a DomainBed-layout ``VLCS`` folder (JPEGs); returns ``root / "VLCS"``."""
    return _make_domain_tree(Path(root) / "VLCS", domains, classes, n_per_class, ".jpg")


def make_image_folder(root, classes=("cat", "dog"), n_per_class=2, *, domains=None, extension=".png") -> Path:
    """Write ``root/class/image`` (or ``root/domain/class/image`` given ``domains``).

    Returns ``root`` itself, the folder to pass to ``load_image_folder``.
    """
    root = Path(root)
    if domains is None:
        for class_index, class_name in enumerate(classes):
            for index in range(n_per_class):
                name = f"{class_name}_{index:03d}{extension}"
                write_image(root / class_name / name, _color(class_index, index))
        return root
    return _make_domain_tree(root, domains, classes, n_per_class, extension)
