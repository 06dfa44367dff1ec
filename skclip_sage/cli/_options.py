"""Options several commands share, defined once so their names, defaults and help agree.

Defaults mirror the estimators' (``ViT-B-32`` with ``laion2b_s34b_b79k`` weights,
``openai_imagenet`` templates, ``selection="sage"``, ``k=1``), so a command line
and the equivalent Python code give the same numbers.
"""

from __future__ import annotations

import argparse

from ..encoders import BACKENDS, PRECISIONS
from ._errors import EXIT_CODES_HELP

TEMPLATES_HELP = (
    "a built-in template set (openai_imagenet: 80 templates, simple: 7; see "
    "'skclip-sage templates') or a text file with one template per line, each with one {} "
    "for the class name ('#' starts a comment line)"
)

# The contract every command module's add_parser shares, written once (fill_docstring).
ADD_PARSER_SECTIONS = """\
Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``skclip-sage`` command list.
    parents : list of argparse.ArgumentParser
        Parsers whose options every command shares (``--quiet``, ``--debug``).

    Returns
    -------
    parser : argparse.ArgumentParser
        The command's parser; its ``run`` default is :func:`run`."""


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _bounded_int(text, 1)


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    return _bounded_int(text, 0)


def seed_int(text):
    """argparse type for ``--seed``: an integer in [0, 2**32 - 1], numpy's seed range.

    Checked while parsing, so a bad seed fails before any image is embedded.
    """
    return _bounded_int(text, 0, 2**32 - 1)


def _bounded_int(text, lowest, highest=None):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"must be >= {lowest}, got {value}")
    if highest is not None and value > highest:
        raise argparse.ArgumentTypeError(f"must be <= {highest}, got {value}")
    return value


def pretrained_option(text):
    """argparse type for ``--pretrained``: ``none`` (any case) means random weights."""
    return None if text.strip().lower() in ("", "none") else text


def command_parser(subparsers, name, *, help, description, examples, parents):
    """Add a sub-command whose ``--help`` ends with examples and the exit codes."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        parents=parents,
        epilog=f"examples:\n{examples}\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def common_parent():
    """``--quiet``, ``--verbose`` and ``--debug``, accepted by every command."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output and diagnostics")
    group.add_argument(
        "-q", "--quiet", action="store_true", help="print only warnings and errors on stderr; no progress bars"
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the library's progress notes (models loaded, images from memory, cache_dir or the model)",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        help="print debug logs, the library's included (model identity, cache hits, files removed), and, on "
        "errors, the full traceback",
    )
    return parent


def add_image_arguments(parser):
    """IMAGES, ``--manifest`` and ``--path-column``."""
    parser.add_argument(
        "images",
        nargs="*",
        metavar="IMAGES",
        help="image files, folders (searched recursively, sorted) or glob patterns "
        "(quote them to let skclip-sage expand '**')",
    )
    parser.add_argument(
        "--manifest", metavar="CSV", help="a CSV file listing images (relative paths are relative to its folder)"
    )
    parser.add_argument(
        "--path-column",
        default="path",
        metavar="NAME",
        help="the manifest column with the image paths (default: %(default)s)",
    )


def model_help():
    """``--model``'s help, its forms read from the table of backends (as ``skclip-sage models`` lists them)."""
    from ..encoders import model_forms

    forms = [form.replace("pretrained=", "--pretrained ") for form, _ in model_forms()]
    return (
        f"the model: {'; '.join(forms)}; 'skclip-sage models' says what each names and lists the paper's "
        "backbones (default: %(default)s)"
    )


def add_model_options(parser):
    """The options mirroring both estimators' model parameters."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default="ViT-B-32",
        help=model_help(),
    )
    group.add_argument(
        "--pretrained",
        type=pretrained_option,
        default="laion2b_s34b_b79k",
        help="weights tag or checkpoint file for a model name; 'none' for random weights; "
        f"ignored for {', '.join(backend.scheme for backend in BACKENDS if backend.scheme and backend.ignores_pretrained)} "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--device", default="auto", help="auto, cpu, cuda or cuda:N (default: %(default)s: CUDA when present)"
    )
    group.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="autocast precision (default: %(default)s: bf16/fp16 on GPU, fp32 on CPU)",
    )
    group.add_argument(
        "--batch-size",
        type=positive_int,
        default=64,
        metavar="N",
        help="images (and prompts) per forward pass; halved on GPU out-of-memory (default: %(default)s)",
    )
    group.add_argument(
        "--num-workers",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="processes decoding images; 0 decodes in this one (default: %(default)s)",
    )
    group.add_argument(
        "--cache-dir",
        metavar="FOLDER",
        help="keep downloaded weights and computed embeddings here, so reruns skip the model",
    )


def add_error_options(parser):
    """``--on-error``, ``--failures`` and ``--strict``."""
    group = parser.add_argument_group("images that give no embedding (unreadable, or a non-finite embedding)")
    group.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="raise: name every image that gave no embedding and stop without writing results (exit 3); "
        "skip: write results for the others, list the failures in a CSV and exit 1 "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--failures",
        metavar="CSV",
        help="where --on-error skip lists the images that gave no embedding (columns path, reason), as .csv, "
        ".parquet, .json "
        "or .jsonl (default: OUTPUT_STEM.failures.csv, or skclip-sage-failures.csv with stdout)",
    )
    group.add_argument(
        "--strict",
        action="store_true",
        help="treat every skclip-sage warning (e.g. class names giving identical prompts) "
        "as an error (exit 3); skipped images still exit 1",
    )


def add_template_options(parser, *, several_k):
    """``--templates``, ``--k``, ``--seed`` and ``--truncate``."""
    group = parser.add_argument_group("prompt templates")
    group.add_argument(
        "--templates", default="openai_imagenet", metavar="SET_OR_FILE", help=f"{TEMPLATES_HELP} (default: %(default)s)"
    )
    if several_k:
        group.add_argument(
            "--k",
            type=positive_int,
            nargs="+",
            default=[1],
            metavar="K",
            help="templates per image for sage, random and text; several values compare them (default: 1)",
        )
    else:
        group.add_argument(
            "--k",
            type=positive_int,
            default=1,
            metavar="K",
            help="templates per image for sage, random and text (default: %(default)s)",
        )
    group.add_argument(
        "--seed",
        type=seed_int,
        metavar="N",
        help="seed of the random selection, 0 to 2**32-1 (default: a fresh seed, logged so the run can be repeated)",
    )
    group.add_argument(
        "--truncate",
        action="store_true",
        help="cut prompts longer than the text encoder's context to fit, with a warning "
        "(default: such a prompt is an error naming it)",
    )
    return group
