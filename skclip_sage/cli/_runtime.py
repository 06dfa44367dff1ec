"""Where the command line talks: logging to stderr, warnings and progress bars.

Results go to stdout or files; everything meant for a person (progress, notes,
warnings, errors) goes to stderr, so ``skclip-sage classify ... > out.csv`` keeps
the CSV clean. Output files are written by ``_outputs.py``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings

LOGGER = logging.getLogger("skclip_sage.cli")
PROGRAM = "skclip-sage"


class _PrefixFormatter(logging.Formatter):
    """``skclip-sage: message`` for notes, ``skclip-sage: warning: message`` otherwise."""

    def format(self, record):
        message = record.getMessage()
        if record.levelno == logging.INFO:
            return f"{PROGRAM}: {message}"
        return f"{PROGRAM}: {record.levelname.lower()}: {message}"


def configure_logging(*, quiet, debug):
    """Send the CLI's log records to the current ``sys.stderr``.

    Parameters
    ----------
    quiet : bool
        Show only warnings and errors.
    debug : bool
        Also show debug records (and warnings from torch and other libraries).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrefixFormatter())
    # Replace, not add: main() may run several times in one process (tests, notebooks).
    LOGGER.handlers[:] = [handler]
    LOGGER.propagate = False
    LOGGER.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)


def show_progress(quiet):
    """Whether to draw progress bars: not with ``--quiet``, and only on a terminal."""
    return not quiet and sys.stderr.isatty()


@contextlib.contextmanager
def warnings_to_log(*, strict):
    """Log skclip-sage warnings as ``warning:`` lines; others only at debug level.

    With ``strict`` every skclip-sage warning is raised as an error instead (the
    caller turns it into exit code 3). A warning with the same text as one already
    shown in this block is not shown again. Unreadable-image warnings are left to
    :func:`skclip_sage.cli._models.embed_images`, which handles them itself.
    """
    from ..exceptions import SkclipSageWarning, SkippedImagesWarning

    # A command fits on the class names before embedding and again after, so a library
    # warning can come twice from one cause: each text is said once per command.
    shown = set()

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, SkclipSageWarning):
            if (category, str(message)) in shown:
                return
            shown.add((category, str(message)))
            LOGGER.warning("%s", message)
        else:
            LOGGER.debug("%s from %s:%s: %s", category.__name__, filename, lineno, message)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        if strict:
            warnings.simplefilter("error", SkclipSageWarning)
        # Inserted last, so checked first: skipped images are reported, never raised here.
        warnings.simplefilter("always", SkippedImagesWarning)
        warnings.showwarning = show
        yield
