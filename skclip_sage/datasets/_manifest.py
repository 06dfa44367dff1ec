"""Your own labelled images listed in a CSV file: path, label and, optionally, group columns.

Unlike the benchmark manifests (whose entries must stay inside the dataset folder),
a manifest you write is yours: relative paths resolve against the CSV's folder,
absolute paths and ``..`` are allowed and taken as written, and symlinks are
followed. Files are not opened here; a missing or unreadable image is reported by
the embedder like any other, so ``on_error`` decides what happens to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._csv import column_index, csv_rows
from ._paths import check_root


@dataclass
class Manifest:
    """The rows of a manifest CSV, every one as wide as the header, as :func:`read_manifest` reads them.

    For a caller that needs more than :func:`load_manifest` gives: the header before
    choosing the columns (the command line defaults ``group_column`` to ``"group"``
    when there is one), any column's cells, or the errors worded with its own
    option names (:meth:`to_bunch`).

    Attributes
    ----------
    path : str
        The CSV file.
    path_column : str
        The column of image paths.
    header : list of str
        Its column names.
    rows : list of list of str
        The cells of each data row, exactly as written (not stripped).
    lines : list of int
        The line each row starts on (the header is line 1).
    entries : list of str
        Each row's image path as written.
    locations : list of str
        Where each image is read from: relative entries joined to the CSV's folder.
    """

    path: str
    path_column: str
    header: list
    rows: list
    lines: list
    entries: list
    locations: list

    def column(self, name, option="column"):
        """The cells of column ``name``, one per row, exactly as written.

        Parameters
        ----------
        name : str
            A column of the header.
        option : str, default="column"
            How the caller's user chose the column (``"--label-column"``), named
            in the error when it is absent.

        Returns
        -------
        cells : list of str

        Raises
        ------
        ValueError
            If the header has no such column (the error lists the columns).
        """
        hint = f" Name the column with {option}." if option != "column" else ""
        index = column_index(self.header, name, Path(self.path), hint)
        return [row[index] for row in self.rows]

    def to_bunch(self, *, label_column="label", group_column=None, class_names=None, options=None):
        """The dataset :class:`~sklearn.utils.Bunch` of these rows, as :func:`load_manifest` returns it.

        Parameters
        ----------
        label_column : str, default="label"
            The column of class labels.
        group_column : str, default=None
            The column of group labels; None: the groups are the labels.
        class_names : dict, default=None
            Label -> text (or list of texts); None uses each label as its own text.
        options : dict of str to str, default=None
            How the caller's user names ``label_column`` and ``group_column``
            (``{"label_column": "--label-column"}``), for the errors.

        Returns
        -------
        sklearn.utils.Bunch
            The fields :func:`load_manifest` documents.

        Raises
        ------
        ValueError
            If a named column is absent, a label or group cell is empty, or
            ``class_names`` lacks a label.
        """
        return manifest_bunch(
            self, label_column=label_column, group_column=group_column, class_names=class_names, options=options
        )


def read_manifest(path, path_column="path", *, option="path_column"):
    """Read a manifest CSV whose ``path_column`` names one image per row.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file with a header row (a UTF-8 byte-order mark is accepted).
    path_column : str, default="path"
        The column holding the image paths.
    option : str, default="path_column"
        How the column was chosen, named in the error when it is absent.

    Returns
    -------
    manifest : Manifest
        The rows, with each image's location (:meth:`Manifest.to_bunch` makes them
        a dataset).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If the file is not a UTF-8 CSV, a row has more or fewer fields than the
        header (the error names its line), the column is absent, a path cell is
        empty, or there is no data row.

    See Also
    --------
    load_manifest : Read a manifest and make it a dataset in one call.

    Examples
    --------
    >>> import os, tempfile
    >>> from skclip_sage.datasets import read_manifest
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "mine.csv"), "w") as file:
    ...     _ = file.write("path,label,shot\\nimg/a.jpg,cat,indoor\\nimg/b.jpg,dog,outdoor\\n")
    >>> manifest = read_manifest(os.path.join(folder, "mine.csv"))
    >>> manifest.header, manifest.column("shot")
    (['path', 'label', 'shot'], ['indoor', 'outdoor'])
    >>> manifest.to_bunch(group_column="shot").group_names
    ['indoor', 'outdoor']
    """
    path = str(check_root(path, "read_manifest"))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the manifest {path!r} does not exist or is not a file.")
    # Cells as written: " lead.png" is a file whose name starts with a space.
    with csv_rows(path, strip_cells=False) as (header, numbered):
        index = column_index(header, path_column, Path(path), f" Name the path column with {option}.")
        lines, rows = [], []
        for line, cells in numbered:
            if not cells[index].strip():
                raise ValueError(f"{path!r} line {line}: the {path_column!r} cell is empty.")
            lines.append(line)
            rows.append(cells)
    if not rows:
        raise ValueError(f"the manifest {path!r} lists no images (a header but no data rows).")
    base = os.path.dirname(path)
    entries = [row[index] for row in rows]
    # os.path.join keeps an absolute entry as it is: the user's choice, allowed.
    locations = [os.path.join(base, os.path.expanduser(entry)) for entry in entries]
    return Manifest(path, path_column, header, rows, lines, entries, locations)


def _index(values, names):
    position = {name: index for index, name in enumerate(names)}
    return np.array([position[value] for value in values], dtype=np.int64)


def manifest_bunch(manifest, *, label_column="label", group_column=None, class_names=None, options=None):
    """The dataset Bunch of a :class:`Manifest` (see :meth:`Manifest.to_bunch`)."""
    options = options or {}
    labels = manifest.column(label_column, options.get("label_column", "label_column"))
    empty = [line for line, label in zip(manifest.lines, labels) if not label.strip()]
    if empty:
        raise ValueError(f"{manifest.path!r} line {empty[0]}: the {label_column!r} cell is empty.")
    groups = (
        labels if group_column is None else manifest.column(group_column, options.get("group_column", "group_column"))
    )
    empty = [line for line, group in zip(manifest.lines, groups) if not group.strip()]
    if empty:
        raise ValueError(f"{manifest.path!r} line {empty[0]}: the {group_column!r} cell is empty.")
    names = dict(class_names or {})
    unnamed = sorted(set(labels) - set(names)) if class_names is not None else []
    if unnamed:
        raise ValueError(
            f"class_names gives no text for the label(s) {unnamed} of {manifest.path!r}; "
            f"it names {sorted(names)}. Add them, or leave class_names out to use the labels as texts."
        )
    # Classes are every label seen and every label named: a named class no row has can still be predicted.
    target_names = sorted(set(labels) | set(names))
    group_names = sorted(set(groups))
    return Bunch(
        data=list(manifest.locations),
        paths=list(manifest.entries),
        target=_index(labels, target_names),
        groups=_index(groups, group_names),
        target_names=target_names,
        group_names=group_names,
        class_prompts=[names.get(name, name) for name in target_names],
        columns={name: manifest.column(name) for name in manifest.header},
        lines=list(manifest.lines),
        train_group_counts=None,
        DESCR=(
            f"Manifest {manifest.path!r}: {len(manifest.rows)} images in {len(target_names)} classes and "
            f"{len(group_names)} groups ({'column ' + repr(group_column) if group_column else 'groups are the labels'}).\n"
        ),
    )


def load_manifest(path, *, path_column="path", label_column="label", group_column=None, class_names=None):
    """Load your own labelled images from a CSV file with path, label and group columns.

    Parameters
    ----------
    path : str or os.PathLike
        A UTF-8 CSV file with a header row. Every row must have as many fields as
        the header (a row with more or fewer is an error naming its line). Cells are
        taken exactly as written: ``" lead.png"`` names a file whose name starts
        with a space, and ``"cat "`` is not the label ``"cat"``.
    path_column : str, default="path"
        The column of image paths. Relative paths resolve against the CSV's
        folder; absolute paths (and ``..``) are allowed and used as written: which
        files a manifest you wrote may name is your choice. Symlinks are followed.
    label_column : str, default="label"
        The column of class labels.
    group_column : str, default=None
        The column of group labels (e.g. ``"land"``/``"water"`` backgrounds, or
        ``"waterbird_on_land"``). None: the groups are the labels.
    class_names : dict, default=None
        Label -> text (or list of texts: synonyms, descriptions) to put in the
        prompts. None uses each label as its own text. Every label of the CSV
        must be named; a label named here that no row has is still a class.

    Returns
    -------
    sklearn.utils.Bunch
        Dictionary-like object with the fields:

        data : list of str of length n_samples
            Where each image is read from, in row order.
        paths : list of str
            Each image path as written in the CSV.
        target : ndarray of shape (n_samples,)
            Index of the label in ``target_names``.
        groups : ndarray of shape (n_samples,)
            Index of the group in ``group_names``.
        target_names : list of str
            The classes, sorted.
        group_names : list of str
            The groups, sorted.
        class_prompts : list of (str or list of str)
            The text(s) of each class, aligned with ``target_names``.
        columns : dict of str to list of str
            Every column of the CSV, so outputs can carry them through.
        lines : list of int
            The CSV line of each row.
        train_group_counts : None
            No training split is known.
        DESCR : str
            What was loaded.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If a row has the wrong number of fields, a named column is absent, a path,
        label or group cell is empty, or ``class_names`` lacks a label.

    See Also
    --------
    load_image_folder : Images laid out as ``class/image`` folders.

    Examples
    --------
    >>> import os, tempfile
    >>> from skclip_sage.datasets import load_manifest
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "mine.csv"), "w") as file:
    ...     _ = file.write("path,label,group\\nimg/a.jpg,cat,indoor\\nimg/b.jpg,dog,outdoor\\n")
    >>> bunch = load_manifest(os.path.join(folder, "mine.csv"), group_column="group",
    ...                       class_names={"cat": ["cat", "kitten"], "dog": "dog"})
    >>> bunch.target.tolist(), bunch.group_names, bunch.class_prompts
    ([0, 1], ['indoor', 'outdoor'], [['cat', 'kitten'], 'dog'])
    >>> os.path.relpath(bunch.data[0], folder)
    'img/a.jpg'
    """
    manifest = read_manifest(path, path_column)
    return manifest_bunch(manifest, label_column=label_column, group_column=group_column, class_names=class_names)
