"""The datasets ``skclip-sage evaluate`` reads, and the options that apply to each.

Benchmarks come from :mod:`skclip_sage.datasets`; ``manifest`` is the user's own CSV,
read by the same manifest reader as ``classify --manifest``.
"""

from __future__ import annotations

import numpy as np

from ._errors import InputError, UsageError
from ._inputs import read_manifest
from ._text_inputs import read_class_names_file

DATASETS = ("waterbirds", "celeba", "pacs", "vlcs", "folder", "manifest")
MANIFEST_OPTIONS = ("path_column", "label_column", "group_column", "class_names")
DATASETS_WITH_SPLITS = ("waterbirds", "celeba")
# The SAGE paper's definition of Avg for each benchmark.
PAPER_AVERAGES = {"waterbirds": "weighted", "celeba": "plain", "pacs": "groups", "vlcs": "groups"}


def check_dataset_options(args):
    """Dataset-specific options given with another dataset are usage errors."""
    if args.split is not None and args.dataset not in DATASETS_WITH_SPLITS:
        raise UsageError(f"--split applies to {' and '.join(DATASETS_WITH_SPLITS)} only, not {args.dataset}.")
    if args.domain_folders and args.dataset != "folder":
        raise UsageError(f"--domain-folders applies to the folder dataset only, not {args.dataset}.")
    given = [name for name in MANIFEST_OPTIONS if getattr(args, name) is not None]
    if given and args.dataset != "manifest":
        option = "--" + given[0].replace("_", "-")
        raise UsageError(f"{option} applies to the manifest dataset only, not {args.dataset}.")


def load_manifest_dataset(args):
    """The Bunch of ``evaluate manifest CSV`` (see :func:`skclip_sage.datasets.load_manifest`)."""
    from ..datasets._manifest import manifest_bunch

    class_names = read_class_names_file(args.class_names) if args.class_names else None
    manifest = read_manifest(args.root, args.path_column or "path")
    group_column = args.group_column or ("group" if "group" in manifest.header else None)
    options = {"label_column": "--label-column", "group_column": "--group-column"}
    try:
        bunch = manifest_bunch(
            manifest,
            label_column=args.label_column or "label",
            group_column=group_column,
            class_names=class_names,
            options=options,
        )
    except ValueError as err:
        raise InputError(str(err)) from err
    if len(bunch.target_names) < 2:
        # Fewer than two classes is a usage error (exit 2), as with `classify --classes cat`.
        raise UsageError(
            f"the manifest {manifest.path!r} has one label, {bunch.target_names[0]!r}, but zero-shot "
            "classification needs at least 2 classes. Name the other classes in --class-names (a class no row "
            "has is still one the model can predict), or fix the --label-column."
        )
    bunch.inputs = [manifest.path, *([args.class_names] if args.class_names else [])]
    return bunch


def load_dataset(args):
    """The dataset's Bunch (the options were checked by :func:`check_dataset_options`)."""
    from .. import datasets

    if args.dataset == "manifest":
        return load_manifest_dataset(args)
    split = args.split or "test"
    loaders = {
        "waterbirds": lambda: datasets.load_waterbirds(args.root, split=split),
        "celeba": lambda: datasets.load_celeba(args.root, split=split),
        "pacs": lambda: datasets.load_pacs(args.root),
        "vlcs": lambda: datasets.load_vlcs(args.root),
        "folder": lambda: datasets.load_image_folder(args.root, domains=args.domain_folders),
    }
    try:
        return loaders[args.dataset]()
    except (OSError, ValueError) as err:
        raise InputError(f"{args.dataset} at {args.root!r}: {err}") from err


def choose_average(args, bunch):
    """The Avg definition and, for ``"weighted"``, its weights per group index."""
    average = args.average
    if average == "paper":
        average = PAPER_AVERAGES.get(args.dataset, "groups" if args.domain_folders else "plain")
    if average != "weighted":
        return average, None
    if bunch.get("train_group_counts") is None:
        raise UsageError(
            f"--average weighted needs training-group sizes, which {args.dataset} does not provide; "
            "use plain or groups."
        )
    return average, np.asarray(bunch.train_group_counts, dtype=float)
