"""Every file a command writes: written atomically, typed by its name, safe to open in a spreadsheet.

Promises that hold for every output of every command (the checks made before any
work are in ``_output_checks.py``, re-exported here):

- An output is written to a new temporary file in its own folder (created with
  ``O_EXCL`` under an unpredictable name, so a symlink planted there cannot redirect
  the write) and renamed over the destination only when complete: an interrupted
  run never leaves a half file. Missing folders on the way are created.
- Outputs that belong together (``embed``'s array, its ``.paths.txt`` and its
  failures list) are all written aside first and then moved in, or none is: on a
  failure the old set stays whole and the message says so (``outputs_together``).
- A write that fails names the output, never the temporary file.
- Tables are written in the format their extension names (``.csv``, ``.parquet``,
  ``.json`` records, ``.jsonl``); any other extension is refused, listing these.
- A CSV text cell that a spreadsheet would run as a formula (starting with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return, and not a number) gets a leading
  apostrophe, as OWASP recommends.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import json
import math
import os
import re
import sys
import tempfile

import numpy as np

from ._errors import InputError
from ._output_checks import STDOUT, TABLE_FORMATS, output_format
from ._output_checks import check_outputs as check_outputs

__all__ = [
    "TABLE_FORMATS",
    "check_outputs",
    "open_output",
    "output_format",
    "outputs_together",
    "write_csv",
    "write_table",
]

# OWASP's list for CSV injection: a cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Numbers (as written by str() or repr()) start with - or + harmlessly and stay numbers.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)")


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
    except OSError as err:
        for destination, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, destination)
            elif os.path.lexists(destination):
                os.unlink(destination)
        reason = err.strerror or str(err)
        raise InputError(f"could not write {current!r}: {reason}. {staged.untouched()}") from err
    for _, backup in moved:
        if backup is not None:
            os.unlink(backup)


def escape_formula(cell):
    """``cell`` with a leading ``'`` if a spreadsheet would read it as a formula (OWASP CSV injection).

    Examples
    --------
    >>> escape_formula("=HYPERLINK(1)"), escape_formula("-2+3"), escape_formula("-0.5"), escape_formula("cat")
    ("'=HYPERLINK(1)", "'-2+3", '-0.5', 'cat')
    """
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


class _NewlineRows:
    """A stream for ``csv.writer(lineterminator="\\r\\n")`` that ends each row with ``\\n`` instead.

    The csv module quotes a cell holding a character of the line terminator, and no
    other line break: with ``"\\n"`` a bare carriage return (a file named
    ``a\\rb.png``) went out unquoted and readers split the row there. Declaring
    ``"\\r\\n"`` quotes both; each row arrives in one ``write`` call, so its last
    two characters are the terminator.
    """

    def __init__(self, stream):
        self.stream = stream

    def write(self, row):
        return self.stream.write(row[:-2] + "\n" if row.endswith("\r\n") else row)


def write_csv(path, header, rows):
    """Write a CSV (``\\n`` line ends; a cell holding ``\\r`` or ``\\n`` is quoted) to ``path`` or stdout, atomically.

    Parameters
    ----------
    path : str or None
        The file, or None / ``"-"`` for stdout.
    header : list of str
        Column names.
    rows : iterable of list
        The rows, each as long as ``header``, already as text or numbers. Text
        cells a spreadsheet would run as formulas are escaped (:func:`escape_formula`).
    """
    with open_output(path) as stream:
        writer = csv.writer(_NewlineRows(stream), lineterminator="\r\n")
        writer.writerow([escape_formula(name) for name in header])
        writer.writerows([escape_formula(cell) for cell in row] for row in rows)


def _plain(value):
    """A JSON-ready Python value: numpy scalars unwrapped, float32 at its shortest, NaN as None."""
    if isinstance(value, np.generic):
        # str() of a float32 is its shortest round-trip text: 0.1, not 0.10000000149011612.
        value = float(str(value)) if isinstance(value, np.floating) else value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _csv_cell(value):
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return ""
    if isinstance(value, (list, tuple)):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(value)


def _arrow_column(values):
    """A column for pyarrow: a float32 column stays float32, everything else as Python values."""
    if values and all(isinstance(value, np.float32) for value in values):
        return np.asarray(values, dtype=np.float32)
    return [_plain(value) for value in values]


def write_table(path, columns, *, option, notes=None):
    """Write a table in the format of ``path``'s extension (CSV on stdout), atomically.

    Parameters
    ----------
    path : str or None
        The file (``.csv``, ``.parquet``, ``.json`` as a list of records or
        ``.jsonl`` one record per line), or None / ``"-"`` for CSV on stdout.
    columns : dict of str to list
        Column name to values, all of one length; lists inside cells become JSON
        text in CSV and lists in the other formats; NaN and None become empty cells
        (CSV) or nulls.
    option : str
        The option that named ``path``, for messages.
    notes : dict of str to str, default=None
        Key-value notes stored in a Parquet file's schema metadata.
    """
    extension = output_format(path, option)
    names = list(columns)
    n_rows = len(next(iter(columns.values()))) if columns else 0
    if extension == ".csv":
        rows = ([_csv_cell(columns[name][row]) for name in names] for row in range(n_rows))
        write_csv(path, names, rows)
        return
    if extension == ".parquet":
        from ..utils._optional import require_pyarrow

        parquet = require_pyarrow(f"{option} {path!r}")
        import pyarrow

        table = pyarrow.table({name: _arrow_column(columns[name]) for name in names})
        if notes:
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), **notes})
        with open_output(path, binary=True) as stream:
            parquet.write_table(table, stream)
        return
    records = ({name: _plain(columns[name][row]) for name in names} for row in range(n_rows))
    with open_output(path) as stream:
        if extension == ".jsonl":
            for record in records:
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            json.dump(list(records), stream, ensure_ascii=False, indent=1)
            stream.write("\n")


def write_json(path, document):
    """Write one JSON document (indented, UTF-8), atomically."""
    with open_output(path) as stream:
        json.dump(_plain_tree(document), stream, indent=2, ensure_ascii=False)
        stream.write("\n")


def _plain_tree(value):
    if isinstance(value, dict):
        return {key: _plain_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_tree(item) for item in value]
    return _plain(value)


def sibling_path(output, suffix, *, stdout_name=None):
    """``<output stem><suffix>`` next to ``output``; ``stdout_name`` when output is stdout."""
    if output in STDOUT:
        return stdout_name
    return f"{os.path.splitext(output)[0]}{suffix}"


def default_failures_path(output):
    """``<output stem>.failures.csv`` next to ``output``; ``skclip-sage-failures.csv`` for stdout."""
    return sibling_path(output, ".failures.csv", stdout_name="skclip-sage-failures.csv")


def failures_output(args, output):
    """The failures file of ``--on-error skip`` (its extension checked), or None under ``raise``.

    Parameters
    ----------
    args : argparse.Namespace
        ``on_error`` and ``failures``.
    output : str or None
        The command's main output, next to which the default file goes.

    Returns
    -------
    path : str or None
        ``--failures``, or ``<output stem>.failures.csv``.
    """
    if args.on_error != "skip":
        return None
    path = args.failures or default_failures_path(output)
    output_format(path, "--failures")
    return path


def write_failures(path, failures, log):
    """Write the images that gave no embedding as a table with the columns ``path`` and ``reason``.

    Parameters
    ----------
    path : str
        The failures file, in the format of its extension (``.csv``, ``.parquet``,
        ``.json``, ``.jsonl``); written even when there are no failures, so a file
        left by an earlier run never lingers as if it described this one.
    failures : list of (str, str)
        ``(path, reason)`` of each image that could not be read or whose embedding
        was not finite.
    log : logging.Logger or None
        Where to say that failures were listed; None: the caller says it, with
        :func:`note_failures`, once the file is in place.
    """
    columns = {"path": [name for name, _ in failures], "reason": [reason for _, reason in failures]}
    write_table(path, columns, option="--failures")
    if log is not None:
        note_failures(path, failures, log)


def note_failures(path, failures, log):
    """Say where the images that gave no embedding were listed (nothing when none failed)."""
    if failures:
        log.warning("listed the %d image(s) that gave no embedding in %s", len(failures), path)
