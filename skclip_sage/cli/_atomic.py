"""Writing one output, or a set of outputs that belong together, so a failure never leaves a mixed state.

:func:`open_output` writes a file aside and renames it over the destination when
complete; :func:`outputs_together` holds back those renames until every output of a
set is written, then moves them all in, or, on any failure, none (the old files are
put back).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import tempfile

from ._errors import InputError
from ._output_checks import STDOUT

__all__ = ["open_output", "outputs_together"]


def _new_file_mode(destination):
    """The mode of a replaced file, or what ``open()`` would give a new one (0666 less the umask)."""
    try:
        return os.stat(destination).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# Inside outputs_together(): destination -> (name as given, staged temporary file), moved in at its end.
_STAGED = contextvars.ContextVar("skclip_sage_cli_staged_outputs", default=None)


@contextlib.contextmanager
def open_output(path, *, binary=False):
    """Open ``path`` for writing (stdout for None or ``"-"``), replacing it only on success.

    The data goes to a new, unpredictably named temporary file in the destination's
    folder (``tempfile.mkstemp``: ``O_EXCL``, so nothing planted there is followed)
    and is renamed over the destination at the end (an atomic ``os.replace``), so an
    interrupted or failed run never leaves a truncated file that looks like a result.
    Inside :func:`outputs_together` the rename waits for the block's end. Missing
    folders are created. A symlink is written through: its target is replaced, the
    link kept. A failure to write is an ``InputError`` naming ``path``.
    """
    if path in STDOUT:
        yield sys.stdout.buffer if binary else sys.stdout
        sys.stdout.flush()
        return
    staged = _STAGED.get()
    destination = os.path.realpath(path)
    folder, name = os.path.split(destination)
    partial = None
    try:
        os.makedirs(folder, exist_ok=True)
        # A short prefix: the temporary name must fit where the output's name just fits.
        descriptor, partial = tempfile.mkstemp(dir=folder, prefix=f".{name[:24]}.", suffix=".partial")
        os.fchmod(descriptor, _new_file_mode(destination))
        if binary:
            stream = os.fdopen(descriptor, "wb")
        else:
            stream = os.fdopen(descriptor, "w", newline="", encoding="utf-8")
        with stream:
            yield stream
        if staged is None:
            os.replace(partial, destination)
        else:
            staged.outputs[destination] = (path, partial)
        partial = None
    except OSError as err:
        reason = err.strerror or str(err)
        untouched = "Nothing was written there." if staged is None else staged.untouched()
        raise InputError(f"could not write {path!r}: {reason}. {untouched}") from err
    finally:
        if partial is not None and os.path.lexists(partial):
            os.unlink(partial)


class _Staged:
    def __init__(self, paths):
        self.paths = [path for path in paths if path is not None and path not in STDOUT]
        self.outputs = {}

    def untouched(self):
        return f"Nothing was written: {', '.join(map(repr, self.paths))} are as they were."


@contextlib.contextmanager
def outputs_together(paths):
    """Replace the outputs that :func:`open_output` writes in this block together at its end, or none of them.

    Each output is written aside in its own folder; when the block ends without an
    error they are renamed over their destinations one by one, the old files moved
    aside first. If any write or rename fails, the renamed ones are put back and
    every old file is restored, so the set on disk is always one run's (an array
    never beside another run's ``.paths.txt``), and the ``InputError`` says so.

    Parameters
    ----------
    paths : list of str or None
        Every output of the set, for the message (None and stdout are skipped).
    """
    staged = _Staged(paths)
    token = _STAGED.set(staged)
    try:
        yield
        _STAGED.reset(token)
        token = None
        _move_in(staged)
    finally:
        if token is not None:
            _STAGED.reset(token)
        for _, partial in staged.outputs.values():
            if os.path.lexists(partial):
                os.unlink(partial)


def _move_in(staged):
    """Rename every staged output over its destination; on any failure put every old file back."""
    moved = []  # (destination, backup or None), in order
    current = None
    try:
        for destination, (current, partial) in staged.outputs.items():
            backup = None
            if os.path.lexists(destination):
                folder, name = os.path.split(destination)
                descriptor, backup = tempfile.mkstemp(dir=folder, prefix=f".{name[:24]}.", suffix=".old")
                os.close(descriptor)
                try:
                    os.replace(destination, backup)
                except OSError:
                    os.unlink(backup)
                    raise
            moved.append((destination, backup))
            os.replace(partial, destination)
    except BaseException as err:  # Ctrl-C between two renames too: the old set goes back whole
        for destination, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, destination)
            elif os.path.lexists(destination):
                os.unlink(destination)
        if not isinstance(err, OSError):
            raise
        reason = err.strerror or str(err)
        raise InputError(f"could not write {current!r}: {reason}. {staged.untouched()}") from err
    for _, backup in moved:
        if backup is not None:
            os.unlink(backup)
