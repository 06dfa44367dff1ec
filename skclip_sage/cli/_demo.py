"""``skclip-sage demo``: train a tiny CLIP on coloured digits offline and run the whole comparison on it."""

from __future__ import annotations

import argparse
import os

from ..utils._docstrings import fill_docstring
from ._errors import ExitCode, UsageError
from ._options import ADD_PARSER_SECTIONS, command_parser, positive_int, seed_int
from ._runtime import LOGGER, show_progress

EXAMPLES = """\
  # the whole demo (a few minutes on 2 CPU cores; a second run reuses the model)
  skclip-sage demo --output results

  # the control: every caption template used for every training image
  skclip-sage demo --design uniform --output results-uniform

  # then use the trained model like any other, with the templates it was trained on
  skclip-sage classify results/coloured_digits/images/test/3 --model local-dir:results/model \\
      --templates results/templates.txt --classes zero one two three four five six seven eight nine
"""

DESCRIPTION = """\
An offline demo with a learned model. Writes a spurious-correlation image benchmark
(scikit-learn's handwritten digits, coloured so that in training the colour mostly
predicts the digit), captions the training images from two caption sources with
different colour leakage (--design sources; --design uniform is the control, every
template for every image), trains a tiny open_clip model on them from scratch on the
CPU (or reuses the one already trained under OUTPUT for the same settings), embeds
the test images and compares every template alone, the selection modes and the
debiasing methods like benchmarks/reproduce_paper.py: OUTPUT/results.md, results.csv,
results.png and selections.csv (which caption source the per-image selections drew
from). The model stays in OUTPUT/model, a local-dir: folder every other command
accepts, and its caption templates in OUTPUT/templates.txt (for --templates).
OUTPUT/demo-files.json records every file the demo wrote: it writes only where
nothing is or where it wrote before, and refuses (exit 2, before any work) a file of
yours in the way, e.g. your own OUTPUT/templates.txt, OUTPUT/model/ or another
command's results; --force never overwrites those. A toy, not evidence about real
data."""


# The demo's caption pool (skclip_sage.demo.CAPTION_TEMPLATES); spelled out so --help imports nothing.
N_TEMPLATES = 20


def k_option(text):
    """A K that fits the demo's 20 caption templates (the classifier refuses a larger one)."""
    k = positive_int(text)
    if k > N_TEMPLATES:
        raise argparse.ArgumentTypeError(f"must be <= {N_TEMPLATES}, the demo's caption templates; got {k}")
    return k


def threads_option(text):
    """``auto`` or a positive thread count."""
    return text if text == "auto" else positive_int(text)


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``demo`` and its options.

    %(add_parser_sections)s
    """
    from ..demo import DESIGNS

    parser = command_parser(
        subparsers,
        "demo",
        help="train a tiny CLIP on coloured digits offline and compare the selection modes on it",
        description=DESCRIPTION,
        examples=EXAMPLES,
        parents=parents,
    )
    parser.add_argument(
        "-o", "--output", default="results", metavar="DIR", help="folder for everything (default: results)"
    )
    parser.add_argument(
        "--design",
        choices=DESIGNS,
        default=DESIGNS[0],
        help="caption design: two caption sources with different colour leakage (sources), or the control "
        "with every template for every image (uniform) (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=seed_int,
        default=0,
        help="seeds the benchmark, the caption sources, the training and random selection (0 to 2**32 - 1; default: 0)",
    )
    parser.add_argument("--epochs", type=positive_int, default=60, help="training epochs (default: 60)")
    parser.add_argument(
        "--n-train", type=positive_int, default=1500, help="training digits, of the 1797 (default: 1500)"
    )
    parser.add_argument(
        "--colours",
        type=positive_int,
        default=2,
        help="stroke colours, 2 to 10; digit d's training colour is colour d %% N (default: 2)",
    )
    parser.add_argument(
        "--k",
        type=k_option,
        nargs="+",
        default=[1, 3, 5, 10, 20],
        help=f"values of K, 1 to {N_TEMPLATES} (the caption templates) (default: 1 3 5 10 20)",
    )
    parser.add_argument(
        "--threads",
        type=threads_option,
        default="auto",
        metavar="N",
        help="torch threads for training, or auto: time a few steps with 1 and with torch's default and keep "
        "the faster (default: auto)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="also replace files the demo wrote in OUTPUT that were changed since; files it did not write are "
        "never touched",
    )
    parser.add_argument("--no-plot", action="store_true", help="skip results.png (no matplotlib needed)")
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Run ``demo``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    exit_code : ExitCode
        ``OK``; failures are raised and mapped to codes by ``main``.

    Raises
    ------
    UsageError
        OUTPUT is a file, or holds a file the demo would write but did not write
        (or that changed since, without ``--force``).
    """
    from ..demo import DemoFilesError, run_demo

    if os.path.lexists(args.output) and not os.path.isdir(args.output):
        raise UsageError(f"--output {args.output!r} is a file, not a folder; name a folder for the demo's files.")
    try:
        # run_demo checks the output folder before any work, so a refusal costs nothing.
        result = run_demo(
            args.output,
            design=args.design,
            seed=args.seed,
            epochs=args.epochs,
            n_train=args.n_train,
            n_colours=args.colours,
            k_values=args.k,
            plot=not args.no_plot,
            num_threads=args.threads,
            force=args.force,
            verbose=show_progress(args.quiet),
            log=LOGGER.info,
        )
    except DemoFilesError as error:
        raise UsageError(str(error).replace("another output folder", "another --output")) from error
    for path in result.removed:
        LOGGER.warning("removed %s: written by an earlier demo run, not by this one", path)
    LOGGER.info(
        "done in %.0f s; pass --model %s --templates %s to the other commands",
        result.seconds,
        result.model,
        result.templates,
    )
    return ExitCode.OK
