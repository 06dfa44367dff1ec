"""One-item-per-line text files: the format of template files and of the CLI's class files.

Blank lines and lines starting with ``#`` are skipped; a UTF-8 byte-order mark is
allowed. :func:`~skclip_sage.prompts.read_template_file` reads templates this way,
and ``skclip-sage`` its ``--templates`` and ``--class-file`` files.
"""

from __future__ import annotations

import os


def read_line_file(path, what: str = "file") -> list[tuple[int, str]]:
    """Non-empty lines of a UTF-8 text file with their line numbers; ``#`` starts a comment line.

    Parameters
    ----------
    path : str or path-like
        The file.
    what : str, default="file"
        What the file holds, for messages (e.g. ``"class file"``).

    Returns
    -------
    lines : list of (int, str)
        1-based line number and stripped text of each line kept.

    Raises
    ------
    FileNotFoundError
        ``path`` is not an existing file.
    ValueError
        The file is not UTF-8 text, or holds nothing but blank lines and comments.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "classes.txt"
    >>> _ = path.write_text("# birds\\nlandbird\\n\\nwaterbird\\n")
    >>> read_line_file(path, "class file")
    [(2, 'landbird'), (4, 'waterbird')]
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the {what} {path!r} does not exist or is not a file.")
    try:
        with open(path, encoding="utf-8-sig") as stream:
            numbered = list(enumerate(stream, start=1))
    except UnicodeDecodeError as err:
        raise ValueError(f"the {what} {path!r} is not UTF-8 text: {err}.") from err
    kept = [(number, line.strip()) for number, line in numbered]
    kept = [(number, text) for number, text in kept if text and not text.startswith("#")]
    if not kept:
        raise ValueError(f"the {what} {path!r} is empty (blank lines and '#' comments are ignored).")
    return kept
