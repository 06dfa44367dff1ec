"""``skclip-sage evaluate``: the robustness report of selection modes on a benchmark folder.

The images are embedded once; each compared configuration only re-scores the
embeddings, so comparing many modes and K values costs little more than one.
"""

from __future__ import annotations

import sys

import numpy as np

from ..selection import SELECTIONS_USING_K
from ..utils._docstrings import fill_docstring
from ._errors import ExitCode, InputError, UsageError
from ._estimators import check_k, embed_images, fit_classifier, parse_selections, resolve_seed
from ._inputs import ImageList
from ._options import ADD_PARSER_SECTIONS, add_error_options, add_model_options, add_template_options, command_parser
from ._report_output import format_table, run_record, write_json, write_report_csv
from ._runtime import LOGGER, check_output_path, default_failures_path, write_failures
from ._text_inputs import resolve_templates_option

DATASETS = ("waterbirds", "celeba", "pacs", "vlcs", "folder")
DATASETS_WITH_SPLITS = ("waterbirds", "celeba")
# The SAGE paper's definition of Avg for each benchmark.
PAPER_AVERAGES = {"waterbirds": "weighted", "celeba": "plain", "pacs": "groups", "vlcs": "groups"}

EXAMPLES = """\
  # the paper's comparison on the Waterbirds test split (WILDS folder layout)
  skclip-sage evaluate waterbirds data/ --compare sage,ensemble,single --k 1 3 5

  # CelebA validation split, results also as JSON and CSV
  skclip-sage evaluate celeba data/celebA_v1.0 --split val --json celeba.json --csv celeba.csv

  # your own root/<domain>/<class>/<image> tree, mean of group accuracies
  skclip-sage evaluate folder my_data/ --domain-folders --average groups
"""

DESCRIPTION = """\
Evaluate zero-shot selection modes on a dataset folder and print the robustness report:
Avg, worst-group accuracy (WGA), Gap = Avg - WGA, harmonic mean HM of Avg and WGA, and
the accuracy of every group, all in percent. Avg follows the paper per dataset
(--average paper): Waterbirds weights the groups by their training-split sizes,
CelebA is the plain accuracy, PACS and VLCS average the groups. Class prompts are the
paper's (e.g. 'landbirds', 'waterbirds'). Nothing is downloaded; DATASET is one of
waterbirds, celeba (WILDS layouts), pacs, vlcs (DomainBed layouts) or folder
(ROOT/<class>/<image>, or ROOT/<domain>/<class>/<image> with --domain-folders)."""


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``evaluate`` and its options.

    %(add_parser_sections)s
    """
    parser = command_parser(
        subparsers,
        "evaluate",
        help="robustness report (Avg, WGA, Gap, HM, groups) on a dataset",
        description=DESCRIPTION,
        examples=EXAMPLES,
        parents=parents,
    )
    parser.add_argument("dataset", choices=DATASETS, metavar="DATASET", help=", ".join(DATASETS))
    parser.add_argument("root", metavar="ROOT", help="the dataset folder, or the folder that contains it")
    group = parser.add_argument_group("dataset")
    group.add_argument(
        "--split", choices=("train", "val", "test", "all"), help="waterbirds and celeba only (default: test)"
    )
    group.add_argument(
        "--domain-folders",
        action="store_true",
        help="folder only: ROOT/<domain>/<class>/<image>, groups are domain x class",
    )
    group.add_argument(
        "--average",
        choices=("paper", "plain", "groups", "weighted"),
        default="paper",
        help="definition of Avg (default: %(default)s: weighted for waterbirds, plain for "
        "celeba and folder, groups for pacs, vlcs and folder --domain-folders)",
    )
    compare = add_template_options(parser, several_k=True)
    compare.add_argument(
        "--compare",
        default="sage,ensemble,single",
        metavar="MODES",
        help="comma-separated selection modes among sage, ensemble, single, random, text (default: %(default)s)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="FILE", help="also write the report and settings as JSON")
    output.add_argument(
        "--csv",
        metavar="FILE",
        help="also write one row per mode, K and metric (selection, k, name, kind, count, value)",
    )
    add_model_options(parser)
    add_error_options(parser)
    parser.set_defaults(run=run)
    return parser


def load_dataset(args):
    """The dataset's Bunch, after checking the dataset-specific options."""
    from .. import datasets

    if args.split is not None and args.dataset not in DATASETS_WITH_SPLITS:
        raise UsageError(f"--split applies to {' and '.join(DATASETS_WITH_SPLITS)} only, not {args.dataset}.")
    if args.domain_folders and args.dataset != "folder":
        raise UsageError(f"--domain-folders applies to the folder dataset only, not {args.dataset}.")
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


def run(args):
    """Run ``evaluate``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    exit_code : ExitCode
        ``OK``, or ``SOME_IMAGES_FAILED`` when ``--on-error skip`` left images out;
        other outcomes are raised as errors and mapped to codes by ``main``.
    """
    selections = parse_selections(args.compare)
    templates = resolve_templates_option(args.templates)
    check_k(args.k, len(templates), selections)
    first_file = args.json or args.csv
    failures_path = args.failures or default_failures_path(first_file)
    for path, option in [(args.json, "--json"), (args.csv, "--csv"), (failures_path, "--failures")]:
        check_output_path(path, option)
    bunch = load_dataset(args)
    average, weights = choose_average(args, bunch)
    seed = resolve_seed(args.seed, selections)
    LOGGER.info(
        "%s: %d image(s), %d group(s), %d template(s)",
        args.dataset,
        len(bunch.data),
        len(bunch.group_names),
        len(templates),
    )

    embedded = embed_images(ImageList(list(bunch.data), list(bunch.data)), args)
    if args.on_error == "skip":
        write_failures(failures_path, embedded.failures)
    if len(embedded.kept) == 0:
        raise InputError(f"none of the {len(bunch.data)} image(s) could be read; nothing to evaluate.")
    targets = np.asarray(bunch.target)[embedded.kept]
    groups = np.asarray(bunch.groups)[embedded.kept]
    group_weights = None if weights is None else {int(group): weights[group] for group in np.unique(groups)}
    labels = list(range(len(bunch.target_names)))

    from ..metrics import robustness_report

    runs = []
    for selection in selections:
        for k in args.k if selection in SELECTIONS_USING_K else [None]:
            classifier = fit_classifier(
                args,
                labels=labels,
                prompt_names=list(bunch.class_prompts),
                templates=templates,
                selection=selection,
                k=k or 1,
                seed=seed,
                n_features=embedded.embeddings.shape[1],
            )
            predictions = classifier.predict(embedded.embeddings)
            report = robustness_report(
                targets,
                predictions,
                groups=groups,
                group_names=dict(enumerate(bunch.group_names)),
                average=average,
                weights=group_weights,
            )
            runs.append(run_record(selection, k, report))
    result = {
        "dataset": args.dataset,
        "root": args.root,
        "split": (args.split or "test") if args.dataset in DATASETS_WITH_SPLITS else None,
        "n_images": len(bunch.data),
        "n_evaluated": int(len(embedded.kept)),
        "n_failed": len(embedded.failures),
        "average": average,
        "unit": "%",
        "model": args.model,
        "pretrained": args.pretrained,
        "templates": args.templates,
        "n_templates": len(templates),
        "class_prompts": list(bunch.class_prompts),
        "seed": seed,
        "runs": runs,
    }
    sys.stdout.write(format_table(result) + "\n")
    if args.json:
        write_json(args.json, result)
    if args.csv:
        write_report_csv(args.csv, result)
    return ExitCode.SOME_IMAGES_FAILED if embedded.failures else ExitCode.OK
