"""Where dataset files live: root resolution, split names and manifest path safety.

Manifests (``metadata.csv``, ``list_attr_celeba.csv``) name image files relative to a
base folder. A manifest is data that may come from anywhere, so every entry is checked
before any image is touched: it must be relative, must not climb out with ``..`` and
must not leave the base folder through a symlink (RELIABILITY.md case 26). The checks
only ``lstat`` paths; no file outside the base folder is ever opened.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import stat
from pathlib import Path

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
SPLIT_CHOICES = (*SPLIT_CODES, "all")

# How many offending entries an error message quotes before summarising with a count.
N_QUOTED = 5


def check_root(root, function_name: str) -> Path:
    """Return ``root`` as a ``Path``, refusing anything that is not a path."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            f"{function_name} expects root to be a folder path (str or os.PathLike); got {type(root).__name__} instead."
        )
    return Path(root).expanduser()


def check_split(split, function_name: str) -> int | None:
    """Return the integer code of ``split`` (None for ``"all"``), or raise with the choices."""
    if not isinstance(split, str) or split not in SPLIT_CHOICES:
        choices = ", ".join(repr(choice) for choice in SPLIT_CHOICES)
        raise ValueError(f"{function_name}: split must be one of {choices}; got {split!r} instead.")
    return SPLIT_CODES.get(split)


def rows_in_split(split_codes, split_code: int | None, entries: list[str], empty_message: str) -> list[int]:
    """Rows of the chosen split (every row for None), ordered by their manifest entry.

    Raises ``ValueError(empty_message)`` when the split holds no row.
    """
    selected = range(len(entries)) if split_code is None else (split_codes == split_code).nonzero()[0]
    if len(selected) == 0:
        raise ValueError(empty_message)
    return sorted(selected, key=entries.__getitem__)


def find_dataset_folder(
    root: Path,
    *,
    folder_names: tuple[str, ...],
    markers: tuple[str, ...],
    dataset: str,
    source: str,
) -> Path:
    """Return the resolved dataset folder: ``root`` itself or ``root/<folder_name>``.

    A candidate qualifies when every path in ``markers`` exists inside it, so users can
    pass either the dataset folder or the folder that holds it.
    """
    if not root.exists():
        raise FileNotFoundError(f"The {dataset} root folder {str(root)!r} does not exist. {source}")
    if not root.is_dir():
        raise FileNotFoundError(
            f"The {dataset} root {str(root)!r} is a file; pass the dataset folder instead. {source}"
        )
    candidates = [root, *(root / name for name in folder_names)]
    for candidate in candidates:
        if all((candidate / marker).exists() for marker in markers):
            return candidate.resolve()
    expected = ", ".join(repr(marker) for marker in markers)
    places = " or ".join(repr(str(candidate)) for candidate in candidates)
    raise FileNotFoundError(f"Could not find the {dataset} dataset: expected {expected} in {places}. {source}")


def require_path(path: Path, *, kind: str, dataset: str, source: str) -> Path:
    """Raise ``FileNotFoundError`` naming ``path`` unless it is an existing ``kind``."""
    exists = path.is_dir() if kind == "folder" else path.is_file()
    if not exists:
        raise FileNotFoundError(f"The {dataset} dataset is incomplete: expected the {kind} {str(path)!r}. {source}")
    return path


def is_inside(path: str, folder: str) -> bool:
    """Whether the real path ``path`` lies in the real folder ``folder``."""
    return os.path.commonpath([path, folder]) == folder


class ManifestResolver:
    """Turn manifest entries into absolute paths guaranteed to stay inside ``base``.

    Parameters
    ----------
    base : Path
        The folder the manifest's paths are relative to.
    manifest : Path
        The CSV file the entries come from, quoted in every error.
    """

    def __init__(self, base: Path, manifest: Path):
        self.base = os.path.realpath(base)
        self.manifest = manifest
        self._real_parents: dict[str, str] = {}

    def _reject(self, entry: str, line: int, why: str) -> ValueError:
        return ValueError(
            f"{str(self.manifest)!r} line {line}: image path {entry!r} {why}; manifest paths "
            f"must be relative and stay inside {self.base!r}. Fix or remove this row."
        )

    def normalize(self, entry: str, line: int) -> str:
        """Check ``entry`` lexically and return it as a normalised relative POSIX path."""
        if not entry:
            raise self._reject(entry, line, "is empty")
        if "\0" in entry:
            raise self._reject(entry, line, "contains a NUL character")
        # Treat backslashes as separators for the check only, so a Windows-style
        # "..\\..\\x" or "C:\\x" cannot slip through on either platform.
        slashed = entry.replace("\\", "/")
        if posixpath.isabs(slashed) or ntpath.splitdrive(entry)[0]:
            raise self._reject(entry, line, "is absolute")
        if posixpath.normpath(slashed).split("/")[0] == "..":
            raise self._reject(entry, line, "climbs out of the folder with '..'")
        # "a/./b.jpg" and "a/b.jpg" become one spelling, so duplicates are caught.
        return posixpath.normpath(entry)

    def _real_parent(self, path: str) -> str:
        parent = os.path.dirname(path)
        if parent not in self._real_parents:  # one realpath per folder, not per image
            self._real_parents[parent] = os.path.realpath(parent)
        return self._real_parents[parent]

    def resolve(self, entries: list[tuple[str, int]], *, dataset: str, source: str) -> list[str]:
        """Absolute paths of the ``(normalized entry, line)`` pairs, all checked to exist.

        Raises ``ValueError`` for an entry whose folder or symlink leads outside ``base``
        and ``FileNotFoundError`` listing the first missing files and their count.
        """
        paths, missing = [], []
        for entry, line in entries:
            path = os.path.join(self.base, entry)
            if not is_inside(self._real_parent(path), self.base):
                raise self._reject(entry, line, "lies in a folder that resolves outside the base")
            try:
                mode = os.lstat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                missing.append((entry, line))
                continue
            if stat.S_ISLNK(mode):
                target = os.path.realpath(path)
                if not is_inside(target, self.base):
                    raise self._reject(entry, line, f"is a symlink to {target!r}")
                found = os.path.isfile(target)
            else:
                found = stat.S_ISREG(mode)
            if not found:
                missing.append((entry, line))
            paths.append(path)
        if missing:
            quoted = ", ".join(f"{entry!r} (line {line})" for entry, line in missing[:N_QUOTED])
            more = ", ..." if len(missing) > N_QUOTED else ""
            raise FileNotFoundError(
                f"{len(missing)} of {len(entries)} {dataset} images listed in "
                f"{str(self.manifest)!r} are missing under {self.base!r}: {quoted}{more}. "
                f"The download or extraction may be incomplete. {source}"
            )
        return paths


def check_unique(entries: list[str], lines: list[int], manifest: Path) -> None:
    """Raise ``ValueError`` if two manifest rows name the same image."""
    first_line: dict[str, int] = {}
    for entry, line in zip(entries, lines):
        if entry in first_line:
            raise ValueError(
                f"{str(manifest)!r} lists the image {entry!r} twice (lines "
                f"{first_line[entry]} and {line}); each image must appear once."
            )
        first_line[entry] = line
