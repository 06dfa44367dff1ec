"""Exit codes of ``skclip-sage`` and the two errors the commands raise on purpose.

The codes are part of the command line's interface (scripts branch on them), so
they are spelled out once here and listed in ``skclip-sage --help``.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What a ``skclip-sage`` process exit status means."""

    #: Everything worked.
    OK = 0
    #: ``--on-error skip``: some images could not be read; results and a failures
    #: file were written for the rest.
    SOME_IMAGES_FAILED = 1
    #: The command line is wrong: unknown option, bad value, fewer than two classes
    #: (given or in a manifest), a ``--templates`` value that is neither a built-in
    #: set nor an existing file, an output file type that does not exist, an output
    #: that is one of the inputs or another output, or a demo output folder holding
    #: files the demo did not write (nothing is written).
    USAGE = 2
    #: An input or the model could not be used: missing image, manifest or class
    #: file, no images found, images that gave no embedding (with ``--on-error
    #: raise``), bad lines in a template file, bad
    #: dataset folder, model that does not load, an output that cannot be written,
    #: out of memory; or a warning under ``--strict``.
    INPUT = 3
    #: An unexpected internal error (a bug): rerun with ``--debug`` and report it.
    INTERNAL = 4
    #: Interrupted with Ctrl-C.
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    some images could not be read and were skipped (--on-error skip); results
       and a failures CSV were written for the others
  2    usage error (unknown option, bad value, fewer than two classes given or
       in a manifest, a --templates value that is neither a built-in set nor an
       existing file, unknown output extension, an output that is an input or
       another output, a demo --output holding files the demo did not write, ...);
       nothing was written
  3    input or model error (missing image, manifest or class file, no images,
       images that gave no embedding with --on-error raise, bad lines in a
       template file, bad dataset folder, model that does not load, an output
       that cannot be written, out of memory), or any warning under --strict
  4    internal error (a bug: rerun with --debug for the traceback and report it)
  130  interrupted
"""


class UsageError(Exception):
    """The command line asks for something impossible; exits with :attr:`ExitCode.USAGE`."""


class InputError(Exception):
    """A file, folder or value named on the command line cannot be used; exits with :attr:`ExitCode.INPUT`."""
