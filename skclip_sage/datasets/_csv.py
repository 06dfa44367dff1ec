"""Reading manifest CSV files column by column, with errors that name file, column and line.

The standard ``csv`` module is enough here and keeps pandas out of the import path.
Only the requested columns are kept, so CelebA's 41-column, 200k-row attribute table
costs three lists of strings rather than 200k dictionaries.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

# Beyond this many, the "columns found" part of an error is shortened.
N_LISTED_COLUMNS = 20


def _describe_columns(header: list[str]) -> str:
    listed = ", ".join(repr(name) for name in header[:N_LISTED_COLUMNS])
    if len(header) > N_LISTED_COLUMNS:
        listed += f", ... ({len(header)} in all)"
    return listed


def read_csv_columns(
    path: Path, columns: tuple[str, ...], *, dataset: str, source: str
) -> tuple[dict[str, list[str]], list[int]]:
    """Read ``columns`` of the CSV file ``path``.

    Returns
    -------
    values : dict of str to list of str
        The stripped cell values of each requested column, one per data row.
    lines : list of int
        The line of the file each data row starts on (the header is line 1), for errors.
    """
    if not path.is_file():
        raise FileNotFoundError(f"The {dataset} dataset is incomplete: expected the file {str(path)!r}. {source}")
    values: dict[str, list[str]] = {name: [] for name in columns}
    lines: list[int] = []
    # utf-8-sig: spreadsheet exports often start with a byte-order mark, which would
    # otherwise become part of the first column's name.
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        try:
            header = [name.strip() for name in next(reader, [])]
            if not header:
                raise ValueError(f"{str(path)!r} is empty; expected a header row naming the columns.")
            indices = [_column_index(header, name, path) for name in columns]
            line = reader.line_num + 1
            for row in reader:
                if not any(cell.strip() for cell in row):
                    line = reader.line_num + 1
                    continue  # blank lines carry no row
                if len(row) != len(header):
                    raise ValueError(
                        f"{str(path)!r} line {line}: expected {len(header)} fields like the header, got {len(row)}."
                    )
                for name, index in zip(columns, indices):
                    values[name].append(row[index].strip())
                lines.append(line)
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as error:
            raise ValueError(
                f"{str(path)!r} near line {reader.line_num} is not a readable UTF-8 CSV file: {error}"
            ) from error
    if not lines:
        raise ValueError(f"{str(path)!r} has a header but no data rows.")
    return values, lines


def _column_index(header: list[str], name: str, path: Path) -> int:
    found = header.count(name)
    if found == 0:
        raise ValueError(f"{str(path)!r} has no column {name!r}; columns found: {_describe_columns(header)}.")
    if found > 1:
        raise ValueError(f"{str(path)!r} has {found} columns named {name!r}; expected one.")
    return header.index(name)


def parse_codes(
    values: list[str], lines: list[int], *, path: Path, column: str, allowed: tuple[int, ...]
) -> np.ndarray:
    """Parse integer codes, each of which must be in ``allowed``, into an int64 array."""
    allowed_set = set(allowed)
    codes = np.empty(len(values), dtype=np.int64)
    for position, (value, line) in enumerate(zip(values, lines)):
        try:
            code = int(value)
        except ValueError:
            code = None
        if code not in allowed_set:
            choices = ", ".join(str(choice) for choice in allowed)
            raise ValueError(f"{str(path)!r} line {line}: column {column!r} must be one of {choices}; got {value!r}.")
        codes[position] = code
    return codes
