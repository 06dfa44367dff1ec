"""``skclip-sage classify``: zero-shot class predictions for images, as a CSV."""

from __future__ import annotations

import json

import numpy as np

from ..selection import SELECTIONS, describe_selections
from ..utils._docstrings import fill_docstring
from ._errors import ExitCode, InputError, UsageError
from ._estimators import (
    check_k,
    check_prompts,
    check_width,
    embed_images,
    fit_classifier,
    fixed_selection,
    resolve_seed,
)
from ._inputs import expand_image_arguments
from ._options import (
    ADD_PARSER_SECTIONS,
    add_error_options,
    add_image_arguments,
    add_model_options,
    add_template_options,
    command_parser,
    positive_int,
)
from ._output_checks import check_names_are_text, model_input_files
from ._outputs import (
    check_outputs,
    failures_output,
    note_failures,
    output_format,
    outputs_together,
    sibling_path,
    write_failures,
    write_json,
    write_table,
)
from ._runtime import LOGGER
from ._text_inputs import collect_class_names, resolve_templates_option, template_files

EXAMPLES = """\
  # photos/ searched recursively; CSV on stdout
  skclip-sage classify photos/ --classes landbird waterbird

  # quoted glob, classes from a file, unreadable images skipped and listed
  skclip-sage classify 'shots/**/*.jpg' --class-file classes.txt \\
      --on-error skip --output predictions.csv

  # images listed in a CSV; the 3 best-separated of your own templates per image
  skclip-sage classify --manifest images.csv --path-column file --classes cat dog \\
      --templates my_templates.txt --k 3 --output predictions.csv

  # fully offline with a local model folder; the two best classes per image, as Parquet
  skclip-sage classify photos/ --classes cat dog bird --top-k 2 --output pred.parquet \\
      --model local-dir:/models/vit-b-32
"""

DESCRIPTION = """\
Classify images zero-shot into the classes you name. For each image, SAGE keeps the
K prompt templates that separate the classes best and classifies with them.

Writes one row per readable image: path, the manifest's other columns (with
--manifest), predicted_class, one probability_<class> column per class (in the order
given), with --top-k N the columns top1_class, top1_probability ... topN_*, and
template_indices and templates (the templates used for that image). Selections that
give every image the same templates (ensemble, single, text) write them once, in
OUTPUT_STEM.templates.json, instead of on every row. The file type follows the
--output extension: .csv, .parquet, .json (a list of records) or .jsonl; stdout is CSV."""


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``classify`` and its options.

    %(add_parser_sections)s
    """
    parser = command_parser(
        subparsers,
        "classify",
        help="classify images zero-shot into the classes you name",
        description=DESCRIPTION,
        examples=EXAMPLES,
        parents=parents,
    )
    add_image_arguments(parser)
    group = parser.add_argument_group("classes and output")
    group.add_argument("--classes", nargs="+", metavar="NAME", help="class names, also used in the prompts")
    group.add_argument(
        "--class-file", metavar="FILE", help="a text file with one class name per line (added after --classes)"
    )
    group.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the predictions: .csv, .parquet, .json or .jsonl (default: CSV on stdout)",
    )
    group.add_argument(
        "--top-k",
        type=positive_int,
        metavar="N",
        help="also write the N most probable classes of each image with their probabilities",
    )
    templates = add_template_options(parser, several_k=False)
    templates.add_argument(
        "--selection",
        choices=SELECTIONS,
        default="sage",
        help=describe_selections() + " (default: %(default)s)",
    )
    add_model_options(parser)
    add_error_options(parser)
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Run ``classify``.

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
    # Everything cheap is checked before the model loads, so typos fail in a second.
    classes = collect_class_names(args.classes, args.class_file)
    templates = resolve_templates_option(args.templates)
    check_k([args.k], len(templates), [args.selection])
    if args.top_k is not None and args.top_k > len(classes):
        raise UsageError(f"--top-k {args.top_k} is more than the {len(classes)} classes; choose 1 to {len(classes)}.")
    output_format(args.output, "--output")
    failures_path = failures_output(args, args.output)
    templates_path = sibling_path(args.output, ".templates.json")
    images = expand_image_arguments(args.images, manifest=args.manifest, path_column=args.path_column)
    check_manifest_columns(images, output_column_names(classes, args.top_k, fixed_selection(args.selection)))
    check_outputs(
        [
            ("--output", args.output),
            ("--failures", failures_path),
            ("the templates sidecar", templates_path if fixed_selection(args.selection) else None),
        ],
        [
            *images.input_files(),
            *template_files(args.templates),
            *([args.class_file] if args.class_file else []),
            *model_input_files(args.model, args.pretrained),
        ],
    )
    text_outputs = [("--output", args.output)] + ([("--failures", failures_path)] if failures_path else [])
    check_names_are_text(images.paths, text_outputs)
    seed = resolve_seed(args.seed, [args.selection])
    LOGGER.info(
        "classifying %d image(s) into %d classes with %d template(s), selection=%s",
        len(images.paths),
        len(classes),
        len(templates),
        args.selection,
    )
    # Checked first: a prompt the model cannot take fails before any image is embedded.
    width = check_prompts(args, labels=classes, prompt_names=classes, templates=templates)

    embedded = embed_images(images, args)
    if not len(embedded.kept):
        if failures_path is not None:
            write_failures(failures_path, embedded.failures, LOGGER)
        embedded.require_some(len(images.paths), "classify")
    check_width(width, embedded.embeddings.shape[1], args.model)
    classifier = fit_classifier(
        args,
        labels=classes,
        prompt_names=classes,
        templates=templates,
        selection=args.selection,
        k=args.k,
        seed=seed,
        images=embedded.embeddings,
    )
    probabilities = classifier.predict_proba(embedded.embeddings)
    selected = classifier.selected_templates(embedded.embeddings)
    columns = prediction_columns(images, embedded.kept, classes, list(classifier.classes_), probabilities, args.top_k)
    fixed = fixed_selection(args.selection)
    if fixed:
        note = templates_note(args, classifier.templates_, selected[0])
        if templates_path is None:
            LOGGER.info(
                "every image uses the same %d template(s) (selection=%s); 'skclip-sage templates %s -n' lists them",
                len(selected[0]),
                args.selection,
                args.templates,
            )
    else:
        columns["template_indices"] = [[int(index) for index in row] for row in selected]
        columns["templates"] = [[classifier.templates_[int(index)] for index in row] for row in selected]
    notes = {"skclip_sage.templates": json.dumps(note, ensure_ascii=False)} if fixed else None
    sidecar = templates_path if fixed else None
    # The predictions, their templates sidecar and the failures list: replaced together or not at all.
    with outputs_together([args.output, sidecar, failures_path]):
        if failures_path is not None:
            write_failures(failures_path, embedded.failures, None)
        if sidecar is not None:
            write_json(sidecar, note)
        write_table(args.output, columns, option="--output", notes=notes)
    if failures_path is not None:
        note_failures(failures_path, embedded.failures, LOGGER)
    if sidecar is not None:
        LOGGER.info("every image uses the same %d template(s); listed once in %s", len(selected[0]), sidecar)
    LOGGER.info("wrote %d prediction(s) to %s", len(embedded.kept), args.output or "stdout")
    return ExitCode.SOME_IMAGES_FAILED if embedded.failures else ExitCode.OK


def output_column_names(classes, top_k, fixed):
    """The names of the columns ``classify`` writes besides the manifest's."""
    names = ["path", "predicted_class", *(f"probability_{name}" for name in classes)]
    for rank in range(1, (top_k or 0) + 1):
        names += [f"top{rank}_class", f"top{rank}_probability"]
    return names if fixed else [*names, "template_indices", "templates"]


def check_manifest_columns(images, output_names):
    """Refuse a manifest column named like an output column: one would silently replace the other."""
    if images.manifest is None:
        return
    manifest = images.manifest
    clashes = [name for name in manifest.header if name != manifest.path_column and name in output_names]
    if clashes:
        raise InputError(
            f"the manifest {manifest.path!r} has the column(s) {clashes}, which classify writes itself; one would "
            "replace the other in the output. Rename or remove those columns of the manifest (or, for 'path', "
            "make it the --path-column)."
        )


def prediction_columns(images, kept, classes, sorted_classes, probabilities, top_k):
    """The columns of the predictions table, up to the templates.

    Parameters
    ----------
    images : ImageList
        All inputs (names and manifest columns).
    kept : ndarray of shape (n_readable,)
        Input positions of the rows, aligned with ``probabilities``.
    classes : list of str
        The classes in the user's order (the column order).
    sorted_classes : list of str
        The classifier's ``classes_``, the column order of ``probabilities``.
    probabilities : ndarray of shape (n_readable, n_classes)
        ``predict_proba``.
    top_k : int or None
        How many best classes to add.

    Returns
    -------
    columns : dict of str to list
    """
    order = [sorted_classes.index(name) for name in classes]
    probabilities = np.asarray(probabilities, dtype=np.float32)[:, order]
    columns = {"path": [images.paths[position] for position in kept]}
    for name, values in images.manifest_columns().items():
        columns.setdefault(name, [values[position] for position in kept])
    columns["predicted_class"] = [classes[index] for index in np.argmax(probabilities, axis=1)]
    for column, name in enumerate(classes):
        columns[f"probability_{name}"] = list(probabilities[:, column])
    if top_k:
        # Stable sort on the negated probabilities: ties keep the user's class order.
        ranking = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
        for rank in range(top_k):
            columns[f"top{rank + 1}_class"] = [classes[index] for index in ranking[:, rank]]
            columns[f"top{rank + 1}_probability"] = list(probabilities[np.arange(len(ranking)), ranking[:, rank]])
    return columns


def templates_note(args, templates, indices):
    """The one template set every image uses, as written to the templates sidecar."""
    indices = [int(index) for index in indices]
    return {
        "selection": args.selection,
        "k": args.k,
        "templates_option": args.templates,
        "template_indices": indices,
        "templates": [templates[index] for index in indices],
    }
