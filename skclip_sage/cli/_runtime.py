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


LIBRARY_LOGGER = logging.getLogger("skclip_sage")


def configure_logging(*, quiet, debug, verbose=False):
    """Send the CLI's and the library's log records to the current ``sys.stderr``.

    The handler sits on the library's logger (``skclip_sage``), which the CLI's
    logger (``skclip_sage.cli``) is a child of, so one handler shows both.

    Parameters
    ----------
    quiet : bool
        Show only warnings and errors.
    debug : bool
        Also show debug records, the library's included (model identity, cache
        hits, files removed), and warnings from torch and other libraries.
    verbose : bool, default=False
        Also show the library's INFO records (models loaded, images from memory,
        from cache_dir and through the model, text banks encoded).

    Returns
    -------
    restore : callable
        Puts the library logger's handlers, level and propagation back as they
        were (``main`` may run several times in one process: tests, notebooks).
    """
    saved = (LIBRARY_LOGGER.handlers[:], LIBRARY_LOGGER.level, LIBRARY_LOGGER.propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PrefixFormatter())
    # Replace, not add: main() may run several times in one process (tests, notebooks).
    LOGGER.handlers[:] = []
    LOGGER.propagate = True
    LOGGER.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    LIBRARY_LOGGER.handlers[:] = [handler]
    LIBRARY_LOGGER.propagate = False
    LIBRARY_LOGGER.setLevel(
        logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO if verbose else logging.WARNING
    )

    def restore():
        LIBRARY_LOGGER.handlers[:], level, LIBRARY_LOGGER.propagate = saved
        LIBRARY_LOGGER.setLevel(level)

    return restore


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
