"""``skclip-sage demo``: train a tiny CLIP on coloured digits offline and run the whole comparison on it."""

from __future__ import annotations

from ..utils._docstrings import fill_docstring
from ._errors import ExitCode, UsageError
from ._options import ADD_PARSER_SECTIONS, command_parser, positive_int
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
accepts, and its caption templates in OUTPUT/templates.txt (for --templates). Results
another command wrote in OUTPUT are not overwritten without --force. A toy, not
evidence about real data."""


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
        type=int,
        default=0,
        help="seeds the benchmark, the caption sources, the training and random selection",
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
        "--k", type=positive_int, nargs="+", default=[1, 3, 5, 10, 20], help="values of K (default: 1 3 5 10 20)"
    )
    parser.add_argument(
        "--threads",
        type=threads_option,
        default="auto",
        metavar="N",
        help="torch threads for training, or auto: time a few steps with 1 and with torch's default and keep "
        "the faster (default: auto)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite results.* in OUTPUT that another command wrote")
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
        OUTPUT holds results another command wrote and ``--force`` was not given.
    """
    from ..comparison import ResultsOverwriteError
    from ..demo import run_demo

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
    except ResultsOverwriteError as error:
        writer = error.previous_writer or "an unknown command (no results.written-by file)"
        raise UsageError(
            f"{', '.join(error.paths)} were written by {writer}, not by skclip-sage demo; refusing to overwrite "
            "them. Choose another --output, or pass --force to overwrite them."
        ) from error
    LOGGER.info(
        "done in %.0f s; pass --model %s --templates %s to the other commands",
        result.seconds,
        result.model,
        result.templates,
    )
    return ExitCode.OK
