"""Every output a command will write, checked before any model work.

An output is refused, before anything is written or loaded, when:

- it is one of the command's inputs (an image, the manifest, a class or template
  file, or one of the model's own files: everything in a ``local-dir:`` or
  ``transformers:`` folder, or a checkpoint file given as ``--pretrained``), or the
  same file as another of its outputs: exit 2, compared by resolved path and by file
  identity, so through symlinks and hard links too;
- its extension names no format the output can be written in: exit 2;
- it is a folder, a part of its folder's path is a file, its folder cannot be
  written, or its name is longer than the file system allows: exit 3, naming the
  output.

A missing folder is not an error: it is created when the output is written.
"""

from __future__ import annotations

import importlib.util
import os

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


def check_document_extension(path, option, extension):
    """Refuse ``--json report.csv`` and the like: a document written in another table format than its name says.

    Any extension that names no table format (``.txt``, none) is the user's choice and kept.
    """
    if path in STDOUT:
        return
    found = os.path.splitext(path)[1].lower()
    if found in TABLE_FORMATS and found != extension:
        raise UsageError(f"{option} {path!r} ends in {found!r} but {option} writes {extension}; name it *{extension}.")


def model_input_files(model, pretrained):
    """The files of the model on this machine: outputs must not overwrite them.

    Parameters
    ----------
    model : str
        ``--model``: everything in a ``local-dir:`` or ``transformers:`` folder counts.
    pretrained : str or None
        ``--pretrained``: a checkpoint file given here counts.

    Returns
    -------
    files : list of str
    """
    from ..encoders import model_location

    location = model_location(model, pretrained)
    if location is None:
        return []
    if not os.path.isdir(location):
        return [location]
    return [os.path.join(directory, name) for directory, _, names in os.walk(location) for name in names]


def _identity(path):
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _existing_ancestor(folder):
    """The nearest existing path at or above ``folder``, and the names below it that must be created."""
    missing = []
    while not os.path.lexists(folder):
        folder, name = os.path.split(folder)
        missing.append(name)
    return folder, missing[::-1]


def _check_destination(option, path):
    """An output's folder can hold it: exists or can be created, is writable, allows its name's length."""
    if os.path.isdir(path):
        raise InputError(f"{option} {path!r} is a folder; give a file name.")
    # The folder the file will really be written in: a symlinked output is written through.
    folder = os.path.dirname(os.path.realpath(path))
    existing, missing = _existing_ancestor(folder)
    shown = existing if os.path.isabs(path) else os.path.relpath(existing)  # as the user spelled it
    if not os.path.isdir(existing):
        what = "a file, not a folder" if os.path.isfile(existing) else "not a folder"
        raise InputError(f"{option} {path!r}: {shown!r} is {what}; choose another output path.")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "cannot create folders in" if missing else "cannot write to the folder"
        raise InputError(
            f"{option} {path!r}: {what} {shown!r} (permission denied or a read-only file system); "
            "choose a folder you can write to."
        )
    try:
        longest = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        longest = 255
    for name in [*missing, os.path.basename(path)]:
        if len(os.fsencode(name)) > longest:
            raise InputError(
                f"{option} {path!r}: the name {name[:40]!r}... is {len(os.fsencode(name))} bytes long, more than "
                f"the {longest} this file system allows; choose a shorter name."
            )


def check_outputs(outputs, inputs=()):
    """Refuse, before any work, outputs that cannot be written or would destroy a file.

    Parameters
    ----------
    outputs : list of (str, str or None)
        ``(option, path)`` of every file the command will write; None and ``"-"``
        (stdout) are skipped.
    inputs : iterable of str
        Every file the command reads (images, manifests, class and template files,
        the model's files from :func:`model_input_files`).

    Raises
    ------
    UsageError
        If an output is one of the inputs or the same file as another output.
    InputError
        If an output is a folder, a part of its folder's path is a file, its folder
        cannot be written, or its name is too long.
    """
    named = [(option, path) for option, path in outputs if path not in STDOUT]
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
    if existing:
        for path in inputs:
            entry = existing.get(_identity(path))
            if entry is not None:
                option, output = entry
                raise UsageError(
                    f"{option} {output!r} is the input {path!r}; writing it would destroy the input. "
                    "Choose another output name. Nothing was written."
                )
    for option, path in named:
        _check_destination(option, path)


def check_names_are_text(names, outputs):
    """Refuse, before any image is embedded, image names that UTF-8 text outputs cannot hold.

    A file name that is not valid UTF-8 (read from disk as undecodable bytes) cannot
    be written into a CSV, JSON or Parquet file as text.

    Parameters
    ----------
    names : list of str
        The image names the outputs will hold.
    outputs : list of (str, str or None)
        ``(option, path)`` of every UTF-8 text output that will hold them (path None
        or ``"-"``: stdout).
    """
    writing = list(outputs)
    if not writing:
        return
    for name in names:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            option, path = writing[0]
            where = "stdout" if path in STDOUT else repr(path)
            raise InputError(
                f"the file name {os.fsencode(name)!r} is not valid UTF-8 text, and {option} {where} holds image "
                "names as UTF-8 text. Rename the file (e.g. with convmv), or, with embed, write .npy with a .txt "
                "paths sidecar, which keeps names byte for byte. Nothing was embedded."
            ) from None
