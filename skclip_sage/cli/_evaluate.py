"""``skclip-sage evaluate``: the robustness report of selection modes on a benchmark or your own CSV.

The images are embedded once; each compared configuration only re-scores the
embeddings, so comparing many modes and K values costs little more than one.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ..datasets import DATASET_LOADERS
from ..selection import SELECTIONS, SELECTIONS_USING_K
from ..utils._docstrings import fill_docstring
from ._datasets import DATASETS, DATASETS_WITH_SPLITS, check_dataset_options, choose_average, load_dataset
from ._errors import ExitCode
from ._estimators import (
    check_k,
    check_prompts,
    check_width,
    embed_images,
    fit_classifier,
    fixed_selection,
    parse_selections,
    resolve_seed,
)
from ._inputs import ImageList
from ._options import ADD_PARSER_SECTIONS, add_error_options, add_model_options, add_template_options, command_parser
from ._output_checks import check_document_extension, check_names_are_text, model_input_files
from ._outputs import check_outputs, failures_output, output_format, outputs_together, write_failures, write_json
from ._plot import check_plot_path, plot_group_accuracies
from ._predictions import PredictionsTable, templates_sidecar_path
from ._report_output import format_table, run_record, write_report_csv
from ._report_page import check_report_path, per_image_answers, report_row, write_report_page
from ._runtime import LOGGER
from ._text_inputs import resolve_templates_option, template_files

EXAMPLES = """\
  # the paper's comparison on the Waterbirds test split (WILDS folder layout)
  skclip-sage evaluate waterbirds data/ --compare sage,ensemble,single --k 1 3 5

  # CelebA validation split, results also as JSON and CSV
  skclip-sage evaluate celeba data/celebA_v1.0 --split val --json celeba.json --csv celeba.csv

  # your own root/<domain>/<class>/<image> tree, mean of group accuracies
  skclip-sage evaluate folder my_data/ --domain-folders --average groups

  # your own CSV of path,label,group: per-image predictions and a per-group plot
  skclip-sage evaluate manifest mine.csv --class-names names.json --json out/report.json \\
      --predictions out/predictions.csv --plot out/groups.png --on-error skip

  # one self-contained HTML page: ranking, groups, failing images, what was run
  skclip-sage evaluate manifest mine.csv --compare sage,ensemble,perception --report out/report.html
"""

DESCRIPTION = """\
Evaluate zero-shot selection modes on a dataset folder and print the robustness report:
Avg, worst-group accuracy (WGA), Gap = Avg - WGA, harmonic mean HM of Avg and WGA, and
the accuracy of every group, all in percent. Avg follows the paper per dataset
(--average paper): Waterbirds weights the groups by their training-split sizes,
CelebA is the plain accuracy, PACS and VLCS average the groups. Class prompts are the
paper's (e.g. 'landbirds', 'waterbirds'). Nothing is downloaded; DATASET is one of
waterbirds, celeba (WILDS layouts), pacs, vlcs (DomainBed layouts), folder
(ROOT/<class>/<image>, or ROOT/<domain>/<class>/<image> with --domain-folders) or
manifest (ROOT is your CSV with path, label and optionally group columns; relative
paths are relative to its folder, absolute ones are used as written). Every image is
embedded once; each mode and K only re-scores the embeddings. A group whose images
were all unreadable is reported as having no samples, and WGA says it excludes it."""


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``evaluate`` and its options.

    %(add_parser_sections)s
    """
    parser = command_parser(
        subparsers,
        "evaluate",
        help="robustness report (Avg, WGA, Gap, HM, groups) on a dataset or your own CSV",
        description=DESCRIPTION,
        examples=EXAMPLES,
        parents=parents,
    )
    parser.add_argument("dataset", choices=DATASETS, metavar="DATASET", help=", ".join(DATASETS))
    parser.add_argument(
        "root", metavar="ROOT", help="the dataset folder, or the folder that contains it; for manifest, the CSV file"
    )
    group = parser.add_argument_group("dataset")
    defaults = sorted({DATASET_LOADERS[name].default_split for name in DATASETS_WITH_SPLITS})
    group.add_argument(
        "--split",
        choices=list(dict.fromkeys(split for name in DATASETS_WITH_SPLITS for split in DATASET_LOADERS[name].splits)),
        help=f"{' and '.join(DATASETS_WITH_SPLITS)} only (default: {', '.join(defaults)})",
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
        "celeba, folder and manifest, groups for pacs, vlcs and folder --domain-folders)",
    )
    manifest = parser.add_argument_group("manifest (DATASET manifest only)")
    manifest.add_argument("--path-column", metavar="NAME", help="the column of image paths (default: path)")
    manifest.add_argument("--label-column", metavar="NAME", help="the column of class labels (default: label)")
    manifest.add_argument(
        "--group-column",
        metavar="NAME",
        help="the column of groups (default: group when the CSV has it; otherwise the groups are the labels)",
    )
    manifest.add_argument(
        "--class-names",
        metavar="FILE",
        help="a .json object or a .csv of label,text rows giving each label's text(s) for the prompts "
        "(default: the labels themselves)",
    )
    compare = add_template_options(parser, several_k=True)
    compare.add_argument(
        "--compare",
        default="sage,ensemble,single",
        metavar="MODES",
        help=f"comma-separated selection modes among {', '.join(SELECTIONS)} (default: %(default)s); "
        "zpe learns its template weights from the evaluated images themselves (no labels)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", metavar="FILE", help="also write the report and settings as JSON")
    output.add_argument(
        "--csv",
        metavar="FILE",
        help="also write one row per mode, K and metric (selection, k, name, kind, count, value, note)",
    )
    output.add_argument(
        "--predictions",
        metavar="FILE",
        help="also write one row per image, in input order (unreadable ones with their error): path, label, "
        "group, and per run the prediction, its probability and the template indices; .csv, .parquet, .json "
        "or .jsonl, plus PREDICTIONS_STEM.templates.json",
    )
    output.add_argument(
        "--plot", metavar="FILE", help="also draw the accuracy of every group per run, worst group marked (.png)"
    )
    output.add_argument(
        "--report",
        metavar="FILE",
        help="also write one self-contained HTML page (.html; opens from disk, nothing loaded from the network): "
        "the runs ranked by WGA, every group's accuracy, the worst groups' failing images as thumbnails with "
        "their predictions and chosen templates, and what was run",
    )
    add_model_options(parser)
    add_error_options(parser)
    parser.set_defaults(run=run)
    return parser


def output_files(args):
    """``(option, path)`` of every file this run writes, checked before any work."""
    failures_path = failures_output(args, args.json or args.csv or args.predictions or args.plot or args.report)
    return [
        ("--json", args.json),
        ("--csv", args.csv),
        ("--predictions", args.predictions),
        ("the predictions' templates sidecar", templates_sidecar_path(args.predictions)),
        ("--plot", args.plot),
        ("--report", args.report),
        ("--failures", failures_path),
    ]


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
    check_dataset_options(args)
    if args.predictions is not None:
        output_format(args.predictions, "--predictions")
    check_document_extension(args.json, "--json", ".json")
    check_document_extension(args.csv, "--csv", ".csv")
    check_plot_path(args.plot)
    check_report_path(args.report)
    outputs = output_files(args)
    check_outputs(outputs)  # names and folders, before the dataset is read
    bunch = load_dataset(args)
    paths = list(bunch.get("paths", bunch.data))
    inputs = [*bunch.data, *bunch.get("inputs", []), *template_files(args.templates)]
    check_outputs(outputs, [*inputs, *model_input_files(args.model, args.pretrained)])
    named = dict(outputs)
    check_names_are_text(
        paths, [(option, named[option]) for option in ("--predictions", "--failures") if named[option]]
    )
    average, weights = choose_average(args, bunch)
    seed = resolve_seed(args.seed, selections)
    LOGGER.info(
        "%s: %d image(s), %d group(s), %d template(s)",
        args.dataset,
        len(bunch.data),
        len(bunch.group_names),
        len(templates),
    )

    # Checked before any image is embedded: a prompt the model cannot take fails first.
    labels = list(range(len(bunch.target_names)))
    width = check_prompts(args, labels=labels, prompt_names=list(bunch.class_prompts), templates=templates)
    started = time.perf_counter()
    embedded = embed_images(ImageList(paths, list(bunch.data)), args)
    timings = {"loading the model and embedding the images": time.perf_counter() - started}
    failures_path = named["--failures"]
    if failures_path is not None:
        write_failures(failures_path, embedded.failures, LOGGER)
    embedded.require_some(len(bunch.data), "evaluate")
    check_width(width, embedded.embeddings.shape[1], args.model)
    targets = np.asarray(bunch.target)[embedded.kept]
    groups = np.asarray(bunch.groups)[embedded.kept]
    group_weights = None if weights is None else {int(group): weights[group] for group in np.unique(groups)}
    table = None
    if args.predictions is not None:
        failed_positions = sorted(set(range(len(paths))) - set(embedded.kept.tolist()))
        reasons = dict(zip(failed_positions, (reason for _, reason in embedded.failures)))
        table = PredictionsTable(
            paths,
            [bunch.target_names[index] for index in bunch.target],
            [bunch.group_names[index] for index in bunch.groups],
            embedded.kept,
            reasons,
            templates,
        )

    from ..metrics import robustness_report

    runs, report_rows = [], []
    for selection in selections:
        for k in args.k if selection in SELECTIONS_USING_K else [None]:
            started = time.perf_counter()
            classifier = fit_classifier(
                args,
                labels=labels,
                prompt_names=list(bunch.class_prompts),
                templates=templates,
                selection=selection,
                k=k or 1,
                seed=seed,
                images=embedded.embeddings,
            )
            probabilities = classifier.predict_proba(embedded.embeddings)
            predictions = classifier.classes_[np.argmax(probabilities, axis=1)]
            report = robustness_report(
                targets,
                predictions,
                groups=groups,
                # Every group of the dataset, so one whose images all failed is listed as empty.
                group_names=dict(enumerate(bunch.group_names)),
                average=average,
                weights=group_weights,
            )
            runs.append(run_record(selection, k, report))
            if args.report:
                answers = per_image_answers(
                    classifier, embedded.embeddings, probabilities, predictions, not fixed_selection(selection)
                )
                report_rows.append(report_row(runs[-1], answers, time.perf_counter() - started))
            if table is not None:
                table.add_run(
                    runs[-1]["label"],
                    [bunch.target_names[label] for label in classifier.classes_],
                    probabilities,
                    classifier.selected_templates(embedded.embeddings),
                    fixed=fixed_selection(selection),
                )
    from ..encoders import model_record

    listed_in = [failures_path] + ([args.predictions] if args.predictions else []) if embedded.failures else []
    result = {
        "dataset": args.dataset,
        "root": args.root,
        "split": (args.split or DATASET_LOADERS[args.dataset].default_split)
        if args.dataset in DATASETS_WITH_SPLITS
        else None,
        "n_images": len(bunch.data),
        "n_evaluated": int(len(embedded.kept)),
        "n_failed": len(embedded.failures),
        "failures_listed_in": listed_in,
        "average": average,
        "unit": "%",
        **model_record(args.model, args.pretrained),  # what was loaded, not what was typed
        "templates": args.templates,
        "n_templates": len(templates),
        "class_prompts": list(bunch.class_prompts),
        "seed": seed,
        "runs": runs,
    }
    sys.stdout.write(format_table(result) + "\n")
    # One run's outputs replace the earlier ones together or not at all (the report, written last, may fail).
    with outputs_together([args.json, args.csv, args.predictions, args.plot, args.report]):
        if args.json:
            write_json(args.json, result)
        if args.csv:
            write_report_csv(args.csv, result)
        if table is not None:
            table.write(args.predictions, "--predictions")
        if args.plot:
            plot_group_accuracies(args.plot, result)
        if args.report:
            images = {
                "sources": [bunch.data[index] for index in embedded.kept],
                "names": [paths[index] for index in embedded.kept],
                "labels": targets,
                "groups": [bunch.group_names[group] for group in groups],
                "label_names": dict(enumerate(bunch.target_names)),
            }
            write_report_page(args.report, report_rows, result, images, args, templates, timings)
    return ExitCode.SOME_IMAGES_FAILED if embedded.failures else ExitCode.OK
