"""Loaders for the SAGE benchmarks and for any folder of images.

Nothing is downloaded: each loader reads a dataset folder that already exists (the
WILDS layout for Waterbirds and CelebA, the DomainBed layout for PACS and VLCS) and
returns a :class:`~sklearn.utils.Bunch` of image paths, targets, groups, group names
and the class prompts the paper used. Paths named by a benchmark's manifest must stay
inside the dataset folder; every missing file is reported, never dropped.
:func:`load_manifest` reads your own labelled CSV, whose paths are yours to choose;
:func:`read_manifest` reads it in two steps (the rows, then the dataset) for a caller
that looks at the header first or words the errors with its own option names.
``DATASET_LOADERS`` lists the loaders with their splits, the paper's Avg and
their presets, for the command line and the benchmark scripts.
"""

from ._celeba import load_celeba
from ._domainbed import load_pacs, load_vlcs
from ._folder import IMAGE_EXTENSIONS, load_image_folder
from ._manifest import Manifest, load_manifest, read_manifest
from ._table import DATASET_LOADERS, DatasetLoader
from ._waterbirds import load_waterbirds

__all__ = [
    "DATASET_LOADERS",
    "IMAGE_EXTENSIONS",
    "DatasetLoader",
    "Manifest",
    "load_celeba",
    "load_image_folder",
    "load_manifest",
    "load_pacs",
    "load_vlcs",
    "load_waterbirds",
    "read_manifest",
]
