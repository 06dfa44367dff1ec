"""Who wrote a results folder: a one-line marker, so two commands never overwrite each other's results.

``skclip-sage demo`` and ``benchmarks/reproduce_paper.py`` both write
``results.{md,csv,png}`` and, when they default to the same folder, would replace
each other's tables without a word. :func:`write_results` records its writer in
``results.written-by``; :func:`check_results_folder`, called before any work,
refuses a folder whose results another writer left, unless told to overwrite.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RESULT_FILES", "WRITER_FILE", "ResultsOverwriteError", "check_results_folder"]

RESULT_FILES = ("results.md", "results.csv", "results.png", "selections.csv", "report.html")
"""The files :func:`write_results` writes (``selections.csv`` only with per-image selection shares), and the
HTML report the demo writes beside them (:func:`write_report_html`)."""
WRITER_FILE = "results.written-by"
"""Names the command that wrote the folder's results, on one line."""


class ResultsOverwriteError(FileExistsError):
    """A results folder holds results that another command wrote.

    Parameters
    ----------
    folder : str
        The results folder.
    paths : list of str
        The result files already there.
    previous_writer : str or None
        Who wrote them, as recorded; None when nothing recorded it.
    writer : str
        Who was about to overwrite them.
    """

    def __init__(self, folder, paths, previous_writer, writer):
        self.folder, self.paths = str(folder), [str(path) for path in paths]
        self.previous_writer, self.writer = previous_writer, writer
        who = f"by {previous_writer}" if previous_writer else f"by an unknown command (no {WRITER_FILE} file)"
        super().__init__(
            f"{', '.join(self.paths)} in {self.folder!r} were written {who}, not {writer}; refusing to "
            "overwrite them. Choose another output folder, or pass force=True to overwrite them."
        )

    def __reduce__(self):
        return type(self), (self.folder, self.paths, self.previous_writer, self.writer)


def recorded_writer(folder):
    """The writer ``folder``'s marker names, or None."""
    try:
        return (Path(folder) / WRITER_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def check_results_folder(folder, writer, *, force=False):
    """Refuse a folder whose ``results.*`` another writer left, before any work is done.

    Parameters
    ----------
    folder : path-like
        The output folder (need not exist).
    writer : str
        Who is about to write, e.g. ``"skclip-sage demo"``.
    force : bool, default=False
        Overwrite anyway.

    Raises
    ------
    ResultsOverwriteError
        ``folder`` holds result files and its marker names another writer, or
        it has no marker.

    Examples
    --------
    >>> import tempfile
    >>> from skclip_sage.comparison import check_results_folder
    >>> check_results_folder(tempfile.mkdtemp(), "skclip-sage demo")  # empty: nothing to protect
    """
    folder = Path(folder)
    present = [folder / name for name in RESULT_FILES if (folder / name).exists()]
    previous = recorded_writer(folder)
    if force or not present or previous == writer:
        return
    raise ResultsOverwriteError(folder, present, previous, writer)


def claim_results_folder(folder, writer, written, previous_writer):
    """Record ``writer`` and remove result files of an earlier run of the same writer that this run did not write.

    Parameters
    ----------
    folder : pathlib.Path
        The results folder.
    writer : str
        Who wrote ``written``.
    written : list of pathlib.Path
        The files this run wrote.
    previous_writer : str or None
        Who the marker named before this run wrote anything.

    Returns
    -------
    removed : list of pathlib.Path
        Stale result files removed (e.g. a ``results.png`` left when this run had
        ``plot=False``), so the folder never mixes two runs; only when the marker
        shows that ``writer`` wrote them.
    left : list of pathlib.Path
        Result files this run did not write and did not remove, because the marker
        does not show ``writer`` wrote them (another writer's, under ``force``).
    """
    names = {path.name for path in written}
    stale = [folder / name for name in RESULT_FILES if name not in names and (folder / name).exists()]
    removed, left = (stale, []) if previous_writer == writer else ([], stale)
    for path in removed:
        path.unlink()
    (folder / WRITER_FILE).write_text(writer + "\n", encoding="utf-8")
    return removed, left
