"""Every file a command writes: checked before any model work, written atomically, typed by its name.

Three promises hold for every output of every command:

- An output that is one of the command's inputs, or the same file as another of
  its outputs (compared by resolved path and by file identity, so through symlinks
  too), is refused with exit code 2 before anything is written.
- An output is written to a temporary file in its own folder and renamed over the
  destination only when complete, so an interrupted run never leaves a half file.
- Tables are written in the format their extension names (``.csv``, ``.parquet``,
  ``.json`` records, ``.jsonl``); any other extension is refused, listing these.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import math
import os
import sys

import numpy as np

from ._errors import InputError, UsageError

TABLE_FORMATS = (".csv", ".parquet", ".json", ".jsonl")
STDOUT = (None, "-")


def output_format(path, option, formats=TABLE_FORMATS):
    """The format ``path``'s extension names (``".csv"`` for stdout), or a usage error.

    Parameters
    ----------
    path : str or None
        The output file; None or ``"-"`` mean stdout, written as CSV.
    option : str
        The option that named it, for the message.
    formats : tuple of str, default=TABLE_FORMATS
        The extensions this output accepts.

    Returns
    -------
    extension : str
        The lower-cased extension, one of ``formats``.
    """
    if path in STDOUT:
        return ".csv"
    extension = os.path.splitext(path)[1].lower()
    if extension not in formats:
        found = f"ends in {extension!r}" if extension else "has no extension"
        raise UsageError(
            f"{option} {path!r} {found}; the file type follows the extension, one of {', '.join(formats)}."
        )
    if extension == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise UsageError(f'{option} {path!r}: Parquet files need pyarrow: pip install "skclip-sage[parquet]".')
    return extension


def _identity(path):
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def check_outputs(outputs, inputs=()):
    """Refuse, before any work, outputs that cannot be written or would destroy a file.

    Parameters
    ----------
    outputs : list of (str, str or None)
        ``(option, path)`` of every file the command will write; None and ``"-"``
        (stdout) are skipped.
    inputs : iterable of str
        Every file the command reads (images, manifests, class and template files).

    Raises
    ------
    UsageError
        If an output is one of the inputs or the same file as another output.
    InputError
        If an output is a folder or its folder does not exist.
    """
    named = [(option, path) for option, path in outputs if path not in STDOUT]
    for option, path in named:
        if os.path.isdir(path):
            raise InputError(f"{option} {path!r} is a folder; give a file name.")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise InputError(f"{option} {path!r}: the folder {parent!r} does not exist; create it first.")
    seen = {}
    for option, path in named:
        real = os.path.realpath(path)
        if real in seen:
            other_option, other = seen[real]
            raise UsageError(
                f"{option} {path!r} and {other_option} {other!r} are the same file; each output needs its own "
                "name. Nothing was written."
            )
        seen[real] = (option, path)
    # Inputs exist, so only outputs that exist can be one; file identity sees through
    # symlinks and hard links on both sides without resolving every input's path.
    existing = {identity: entry for entry in named if (identity := _identity(entry[1])) is not None}
    if not existing:
        return
    for path in inputs:
        entry = existing.get(_identity(path))
        if entry is not None:
            option, output = entry
            raise UsageError(
                f"{option} {output!r} is the input {path!r}; writing it would destroy the input. "
                "Choose another output name. Nothing was written."
            )


@contextlib.contextmanager
def open_output(path, *, binary=False):
    """Open ``path`` for writing (stdout for None or ``"-"``), replacing it only on success.

    The data goes to ``.<name>.partial-<pid>`` in the destination's folder and is
    renamed over it at the end (an atomic ``os.replace``), so an interrupted or failed
    run never leaves a truncated file that looks like a result. A symlink is written
    through: its target is replaced, the link kept.
    """
    if path in STDOUT:
        yield sys.stdout.buffer if binary else sys.stdout
        sys.stdout.flush()
        return
    destination = os.path.realpath(path)
    folder, name = os.path.split(destination)
    partial = os.path.join(folder, f".{name}.partial-{os.getpid()}")
    try:
        if binary:
            with open(partial, "wb") as stream:
                yield stream
        else:
            with open(partial, "w", newline="", encoding="utf-8") as stream:
                yield stream
        os.replace(partial, destination)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def write_csv(path, header, rows):
    """Write a CSV (``\\n`` line ends) to ``path`` or stdout, atomically.

    Parameters
    ----------
    path : str or None
        The file, or None / ``"-"`` for stdout.
    header : list of str
        Column names.
    rows : iterable of list
        The rows, each as long as ``header``, already as text or numbers.
    """
    with open_output(path) as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


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


def write_failures(path, failures, log):
    """Write the unreadable images as a CSV with the columns ``path`` and ``reason``.

    Parameters
    ----------
    path : str
        The failures file (written even when there are no failures, so a file left
        by an earlier run never lingers as if it described this one).
    failures : list of (str, str)
        ``(path, reason)`` of each unreadable image.
    log : logging.Logger
        Where to say that failures were listed.
    """
    write_csv(path, ["path", "reason"], [list(failure) for failure in failures])
    if failures:
        log.warning("listed the %d unreadable image(s) in %s", len(failures), path)
