"""Reading manifest CSV files column by column, with errors that name file, column and line.

The standard ``csv`` module is enough here and keeps pandas out of the import path.
Only the requested columns are kept, so CelebA's 41-column, 200k-row attribute table
costs three lists of strings rather than 200k dictionaries.
"""

from __future__ import annotations

import codecs
import contextlib
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


@contextlib.contextmanager
def csv_rows(path: Path, *, strip_cells: bool = True):
    """Open the CSV file ``path``; yield its header and an iterator of ``(line, cells)``.

    Every data row has the header's width: a row with more or fewer fields is an
    error naming its line (a stray comma would shift every later column). Quoting is
    strict: a quote opened and never closed is an error naming the line it opens on,
    not a row that swallows the rest of the file. Blank lines are skipped; column
    names are stripped. Rows are read as iterated, so a caller keeping a few columns
    never holds the whole file.

    Parameters
    ----------
    path : path-like
        A UTF-8 CSV file (a byte-order mark is accepted; UTF-16 is refused, saying so).
    strip_cells : bool, default=True
        Strip the cells too. A manifest the user wrote keeps its cells exactly as
        written: ``" lead.png"`` names a file whose name starts with a space.

    Yields
    ------
    header : list of str
        The column names.
    rows : iterator of (int, list of str)
        The line each data row starts on (the header is line 1) and its cells.
    """
    _refuse_utf16(path)
    # utf-8-sig: spreadsheet exports often start with a byte-order mark, which would
    # otherwise become part of the first column's name.
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file, strict=True)
        try:
            header = [name.strip() for name in next(reader, [])]
        except (csv.Error, UnicodeDecodeError) as error:
            raise _unreadable(path, 1, error) from error
        if not header:
            raise ValueError(f"{str(path)!r} is empty; expected a header row naming the columns.")

        def rows():
            line = reader.line_num + 1
            try:
                for row in reader:
                    if any(cell.strip() for cell in row):  # blank lines carry no row
                        if len(row) != len(header):
                            raise ValueError(
                                f"{str(path)!r} line {line}: expected {len(header)} fields like the header, "
                                f"got {len(row)}."
                            )
                        yield line, [cell.strip() for cell in row] if strip_cells else row
                    line = reader.line_num + 1
            except (csv.Error, UnicodeDecodeError) as error:
                raise _unreadable(path, line, error) from error

        yield header, rows()


# Byte-order marks of the encodings a spreadsheet may save "Unicode text" in.
_WIDE_BOMS = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def _refuse_utf16(path) -> None:
    """A UTF-16 or UTF-32 file fails at its first byte as UTF-8: say what it is instead."""
    with open(path, "rb") as file:
        start = file.read(4096)
    encoding = next((name for bom, name in _WIDE_BOMS.items() if start.startswith(bom)), None)
    if encoding is None and b"\x00" in start:
        encoding = "UTF-16 or UTF-32 (it holds NUL bytes)"
    if encoding is not None:
        raise ValueError(
            f"{str(path)!r} is {encoding} text, not UTF-8; save it as UTF-8 (in Excel: 'CSV UTF-8') and rerun."
        )


def _unreadable(path, line, error):
    """The error for a CSV that cannot be parsed or decoded, naming the line where it goes wrong."""
    if isinstance(error, UnicodeDecodeError):
        # The decoder reads ahead of the CSV reader: find the line of the bad byte in the file itself.
        data = Path(path).read_bytes()
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError as located:
            offset = located.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)
            line = data.count(b"\n", 0, offset) + 1
            return ValueError(
                f"{str(path)!r} line {line} is not UTF-8 text (byte {data[offset : offset + 1]!r} at offset "
                f"{offset}); save the file as UTF-8."
            )
    if "unexpected end of data" in str(error):
        return ValueError(
            f"{str(path)!r} line {line}: a quoted field opens here and is never closed (an unterminated '\"'); "
            'close the quote, or double it ("") to write a quote character inside a quoted field.'
        )
    return ValueError(f"{str(path)!r} line {line} is not a readable CSV row: {error}.")


def read_csv_columns(
    path: Path, columns: tuple[str, ...], *, dataset: str, source: str
) -> tuple[dict[str, list[str]], list[int]]:
    """Read ``columns`` of the CSV file ``path`` (rows checked as in :func:`csv_rows`).

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
    with csv_rows(path) as (header, rows):
        indices = [column_index(header, name, path) for name in columns]
        for line, cells in rows:
            for name, index in zip(columns, indices):
                values[name].append(cells[index])
            lines.append(line)
    if not lines:
        raise ValueError(f"{str(path)!r} has a header but no data rows.")
    return values, lines


def column_index(header: list[str], name: str, path: Path, hint: str = "") -> int:
    """The position of the column ``name`` in ``header``; exactly one must exist."""
    found = header.count(name)
    if found == 0:
        raise ValueError(f"{str(path)!r} has no column {name!r}; columns found: {_describe_columns(header)}.{hint}")
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
