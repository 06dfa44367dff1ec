"""CelebA (WILDS v1.0): a face attribute as target, another as the spurious attribute."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ._csv import parse_codes, read_csv_columns
from ._paths import (
    ManifestResolver,
    check_root,
    check_split,
    check_unique,
    find_dataset_folder,
    require_path,
    rows_in_split,
)

__all__ = ["load_celeba"]

FOLDER_NAMES = ("celebA_v1.0",)
SOURCE = (
    "CelebA comes from WILDS: `pip install wilds`, then "
    "`from wilds import get_dataset; get_dataset('celebA', root_dir=ROOT, download=True)`, "
    "or see https://wilds.stanford.edu/datasets/ and "
    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html."
)
# Readable (absent, present) names of the attributes the benchmarks use; any other
# attribute falls back to ("not_<attribute>", "<attribute>") in lower case.
ATTRIBUTE_VALUE_NAMES = {
    "Blond_Hair": ("dark_hair", "blond_hair"),
    "Male": ("female", "male"),
}
# The class names the SAGE paper's code uses for the Blond_Hair task.
BLOND_HAIR_PROMPTS = ["a portrait with dark color hair", "a portrait with blonde color hair"]

DESCR = """\
CelebA (WILDS v1.0)
-------------------
Face attribute classification on CelebA (Liu et al., "Deep Learning Face Attributes in the
Wild", ICCV 2015). The robustness benchmark of Sagawa et al. (ICLR 2020), packaged by WILDS
(Koh et al., ICML 2021), predicts Blond_Hair with Male as the spurious attribute: blond men
are rare (180 of the 19,962 test images). Groups are 2 * target + spurious: 0
dark_hair_female, 1 dark_hair_male, 2 blond_hair_female, 3 blond_hair_male. The official
partition (list_eval_partition.csv) assigns 162,770 training, 19,867 validation and 19,962
test images. Download: https://wilds.stanford.edu/datasets/ or the `wilds` package.
"""


def _value_names(attribute):
    if attribute in ATTRIBUTE_VALUE_NAMES:
        return ATTRIBUTE_VALUE_NAMES[attribute]
    name = attribute.lower()
    return (f"not_{name}", name)


def _class_prompts(target):
    if target == "Blond_Hair":
        return list(BLOND_HAIR_PROMPTS)
    # Not from the paper: a generic fallback; pass prompts of your own for other targets.
    words = target.lower().replace("_", " ")
    return [f"a portrait without {words}", f"a portrait with {words}"]


def _partition_codes(folder, image_ids, id_lines, attributes_path):
    """Partition code of each image id, joined by id and checked for gaps and repeats."""
    partition_path = folder / "list_eval_partition.csv"
    columns, lines = read_csv_columns(partition_path, ("image_id", "partition"), dataset="CelebA", source=SOURCE)
    codes = parse_codes(columns["partition"], lines, path=partition_path, column="partition", allowed=(0, 1, 2))
    check_unique(columns["image_id"], lines, partition_path)
    code_of = dict(zip(columns["image_id"], codes.tolist()))
    unassigned = [(image_id, line) for image_id, line in zip(image_ids, id_lines) if image_id not in code_of]
    if unassigned:
        quoted = ", ".join(f"{image_id!r} (line {line})" for image_id, line in unassigned[:5])
        raise ValueError(
            f"{len(unassigned)} image ids of {str(attributes_path)!r} have no row in "
            f"{str(partition_path)!r}: {quoted}. Both files must list the same images."
        )
    return np.array([code_of[image_id] for image_id in image_ids], dtype=np.int64)


def load_celeba(root, split="test", target="Blond_Hair", spurious="Male"):
    """Load CelebA from its WILDS folder (nothing is downloaded).

    Reads ``celebA_v1.0/list_attr_celeba.csv`` (``image_id`` and 40 attributes in
    {-1, 1}) and ``list_eval_partition.csv`` (``image_id``, ``partition`` in {0, 1, 2}),
    and checks that every selected image exists in ``img_align_celeba/``.

    Parameters
    ----------
    root : str or os.PathLike
        The ``celebA_v1.0`` folder itself, or the folder that contains it.
    split : {"train", "val", "test", "all"}, default="test"
        Which partition to return (``partition`` 0, 1, 2, or all images).
    target : str, default="Blond_Hair"
        Attribute column to predict; 1 where the attribute is present.
    spurious : str, default="Male"
        Attribute column that defines the groups together with ``target``.

    Returns
    -------
    sklearn.utils.Bunch
        Dictionary-like object with the fields:

        data : list of str of length n_samples
            Absolute image paths, sorted by image id.
        target : ndarray of shape (n_samples,)
            1 where ``target`` is present (attribute value 1), else 0.
        groups : ndarray of shape (n_samples,)
            ``2 * target + spurious_value``.
        split : ndarray of shape (n_samples,)
            The partition of each row as a string, ``"train"``, ``"val"`` or ``"test"``.
        target_names : list of str
            ``["dark_hair", "blond_hair"]`` by default.
        group_names : list of str
            ``["dark_hair_female", "dark_hair_male", "blond_hair_female",
            "blond_hair_male"]`` by default; ``"not_<name>"`` / ``"<name>"`` in lower
            case for other attributes.
        class_prompts : list of str
            The SAGE paper's ``["a portrait with dark color hair", "a portrait with
            blonde color hair"]`` for Blond_Hair; a generic ``"a portrait without/with
            <attribute>"`` pair otherwise.
        train_group_counts : ndarray of shape (4,)
            Images per group in the training partition.
        DESCR : str
            Description of the dataset, its source and citation.

    Raises
    ------
    FileNotFoundError
        If the folder, a CSV file, ``img_align_celeba/`` or any selected image is missing.
    ValueError
        For a bad ``split``, an unknown attribute, a bad value, ids missing from the
        partition file, or an image id that leads outside ``img_align_celeba/``.

    See Also
    --------
    load_waterbirds : Waterbirds, with the background as the spurious attribute.

    Examples
    --------
    Build a four-image stand-in with the real layout, then load it:

    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from skclip_sage.datasets import load_celeba
    >>> parent = Path(tempfile.mkdtemp())
    >>> folder = parent / "celebA_v1.0"
    >>> (folder / "img_align_celeba").mkdir(parents=True)
    >>> attributes, partition = ["image_id,Blond_Hair,Male"], ["image_id,partition"]
    >>> for index, (blond, male) in enumerate([(-1, -1), (-1, 1), (1, -1), (1, 1)]):
    ...     (folder / "img_align_celeba" / f"00000{index}.jpg").touch()
    ...     attributes.append(f"00000{index}.jpg,{blond},{male}")
    ...     partition.append(f"00000{index}.jpg,2")
    >>> _ = (folder / "list_attr_celeba.csv").write_text("\\n".join(attributes))
    >>> _ = (folder / "list_eval_partition.csv").write_text("\\n".join(partition))
    >>> bunch = load_celeba(folder)
    >>> bunch.target, bunch.groups
    (array([0, 0, 1, 1]), array([0, 1, 2, 3]))
    >>> bunch.group_names
    ['dark_hair_female', 'dark_hair_male', 'blond_hair_female', 'blond_hair_male']
    >>> shutil.rmtree(parent)
    """
    split_code = check_split(split, "load_celeba")
    for argument, value in (("target", target), ("spurious", spurious)):
        if not isinstance(value, str):
            raise TypeError(f"load_celeba: {argument} must be an attribute name (str); got {value!r}.")
    if target == spurious:
        raise ValueError(f"load_celeba: target and spurious must differ; both are {target!r}.")
    folder = find_dataset_folder(
        check_root(root, "load_celeba"),
        folder_names=FOLDER_NAMES,
        markers=("list_attr_celeba.csv",),
        dataset="CelebA",
        source=SOURCE,
    )
    image_folder = require_path(folder / "img_align_celeba", kind="folder", dataset="CelebA", source=SOURCE)
    attributes_path = folder / "list_attr_celeba.csv"
    columns, lines = read_csv_columns(attributes_path, ("image_id", target, spurious), dataset="CelebA", source=SOURCE)
    target_values = parse_codes(columns[target], lines, path=attributes_path, column=target, allowed=(-1, 1))
    spurious_values = parse_codes(columns[spurious], lines, path=attributes_path, column=spurious, allowed=(-1, 1))
    labels = (target_values == 1).astype(np.int64)
    groups = 2 * labels + (spurious_values == 1)

    resolver = ManifestResolver(image_folder, attributes_path)
    entries = [resolver.normalize(entry, line) for entry, line in zip(columns["image_id"], lines)]
    check_unique(entries, lines, attributes_path)
    partitions = _partition_codes(folder, columns["image_id"], lines, attributes_path)
    train_group_counts = np.bincount(groups[partitions == 0], minlength=4)

    order = rows_in_split(
        partitions,
        split_code,
        entries,
        f"{str(folder / 'list_eval_partition.csv')!r} assigns no image to partition {split_code} ({split!r}).",
    )
    paths = resolver.resolve([(entries[row], lines[row]) for row in order], dataset="CelebA", source=SOURCE)
    target_names = list(_value_names(target))
    spurious_names = _value_names(spurious)
    return Bunch(
        data=paths,
        target=labels[order],
        groups=groups[order],
        split=np.array(["train", "val", "test"])[partitions[order]],
        target_names=target_names,
        group_names=[f"{label}_{other}" for label in target_names for other in spurious_names],
        class_prompts=_class_prompts(target),
        train_group_counts=train_group_counts,
        DESCR=DESCR + f"This bunch: target={target!r}, spurious={spurious!r}, split={split!r}.\n",
    )
