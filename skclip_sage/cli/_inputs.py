"""The images the command line names, turned into one list of paths.

Images come from files, folders (searched recursively), glob patterns (expanded
here, so quoting them works on every shell and on Windows) and CSV manifests. A
file, folder or pattern named on the command line that matches nothing is an
error (usually a typo); a manifest row whose file is missing is kept and reported
by the embedder like any other unreadable image, so ``--on-error skip`` covers it.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

from ._errors import InputError, UsageError

GLOB_CHARACTERS = frozenset("*?[")


@dataclass
class ImageList:
    """Images to process, in output order.

    Attributes
    ----------
    paths : list of str
        How each image is named in outputs: as expanded from the command line, or
        as written in the manifest.
    locations : list of str
        Where each image is read from (manifest entries joined to the manifest's folder).
    """

    paths: list = field(default_factory=list)
    locations: list = field(default_factory=list)
    manifest: object = None

    def add(self, path, location=None):
        """Append one image named ``path``, read from ``location`` (default: ``path``)."""
        self.paths.append(path)
        self.locations.append(path if location is None else location)

    def input_files(self):
        """Every file read: the images and the manifest (outputs must be none of them)."""
        return [*self.locations, *([self.manifest.path] if self.manifest is not None else [])]

    def manifest_columns(self):
        """The manifest's columns other than the path, aligned with ``paths`` (blank for other images).

        Returns
        -------
        columns : dict of str to list of str
        """
        if self.manifest is None:
            return {}
        manifest = self.manifest
        path_index = manifest.header.index(manifest.path_column)
        n_before = len(self.paths) - len(manifest.rows)
        return {
            name: [""] * n_before + [row[index] for row in manifest.rows]
            for index, name in enumerate(manifest.header)
            if index != path_index
        }


def _image_extensions():
    # Imported on use: skclip_sage.datasets pulls in scikit-learn, which --help does not need.
    from ..datasets import IMAGE_EXTENSIONS

    return IMAGE_EXTENSIONS


def _is_image_file_name(name):
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in _image_extensions()


def find_images_in_folder(folder, *, required=True):
    """All image files under ``folder`` (recursively), sorted by path.

    Hidden files and folders (``.DS_Store``, ``.ipynb_checkpoints``) are skipped,
    as are files without an image extension. Symlinked folders are not entered
    (``os.walk``'s default), so a link loop cannot repeat an image.

    Parameters
    ----------
    folder : str
        The folder to search.
    required : bool, default=True
        Whether a folder without images is an error.

    Returns
    -------
    paths : list of str
        ``os.path.join(folder, ...)`` of every image, sorted.

    Raises
    ------
    InputError
        If the folder holds no image.
    """
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
        found.extend(os.path.join(directory, name) for name in files if _is_image_file_name(name))
    if not found and required:
        raise InputError(
            f"the folder {folder!r} holds no images (searched recursively for "
            f"{', '.join(_image_extensions())}, any case)."
        )
    return sorted(found)


def _expand_glob(pattern):
    """The images a glob pattern names, each file once.

    ``**`` matches every folder level and follows symlinked folders, so a link loop
    (``a/loop -> ..``) or a folder matched along with its parent would name one file
    many times; only the shortest path to each real file is kept, and the paths are sorted.
    """
    matches = sorted(glob.glob(pattern, recursive=True))
    if not matches:
        raise InputError(f"{pattern!r} matches no file or folder.")
    shortest = {}
    for match in matches:
        if os.path.isdir(match):
            found = find_images_in_folder(match, required=False)
        else:
            found = [match] if _is_image_file_name(os.path.basename(match)) else []
        for path in found:
            real = os.path.realpath(path)
            if real not in shortest or (len(path), path) < (len(shortest[real]), shortest[real]):
                shortest[real] = path
    paths = sorted(shortest.values())
    if not paths:
        raise InputError(f"{pattern!r} matches {len(matches)} path(s) but no image ({', '.join(_image_extensions())}).")
    return paths


def expand_image_arguments(arguments, *, manifest=None, path_column="path"):
    """Expand IMAGES arguments and an optional manifest into one :class:`ImageList`.

    Parameters
    ----------
    arguments : list of str
        Files (taken as they are, whatever their extension), folders (searched
        recursively) and glob patterns (``**`` allowed), in the order given.
    manifest : str, default=None
        A CSV file with a header row; its ``path_column`` lists images, relative
        paths being relative to the manifest's folder (absolute ones are the user's
        choice). A row with more or fewer fields than the header is an error naming
        its line. Appended after ``arguments``.
    path_column : str, default="path"
        The manifest column holding the image paths.

    Returns
    -------
    images : ImageList

    Raises
    ------
    UsageError
        If neither images nor a manifest are given.
    InputError
        If an argument matches nothing, a folder holds no image, or the manifest
        cannot be read, lacks the column, has a row of the wrong width or an empty
        path cell.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ["b.png", "a.JPG", "notes.txt"]:
    ...     open(os.path.join(folder, name), "wb").close()
    >>> [os.path.basename(path) for path in expand_image_arguments([folder]).paths]
    ['a.JPG', 'b.png']
    """
    if not arguments and manifest is None:
        raise UsageError("give at least one image, folder or glob pattern, or --manifest FILE.")
    images = ImageList()
    for argument in arguments:
        if os.path.isdir(argument):
            for path in find_images_in_folder(argument):
                images.add(path)
        elif os.path.lexists(argument):
            # A file, or a link that leads nowhere or in a loop: read (and, if need be,
            # reported) like any other image, so --on-error decides.
            images.add(argument)
        elif GLOB_CHARACTERS.intersection(argument):
            for path in _expand_glob(argument):
                images.add(path)
        else:
            raise InputError(f"{argument!r} does not exist (no such file, folder or glob match).")
    if manifest is not None:
        images.manifest = read_manifest(manifest, path_column)
        for entry, location in zip(images.manifest.entries, images.manifest.locations):
            images.add(entry, location)
    return images


def read_manifest(manifest, path_column):
    """The user's manifest CSV (every row as wide as its header), with CLI error wording.

    Parameters
    ----------
    manifest : str
        CSV file with a header row (a UTF-8 byte-order mark is accepted).
    path_column : str
        Column holding the image paths: relative ones are relative to the
        manifest's folder, absolute ones (the user's choice) are taken as written.

    Returns
    -------
    manifest : skclip_sage.datasets.Manifest
    """
    from ..datasets import read_manifest as read

    try:
        return read(manifest, path_column, option="--path-column")
    except (OSError, ValueError) as err:
        raise InputError(str(err)) from err
