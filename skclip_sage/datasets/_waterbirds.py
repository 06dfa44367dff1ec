"""Waterbirds (WILDS v1.0): landbird / waterbird with the place as the spurious attribute."""

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
    rows_in_split,
)

__all__ = ["load_waterbirds"]

# The WILDS folder name first; the original Sagawa et al. release uses the second.
FOLDER_NAMES = ("waterbirds_v1.0", "waterbird_complete95_forest2water2")
SOURCE = (
    "Waterbirds comes from WILDS: `pip install wilds`, then "
    "`from wilds import get_dataset; get_dataset('waterbirds', root_dir=ROOT, download=True)`, "
    "or download waterbirds_v1.0 from https://wilds.stanford.edu/datasets/ and extract it."
)
# Training-group sizes of the official split, in group order; used for WILDS's adjusted
# average when a metadata file carries no training rows to count.
WILDS_TRAIN_GROUP_COUNTS = (3498, 184, 56, 1057)
TARGET_NAMES = ["landbird", "waterbird"]
GROUP_NAMES = ["landbird_on_land", "landbird_on_water", "waterbird_on_land", "waterbird_on_water"]
# The class names the SAGE paper's code puts into its templates.
CLASS_PROMPTS = ["landbirds", "waterbirds"]

DESCR = """\
Waterbirds (WILDS v1.0)
-----------------------
Binary bird classification, landbird (0) or waterbird (1), in which the background is a
spurious attribute: most landbirds are photographed on land and most waterbirds on water.
Bird crops from CUB-200-2011 (Wah et al., 2011) are pasted onto Places backgrounds (Zhou
et al., 2017), as introduced by Sagawa et al., "Distributionally Robust Neural Networks"
(ICLR 2020), and packaged by WILDS (Koh et al., ICML 2021). Groups are label x place:
0 landbird_on_land, 1 landbird_on_water, 2 waterbird_on_land, 3 waterbird_on_water
(group = 2 * label + place). The official test split has 5,794 images (2255/2255/642/642
per group); the training split has 3498/184/56/1057, which weight WILDS's adjusted
average accuracy. Download: https://wilds.stanford.edu/datasets/ or the `wilds` package.
"""


def load_waterbirds(root, split="test"):
    """Load the Waterbirds dataset from its WILDS folder (nothing is downloaded).

    Reads ``waterbirds_v1.0/metadata.csv`` (columns ``img_filename``, ``y``, ``split``,
    ``place``) and checks that every selected image exists inside the dataset folder.

    Parameters
    ----------
    root : str or os.PathLike
        The ``waterbirds_v1.0`` folder itself, or the folder that contains it. The
        original release folder name ``waterbird_complete95_forest2water2`` also works.
    split : {"train", "val", "test", "all"}, default="test"
        Which rows of ``metadata.csv`` to return (``split`` column 0, 1, 2, or all).

    Returns
    -------
    sklearn.utils.Bunch
        Dictionary-like object with the fields:

        data : list of str of length n_samples
            Absolute image paths, sorted by their path relative to the dataset folder.
        target : ndarray of shape (n_samples,)
            0 for landbird, 1 for waterbird.
        groups : ndarray of shape (n_samples,)
            ``2 * target + place`` with place 0 for land and 1 for water.
        split : ndarray of shape (n_samples,)
            The split of each row as a string, ``"train"``, ``"val"`` or ``"test"``.
        target_names : list of str
            ``["landbird", "waterbird"]``.
        group_names : list of str
            ``["landbird_on_land", "landbird_on_water", "waterbird_on_land",
            "waterbird_on_water"]``.
        class_prompts : list of str
            ``["landbirds", "waterbirds"]``, the class names of the SAGE paper's code.
        train_group_counts : ndarray of shape (4,)
            Images per group in the training rows of ``metadata.csv`` (3498, 184, 56,
            1057 for the official file), or those official counts when the file has
            no training rows. Weights of WILDS's adjusted average accuracy.
        DESCR : str
            Description of the dataset, its source and citation.

    Raises
    ------
    FileNotFoundError
        If the folder, ``metadata.csv`` or any selected image is missing.
    ValueError
        For a bad ``split``, a missing column or bad value in ``metadata.csv``, or an
        image path that is absolute or leads outside the dataset folder.

    See Also
    --------
    load_celeba : CelebA blond-hair classification with gender as the spurious attribute.

    Examples
    --------
    Build a four-image stand-in with the real layout, then load it:

    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from skclip_sage.datasets import load_waterbirds
    >>> parent = Path(tempfile.mkdtemp())
    >>> folder = parent / "waterbirds_v1.0"
    >>> (folder / "001.Albatross").mkdir(parents=True)
    >>> rows = ["img_id,img_filename,y,split,place,place_filename"]
    >>> for index, (label, place) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
    ...     name = f"001.Albatross/{index}.jpg"
    ...     (folder / name).touch()
    ...     rows.append(f"{index},{name},{label},2,{place},/b/beach/{index}.jpg")
    >>> _ = (folder / "metadata.csv").write_text("\\n".join(rows) + "\\n")
    >>> bunch = load_waterbirds(parent, split="test")
    >>> bunch.target, bunch.groups
    (array([0, 0, 1, 1]), array([0, 1, 2, 3]))
    >>> [bunch.group_names[group] for group in bunch.groups][:2]
    ['landbird_on_land', 'landbird_on_water']
    >>> bunch.class_prompts
    ['landbirds', 'waterbirds']
    >>> shutil.rmtree(parent)
    """
    split_code = check_split(split, "load_waterbirds")
    folder = find_dataset_folder(
        check_root(root, "load_waterbirds"),
        folder_names=FOLDER_NAMES,
        markers=("metadata.csv",),
        dataset="Waterbirds",
        source=SOURCE,
    )
    manifest = folder / "metadata.csv"
    columns, lines = read_csv_columns(
        manifest, ("img_filename", "y", "split", "place"), dataset="Waterbirds", source=SOURCE
    )
    target = parse_codes(columns["y"], lines, path=manifest, column="y", allowed=(0, 1))
    place = parse_codes(columns["place"], lines, path=manifest, column="place", allowed=(0, 1))
    splits = parse_codes(columns["split"], lines, path=manifest, column="split", allowed=(0, 1, 2))
    groups = 2 * target + place

    resolver = ManifestResolver(folder, manifest)
    entries = [resolver.normalize(entry, line) for entry, line in zip(columns["img_filename"], lines)]
    check_unique(entries, lines, manifest)

    is_train = splits == 0
    if is_train.any():
        train_group_counts = np.bincount(groups[is_train], minlength=4)
    else:
        train_group_counts = np.asarray(WILDS_TRAIN_GROUP_COUNTS, dtype=np.int64)

    order = rows_in_split(
        splits,
        split_code,
        entries,
        f"{str(manifest)!r} has no rows with split == {split_code} ({split!r}); "
        f"the official file has 4795 train, 1199 val and 5794 test rows.",
    )
    paths = resolver.resolve([(entries[row], lines[row]) for row in order], dataset="Waterbirds", source=SOURCE)
    split_names = np.array(["train", "val", "test"])
    return Bunch(
        data=paths,
        target=target[order],
        groups=groups[order],
        split=split_names[splits[order]],
        target_names=list(TARGET_NAMES),
        group_names=list(GROUP_NAMES),
        class_prompts=list(CLASS_PROMPTS),
        train_group_counts=train_group_counts,
        DESCR=DESCR,
    )
