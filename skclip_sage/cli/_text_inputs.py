"""Class names and templates from the command line and from one-item-per-line text files."""

from __future__ import annotations

import os

from ._errors import InputError, UsageError


def read_line_file(path, what):
    """Non-empty lines of a text file with their line numbers; ``#`` starts a comment line.

    :func:`skclip_sage.prompts.read_line_file`, with its errors as the command line's
    input errors (exit code 3).

    Parameters
    ----------
    path : str
        The file.
    what : str
        What the file holds, for messages (e.g. ``"class file"``).

    Returns
    -------
    lines : list of (int, str)
        1-based line number and stripped text of each line kept.
    """
    from ..prompts import read_line_file as read

    try:
        return read(path, what)
    except (OSError, ValueError) as err:
        raise InputError(str(err)) from err


def collect_class_names(classes, class_file):
    """The class names from ``--classes`` and ``--class-file``, in that order.

    Parameters
    ----------
    classes : list of str or None
        Names given on the command line.
    class_file : str or None
        A file with one class name per line.

    Returns
    -------
    names : list of str
        At least two distinct, non-empty names.
    """
    names = [name.strip() for name in classes or []]
    if class_file is not None:
        names.extend(text for _, text in read_line_file(class_file, "class file"))
    if any(not name for name in names):
        position = next(position for position, name in enumerate(names) if not name)
        raise UsageError(f"class names must not be empty; --classes gives an empty one at position {position}.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"class names must be distinct; {duplicates} given more than once.")
    if len(names) < 2:
        raise UsageError(
            f"zero-shot classification needs at least 2 classes; got {len(names)} "
            f"({names}). Give them with --classes A B ... or --class-file FILE."
        )
    return names


def read_class_names_file(path):
    """Label -> text (or list of texts) from ``--class-names FILE``, a JSON or CSV file.

    Parameters
    ----------
    path : str
        ``.json``: an object mapping each label to a text or a list of texts.
        ``.csv``: a header row, then rows of label and text (the first two
        columns); a label on several rows gets all their texts.

    Returns
    -------
    class_names : dict of str to (str or list of str)
    """
    import json

    extension = os.path.splitext(path)[1].lower()
    if extension not in (".json", ".csv"):
        raise UsageError(f"--class-names {path!r} must be a .json or .csv file; it ends in {extension!r}.")
    if not os.path.isfile(path):
        raise InputError(f"the class names file {path!r} does not exist or is not a file.")
    if extension == ".csv":
        from ..datasets._csv import csv_rows

        texts = {}
        try:
            with csv_rows(path, strip_cells=False) as (header, rows):
                if len(header) < 2:
                    raise ValueError(f"{path!r} needs two columns, label and text; its header is {header}.")
                for line, cells in rows:
                    if not cells[0].strip() or not cells[1].strip():
                        raise ValueError(f"{path!r} line {line}: the label and the text must not be empty.")
                    texts.setdefault(cells[0], []).append(cells[1])
        except ValueError as err:
            raise InputError(str(err)) from err
        return {label: values[0] if len(values) == 1 else values for label, values in texts.items()}
    try:
        with open(path, encoding="utf-8-sig") as stream:
            mapping = json.load(stream, object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"the class names file {path!r} is not valid UTF-8 JSON: {err}.") from err
    except _DuplicateKeyError as err:
        raise InputError(
            f"the class names file {path!r} gives the label {err.args[0]!r} more than once; JSON keeps only the "
            "last, so merge them into one entry (a list of texts if the label has several)."
        ) from err
    valid = isinstance(mapping, dict) and all(
        isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        for value in mapping.values()
    )
    if not valid:
        raise InputError(
            f"the class names file {path!r} must hold one JSON object mapping each label to a text or a list "
            'of texts, e.g. {"cat": "cat", "dog": ["dog", "puppy"]}.'
        )
    empty = [label for label, value in mapping.items() if not all(text.strip() for text in _texts(value))]
    if empty:
        raise InputError(f"the class names file {path!r} gives the label {empty[0]!r} an empty text or no text.")
    return mapping


class _DuplicateKeyError(ValueError):
    """A JSON object names one key twice."""


def _unique_keys(pairs):
    """``json.load``'s object hook: a dict, or an error naming the first repeated key."""
    mapping = {}
    for key, value in pairs:
        if key in mapping:
            raise _DuplicateKeyError(key)
        mapping[key] = value
    return mapping


def _texts(value):
    return [value] if isinstance(value, str) else value or [""]


def template_files(value):
    """The file ``--templates`` reads, as a list (empty for a built-in set)."""
    from ..prompts import TEMPLATE_SETS

    return [] if value in TEMPLATE_SETS else [value]


def resolve_templates_option(value, option="--templates"):
    """The templates named by ``--templates``: a built-in set name or a text file.

    Parameters
    ----------
    value : str
        ``"openai_imagenet"``, ``"simple"``, or a file with one template per line,
        each holding one ``{}`` for the class name.
    option : str, default="--templates"
        How the value was given, for messages.

    Returns
    -------
    templates : list of str
        Checked templates.

    Examples
    --------
    >>> len(resolve_templates_option("simple"))
    7
    """
    from ..prompts import TEMPLATE_SETS

    if value in TEMPLATE_SETS:
        return list(TEMPLATE_SETS[value])
    if not os.path.isfile(value):
        hint = " To use one template, write it in a text file and pass the file." if "{" in value else ""
        raise UsageError(
            f"{option} {value!r} is neither a built-in set ({', '.join(sorted(TEMPLATE_SETS))}) "
            f"nor an existing file.{hint}"
        )
    from ..prompts import read_template_file

    try:
        return read_template_file(value)
    except (OSError, ValueError) as err:
        raise InputError(str(err)) from err
