"""``skclip-sage classify``: zero-shot class predictions for images, as a CSV."""

from __future__ import annotations

import json

import numpy as np

from ..selection import SELECTIONS, describe_selections
from ..utils._docstrings import fill_docstring
from ._errors import ExitCode, InputError
from ._estimators import check_k, embed_images, fit_classifier, resolve_seed
from ._inputs import expand_image_arguments
from ._options import (
    ADD_PARSER_SECTIONS,
    add_error_options,
    add_image_arguments,
    add_model_options,
    add_template_options,
    command_parser,
)
from ._runtime import LOGGER, check_output_path, default_failures_path, write_csv, write_failures
from ._text_inputs import collect_class_names, resolve_templates_option

EXAMPLES = """\
  # photos/ searched recursively; CSV on stdout
  skclip-sage classify photos/ --classes landbird waterbird

  # quoted glob, classes from a file, unreadable images skipped and listed
  skclip-sage classify 'shots/**/*.jpg' --class-file classes.txt \\
      --on-error skip --output predictions.csv

  # images listed in a CSV; the 3 best-separated of your own templates per image
  skclip-sage classify --manifest images.csv --path-column file --classes cat dog \\
      --templates my_templates.txt --k 3 --output predictions.csv

  # fully offline with a local model folder
  skclip-sage classify photos/ --classes cat dog --model local-dir:/models/vit-b-32
"""

DESCRIPTION = """\
Classify images zero-shot into the classes you name. For each image, SAGE keeps the
K prompt templates that separate the classes best and classifies with them.

Writes a CSV with one row per readable image: path, predicted_class, one
probability_<class> column per class (in the order given), template_indices and
templates (JSON lists of the templates used for that image)."""


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
    group.add_argument("-o", "--output", metavar="CSV", help="where to write the predictions (default: stdout)")
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
    failures_path = args.failures or default_failures_path(args.output)
    check_output_path(args.output, "--output")
    if args.on_error == "skip":
        check_output_path(failures_path, "--failures")
    images = expand_image_arguments(args.images, manifest=args.manifest, path_column=args.path_column)
    seed = resolve_seed(args.seed, [args.selection])
    LOGGER.info(
        "classifying %d image(s) into %d classes with %d template(s), selection=%s",
        len(images.paths),
        len(classes),
        len(templates),
        args.selection,
    )

    embedded = embed_images(images, args)
    if args.on_error == "skip":
        write_failures(failures_path, embedded.failures)
    if len(embedded.kept) == 0:
        raise InputError(f"none of the {len(images.paths)} image(s) could be read; nothing to classify.")
    classifier = fit_classifier(
        args,
        labels=classes,
        prompt_names=classes,
        templates=templates,
        selection=args.selection,
        k=args.k,
        seed=seed,
        n_features=embedded.embeddings.shape[1],
    )
    probabilities = classifier.predict_proba(embedded.embeddings)
    selected = classifier.selected_templates(embedded.embeddings)
    # classes_ is sorted; the CSV keeps the order the user gave.
    sorted_classes = list(classifier.classes_)
    columns = [sorted_classes.index(name) for name in classes]
    header = ["path", "predicted_class", *[f"probability_{name}" for name in classes], "template_indices", "templates"]
    rows = []
    for row, position in enumerate(embedded.kept):
        indices = [int(index) for index in selected[row]]
        rows.append(
            [
                images.paths[position],
                sorted_classes[int(np.argmax(probabilities[row]))],
                *[f"{probabilities[row, column]:.6g}" for column in columns],
                json.dumps(indices),
                json.dumps([classifier.templates_[index] for index in indices], ensure_ascii=False),
            ]
        )
    write_csv(args.output, header, rows)
    LOGGER.info("wrote %d prediction(s) to %s", len(rows), args.output or "stdout")
    return ExitCode.SOME_IMAGES_FAILED if embedded.failures else ExitCode.OK
