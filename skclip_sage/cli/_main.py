"""The ``skclip-sage`` entry point: parse the command line, run a command, map errors to exit codes.

Errors a user can fix (a missing file, a bad model name, an unreadable image)
become one ``skclip-sage: error: ...`` line on stderr and an exit code; only
``--debug`` adds the traceback. Anything else is reported as an internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

from . import _classify, _demo, _embed, _evaluate, _models, _templates
from ._errors import EXIT_CODES_HELP, ExitCode, InputError, UsageError
from ._options import common_parent
from ._runtime import LOGGER, PROGRAM, configure_logging, warnings_to_log

DESCRIPTION = """\
Robust zero-shot image classification with CLIP and SAGE prompt selection.
Results go to stdout or files; progress, notes and errors go to stderr.
Run 'skclip-sage COMMAND --help' for the options and examples of each command."""

EXAMPLES = """\
examples:
  skclip-sage demo --output results
  skclip-sage classify photos/ --classes landbird waterbird --output predictions.csv
  skclip-sage evaluate waterbirds data/ --compare sage,ensemble --k 1 3
  skclip-sage embed photos/ --output embeddings.npy
  skclip-sage templates simple
"""


def build_parser():
    """The ``skclip-sage`` argument parser with its commands.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description=DESCRIPTION,
        epilog=f"{EXAMPLES}\n{EXIT_CODES_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    parents = [common_parent()]
    # Kept so errors found after parsing show the command's own usage line.
    parser.command_parsers = {
        module.__name__.rsplit("._", 1)[1]: module.add_parser(subparsers, parents)
        for module in (_classify, _evaluate, _embed, _templates, _models, _demo)
    }
    return parser


def _user_error_types():
    # Imported late: skclip_sage.exceptions pulls in scikit-learn, which --help does not need.
    from ..exceptions import SkclipSageError, SkclipSageWarning

    return (InputError, SkclipSageError, SkclipSageWarning, OSError, ValueError)


def _one_line(error):
    """The error's message on one line (a message spanning lines would hide in logs)."""
    message = " ".join(str(error).split()) or type(error).__name__
    # The library's advice names its Python parameter; say the option too.
    return message.replace("pass truncate=True", "pass truncate=True (--truncate on the command line)")


def _strict_note(error, args):
    from ..exceptions import SkclipSageWarning

    return (
        " (a warning, turned into an error by --strict)" if isinstance(error, SkclipSageWarning) and args.strict else ""
    )


def main(argv=None):
    """Run ``skclip-sage`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit code.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name.

    Returns
    -------
    exit_code : int
        See ``skclip-sage --help`` (0 success, 1 some images skipped, 2 usage
        error, 3 input or model error, 4 internal error, 130 interrupted).
    """
    parser = build_parser()
    # parse_known_args, then images found after options: argparse alone rejects
    # `classify a.jpg --classes cat dog --k 3 b.jpg`. Exits 2 on a malformed command line.
    args, extras = parser.parse_known_args(argv)
    if extras and hasattr(args, "images") and not any(extra.startswith("-") for extra in extras):
        args.images.extend(extras)
    elif extras:
        parser.command_parsers[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
    restore_logging = configure_logging(quiet=args.quiet, debug=args.debug, verbose=args.verbose)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, as reports record it
    try:
        return _run(args)
    finally:
        restore_logging()


def _run(args):
    """Run the parsed command; every failure becomes a message on stderr and an exit code."""
    command = f"{PROGRAM} {args.command}"
    try:
        # `templates` loads no model: skipping the warnings setup keeps it free of
        # the scikit-learn import that skclip_sage.exceptions costs (~2 s).
        uses_models = getattr(args, "uses_models", True)
        with warnings_to_log(strict=getattr(args, "strict", False)) if uses_models else contextlib.nullcontext():
            return int(args.run(args))
    except UsageError as error:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"{command}: error: {_one_line(error)}\nRun '{command} --help' for the options.\n")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        LOGGER.error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception as error:  # noqa: BLE001 - every failure must end in a message and an exit code
        if args.debug:
            traceback.print_exc()
        if isinstance(error, _user_error_types()):
            sys.stderr.write(f"{command}: error: {_one_line(error)}{_strict_note(error, args)}\n")
            return ExitCode.INPUT
        if "out of memory" in str(error).lower():
            # torch's OutOfMemoryError (a RuntimeError) after the batch back-off gave up: a
            # resource limit the user can change, not a bug.
            sys.stderr.write(f"{command}: error: {_one_line(error)} Lower --batch-size, or use --device cpu.\n")
            return ExitCode.INPUT
        sys.stderr.write(
            f"{command}: error: unexpected {type(error).__name__}: {_one_line(error)}. This is a bug in "
            f"skclip-sage; rerun with --debug for the traceback and report it.\n"
        )
        return ExitCode.INTERNAL
