"""The datasets ``skclip-sage evaluate`` reads, and the options that apply to each.

Benchmarks come from ``skclip_sage.datasets.DATASET_LOADERS``, the one table of
loaders (with their splits, the paper's Avg and presets): a loader added there is a
dataset here. ``manifest`` is the user's own CSV, read by the same manifest reader
as ``classify --manifest``.
"""

from __future__ import annotations

import numpy as np

from ..datasets import DATASET_LOADERS
from ._errors import InputError, UsageError
from ._inputs import read_manifest
from ._text_inputs import read_class_names_file

# Every loader of skclip_sage.datasets.DATASET_LOADERS (a new loader goes there), and
# the user's own CSV, read here with the CLI's options.
DATASETS = (*DATASET_LOADERS, "manifest")
MANIFEST_OPTIONS = ("path_column", "label_column", "group_column", "class_names")
DATASETS_WITH_SPLITS = tuple(name for name, record in DATASET_LOADERS.items() if record.splits)


def check_dataset_options(args):
    """Dataset-specific options given with another dataset are usage errors."""
    record = DATASET_LOADERS.get(args.dataset)
    if args.split is not None and (record is None or not record.splits):
        raise UsageError(f"--split applies to {' and '.join(DATASETS_WITH_SPLITS)} only, not {args.dataset}.")
    if args.domain_folders and (record is None or "domains" not in record.options):
        takes = [name for name, other in DATASET_LOADERS.items() if "domains" in other.options]
        raise UsageError(f"--domain-folders applies to the {' and '.join(takes)} dataset only, not {args.dataset}.")
    given = [name for name in MANIFEST_OPTIONS if getattr(args, name) is not None]
    if given and args.dataset != "manifest":
        option = "--" + given[0].replace("_", "-")
        raise UsageError(f"{option} applies to the manifest dataset only, not {args.dataset}.")


def load_manifest_dataset(args):
    """The Bunch of ``evaluate manifest CSV`` (see :func:`skclip_sage.datasets.load_manifest`)."""
    class_names = read_class_names_file(args.class_names) if args.class_names else None
    manifest = read_manifest(args.root, args.path_column or "path")
    group_column = args.group_column or ("group" if "group" in manifest.header else None)
    options = {"label_column": "--label-column", "group_column": "--group-column"}
    try:
        bunch = manifest.to_bunch(
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
    if args.dataset == "manifest":
        return load_manifest_dataset(args)
    try:
        return DATASET_LOADERS[args.dataset].load(args.root, split=args.split, domains=args.domain_folders)
    except (OSError, ValueError) as err:
        raise InputError(f"{args.dataset} at {args.root!r}: {err}") from err


def choose_average(args, bunch):
    """The Avg definition and, for ``"weighted"``, its weights per group index."""
    average = args.average
    if average == "paper":
        record = DATASET_LOADERS.get(args.dataset)
        paper = record.paper_average if record is not None else None
        average = paper or ("groups" if args.domain_folders else "plain")
    if average != "weighted":
        return average, None
    if bunch.get("train_group_counts") is None:
        raise UsageError(
            f"--average weighted needs training-group sizes, which {args.dataset} does not provide; "
            "use plain or groups."
        )
    return average, np.asarray(bunch.train_group_counts, dtype=float)
