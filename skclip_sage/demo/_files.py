"""Which files in the output folder the demo wrote: a record, so it never overwrites or deletes another's.

``skclip-sage demo -o DIR`` writes a benchmark, a model, templates, a cache and
results into a folder the user names, perhaps one holding their own files. Every
file it writes is listed in ``DIR/demo-files.json`` with the SHA-256 of what it
wrote, *before* it lands (as pending, so an interrupted write is still known to be
the demo's), and every write and every deletion goes through :class:`WrittenFiles`:

- a path nobody wrote yet is written;
- a path the record lists, unchanged since, is replaced (or deleted);
- a path the record lists but whose content changed since (edited by hand) is
  replaced only under ``force``, and never deleted;
- any other existing path (a user's ``templates.txt``, a model of their own, a
  file in ``coloured_digits/images/``) is never written, replaced or deleted, with
  or without ``force``: :class:`DemoFilesError` names it before any work.

New files are written aside first (a staging folder in ``DIR``) and moved in with
``os.replace``, so a file in place is always complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..io import write_atomically

__all__ = ["RECORD_FILE", "DemoFilesError", "WrittenFiles"]

RECORD_FILE = "demo-files.json"
"""Lists every file the demo wrote in its output folder, with the SHA-256 of what it wrote."""
NOT_WRITTEN = "not written by the demo"
CHANGED = "changed since the demo wrote it"


class DemoFilesError(FileExistsError):
    """The demo would have to overwrite files it did not write (or that changed since it wrote them).

    Parameters
    ----------
    folder : str
        The demo's output folder.
    conflicts : list of (str, str)
        ``(path, why)`` of each file: ``"not written by the demo"`` or
        ``"changed since the demo wrote it"``.
    """

    def __init__(self, folder, conflicts):
        self.folder, self.conflicts = str(folder), [(str(path), why) for path, why in conflicts]
        listed = "; ".join(f"{path} ({why})" for path, why in self.conflicts[:10])
        more = f"; and {len(self.conflicts) - 10} more" if len(self.conflicts) > 10 else ""
        if any(why.startswith(NOT_WRITTEN) for _, why in self.conflicts):
            advice = (
                f"{RECORD_FILE} does not list them, so they are yours (or an older demo's) and are never "
                "overwritten, not even with --force (force=True). Move them away or choose another output folder."
            )
        else:
            advice = "Pass --force (force=True) to overwrite them with the demo's, or choose another output folder."
        super().__init__(f"refusing to overwrite files in {self.folder!r}: {listed}{more}. {advice}")

    def __reduce__(self):
        return type(self), (self.folder, self.conflicts)


def _inside(relative) -> bool:
    """Whether a record key names a path inside the output folder: an edited record cannot point the demo elsewhere."""
    path = Path(relative) if isinstance(relative, str) else None
    return path is not None and not path.is_absolute() and ".." not in path.parts


def _digest(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


class WrittenFiles:
    """The demo's record of what it wrote in ``folder``, and the only way it writes or deletes there.

    Parameters
    ----------
    folder : path-like
        The demo's output folder (need not exist).
    force : bool, default=False
        Also replace files the demo wrote that changed since. Files it did not
        write are never touched.
    """

    def __init__(self, folder, *, force=False):
        # Absolute, so the paths found under it compare with the record's keys whatever the working directory.
        self.folder = Path(folder).absolute()
        self.force = force
        try:
            stored = json.loads((self.folder / RECORD_FILE).read_text(encoding="utf-8"))
            self.files = {key: value for key, value in dict(stored["files"]).items() if _inside(key)}
            self.folders = {key for key in stored.get("folders", ()) if _inside(key)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.files, self.folders = {}, set()

    def _relative(self, path):
        return Path(path).relative_to(self.folder).as_posix() if Path(path).is_absolute() else Path(path).as_posix()

    def why_not(self, relative, *, same_as=None):
        """None if the demo may write ``relative``; else why not (see :class:`DemoFilesError`).

        A file holding exactly the bytes of the file ``same_as`` is the demo's to
        replace whoever wrote it: replacing it would change nothing.
        """
        relative = self._relative(relative)
        path = self.folder / relative
        if not os.path.lexists(path):
            return None
        if os.path.islink(path) or not path.is_file():
            return NOT_WRITTEN  # the demo writes regular files only: a link or a folder there is someone else's
        if relative not in self.files:
            same = same_as is not None and path.stat().st_size == os.stat(same_as).st_size
            return None if same and _digest(path) == _digest(same_as) else NOT_WRITTEN
        recorded = self.files[relative]
        if recorded is None or self.force or _digest(path) == recorded:
            return None
        return CHANGED

    def foreign_files_under(self, relative_folder):
        """Files under ``relative_folder`` that the record does not list (recursively)."""
        root = self.folder / relative_folder
        if not root.is_dir():
            return []
        return sorted(path for path in root.rglob("*") if not path.is_dir() and self._relative(path) not in self.files)

    def recorded_under(self, relative_folder):
        """The recorded files under ``relative_folder``, relative to the output folder."""
        prefix = Path(relative_folder).as_posix().rstrip("/") + "/"
        return sorted(relative for relative in self.files if relative.startswith(prefix))

    def save(self):
        """Write the record, atomically."""
        record = {
            "writer": "skclip-sage demo",
            "folders": sorted(self.folders),
            "files": dict(sorted(self.files.items())),
        }
        write_atomically(self.folder / RECORD_FILE, (json.dumps(record, indent=1) + "\n").encode("utf-8"))

    def staging(self):
        """A new, empty folder inside the output folder to write files aside in (remove with :meth:`discard`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.folder, prefix=".demo-staging-"))

    @staticmethod
    def discard(staging):
        """Remove a staging folder and whatever is left in it."""
        shutil.rmtree(staging, ignore_errors=True)

    def owns_folder(self, relative):
        """Whether the demo created the folder ``relative`` (see :meth:`claim_folder`)."""
        return Path(relative).as_posix() in self.folders

    def claim_folder(self, relative):
        """Record the folder ``relative`` as the demo's (e.g. its cache) and create it."""
        (self.folder / relative).mkdir(parents=True, exist_ok=True)
        if Path(relative).as_posix() not in self.folders:
            self.folders.add(Path(relative).as_posix())
            self.save()

    def check_moves(self, moves):
        """Raise :class:`DemoFilesError` unless every ``(staged_path, relative)`` of ``moves`` may move in.

        A destination that is not the demo's but already holds exactly the staged
        bytes is accepted (moving in would change nothing).
        """
        conflicts = []
        for staged, relative in moves:
            relative = self._relative(relative)
            why = self.why_not(relative, same_as=staged)
            if why is not None:
                conflicts.append((self.folder / relative, why))
        if conflicts:
            raise DemoFilesError(self.folder, conflicts)

    def place(self, moves):
        """Move staged files into place: ``moves`` is a list of ``(staged_path, relative_destination)``.

        Every destination is checked first (nothing moves when one is refused),
        recorded as pending, moved in, then recorded with its digest.
        """
        moves = [(Path(staged), self._relative(relative)) for staged, relative in moves]
        self.check_moves(moves)
        for _, relative in moves:
            self.files[relative] = None
        self.save()
        for staged, relative in moves:
            destination = self.folder / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.files[relative] = _digest(staged)
            os.replace(staged, destination)
        self.save()

    def write_text(self, relative, text):
        """Write ``text`` (UTF-8) to ``relative`` through the record."""
        staging = self.staging()
        try:
            staged = staging / "file"
            staged.write_text(text, encoding="utf-8")
            self.place([(staged, relative)])
        finally:
            self.discard(staging)

    def unchanged(self, relative):
        """Whether ``relative`` is recorded and still holds what the demo wrote (a pending entry counts).

        What a reuse decision asks (a benchmark, a trained model): ``force`` plays no part.
        """
        relative = self._relative(relative)
        path = self.folder / relative
        if os.path.islink(path) or not path.is_file():
            return False
        recorded = self.files.get(relative)
        return relative in self.files and (recorded is None or _digest(path) == recorded)

    def remove(self, relatives):
        """Delete the recorded files among ``relatives`` that still hold what the demo wrote; return them.

        A file the record does not list, or that changed since the demo wrote it, is
        left where it is, ``force`` or not (and a changed one stays recorded, so a
        later ``force`` may replace it).
        """
        removed = []
        for relative in map(self._relative, relatives):
            path = self.folder / relative
            if relative in self.files and self.unchanged(relative):
                path.unlink()
                removed.append(path)
            if relative in self.files and not os.path.lexists(path):
                del self.files[relative]
        self.save()
        return removed
