"""``skclip-sage demo``: train a tiny CLIP on coloured digits offline and run the whole comparison on it."""

from __future__ import annotations

from ..utils._docstrings import fill_docstring
from ._errors import ExitCode
from ._options import ADD_PARSER_SECTIONS, command_parser, positive_int
from ._runtime import LOGGER, show_progress

EXAMPLES = """\
  # the whole demo (a few minutes on 2 CPU cores; a second run reuses the model)
  skclip-sage demo --output results

  # then use the trained model like any other, with the templates it was trained on
  skclip-sage classify results/coloured_digits/images/test/3 --model local-dir:results/model \\
      --templates results/templates.txt --classes zero one two three four five six seven eight nine
"""

DESCRIPTION = """\
An offline demo with a learned model. Writes a spurious-correlation image benchmark
(scikit-learn's handwritten digits, coloured so that in training the colour predicts
the digit), trains a tiny open_clip model on it from scratch on the CPU (or reuses the
one already trained under OUTPUT for the same settings), embeds the test images and
compares the selection modes like benchmarks/reproduce_paper.py: OUTPUT/results.md,
results.csv and results.png. The model stays in OUTPUT/model, a local-dir: folder every
other command accepts, and its caption templates in OUTPUT/templates.txt (for
--templates). A toy, not evidence about real data."""


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``demo`` and its options.

    %(add_parser_sections)s
    """
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
    parser.add_argument("--seed", type=int, default=0, help="seeds the benchmark, the training and random selection")
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
    """
    from ..demo import run_demo

    result = run_demo(
        args.output,
        seed=args.seed,
        epochs=args.epochs,
        n_train=args.n_train,
        n_colours=args.colours,
        k_values=args.k,
        plot=not args.no_plot,
        verbose=show_progress(args.quiet),
        log=LOGGER.info,
    )
    LOGGER.info(
        "done in %.0f s; pass --model %s --templates %s to the other commands",
        result.seconds,
        result.model,
        result.templates,
    )
    return ExitCode.OK
