"""Where the command line talks: logging to stderr, warnings, progress bars and output files.

Results go to stdout or files; everything meant for a person (progress, notes,
warnings, errors) goes to stderr, so ``skclip-sage classify ... > out.csv`` keeps
the CSV clean.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
import sys
import warnings

from ._errors import InputError

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
    caller turns it into exit code 3). Unreadable-image warnings are left to
    :func:`skclip_sage.cli._models.embed_images`, which handles them itself.
    """
    from ..exceptions import SkclipSageWarning, SkippedImagesWarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, SkclipSageWarning):
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


def check_output_path(path, option):
    """Fail early, before any model work, when ``path`` cannot be written.

    Parameters
    ----------
    path : str or None
        The output file; None or ``"-"`` mean stdout and are always fine.
    option : str
        The option that named it, for the message.
    """
    if path is None or path == "-":
        return
    if os.path.isdir(path):
        raise InputError(f"{option} {path!r} is a folder; give a file name.")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"{option} {path!r}: the folder {parent!r} does not exist; create it first.")


@contextlib.contextmanager
def open_output(path, *, binary=False):
    """Open ``path`` for writing (stdout for None or ``"-"``), replacing it only on success.

    The data goes to ``<path>.partial-<pid>`` first and is renamed at the end, so
    an interrupted or failed run never leaves a truncated file behind that looks
    like a result.
    """
    if path is None or path == "-":
        yield sys.stdout.buffer if binary else sys.stdout
        sys.stdout.flush()
        return
    partial = f"{path}.partial-{os.getpid()}"
    try:
        if binary:
            with open(partial, "wb") as stream:
                yield stream
        else:
            with open(partial, "w", newline="", encoding="utf-8") as stream:
                yield stream
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def write_csv(path, header, rows):
    """Write a CSV (``\\n`` line ends) to ``path`` or stdout.

    Parameters
    ----------
    path : str or None
        The file, or None / ``"-"`` for stdout.
    header : list of str
        Column names.
    rows : iterable of list
        The rows, each as long as ``header``.
    """
    with open_output(path) as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def default_failures_path(output):
    """``<output stem>.failures.csv`` next to ``output``; ``skclip-sage-failures.csv`` for stdout."""
    if output is None or output == "-":
        return f"{PROGRAM}-failures.csv"
    return f"{os.path.splitext(output)[0]}.failures.csv"


def write_failures(path, failures):
    """Write the unreadable images as a CSV with the columns ``path`` and ``reason``.

    Parameters
    ----------
    path : str
        The failures file (written even when there are no failures, so a file left
        by an earlier run never lingers as if it described this one).
    failures : list of (str, str)
        ``(path, reason)`` of each unreadable image.
    """
    write_csv(path, ["path", "reason"], [list(failure) for failure in failures])
    if failures:
        LOGGER.warning("listed the unreadable image(s) in %s", path)
