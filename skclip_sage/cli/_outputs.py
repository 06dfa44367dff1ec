"""Every file a command writes: written atomically, typed by its name, safe to open in a spreadsheet.

Promises that hold for every output of every command (the checks made before any
work are in ``_output_checks.py``, re-exported here):

- An output is written to a new temporary file in its own folder (created with
  ``O_EXCL`` under an unpredictable name, so a symlink planted there cannot redirect
  the write) and renamed over the destination only when complete: an interrupted
  run never leaves a half file. Missing folders on the way are created.
- Outputs that belong together (``embed``'s array, its ``.paths.txt`` and its
  failures list; ``classify``'s predictions, templates sidecar and failures list)
  are all written aside first and then moved in, or none is: on a failure the old
  set stays whole and the message says so (``outputs_together``).
- A write that fails names the output, never the temporary file.
- Tables are written in the format their extension names (``.csv``, ``.parquet``,
  ``.json`` records, ``.jsonl``); any other extension is refused, listing these.
- A CSV text cell that a spreadsheet would run as a formula (starting with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return, and not a number) gets a leading
  apostrophe, as OWASP recommends.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re

import numpy as np

from ._atomic import open_output, outputs_together
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
