"""Where each of the demo's outputs goes in its folder, and how it gets there through the record.

Every output is written aside (a staging folder in the output folder) and moved in
through :class:`~._files.WrittenFiles`, which refuses any destination the demo did
not write. The fixed names are checked before any work (:func:`check_output_folder`);
the benchmark's images once their paths are known, before training.
"""

from __future__ import annotations

import json

from ..comparison import RESULT_FILES, WRITER_FILE, write_results
from ._digits import SETTINGS_FILE, load_coloured_digits, write_coloured_digits
from ._files import NOT_WRITTEN, DemoFilesError

__all__ = ["check_output_folder", "place_benchmark", "place_model", "place_results", "recorded_model"]

BENCHMARK = "coloured_digits"
MODEL = "model"
CACHE = "cache"
RECIPE_FILE = "demo.json"
WRITER = "skclip-sage demo"
"""How the demo signs its results (``results.written-by``, see :func:`skclip_sage.comparison.check_results_folder`)."""
BENCHMARK_ARGUMENTS = ("n_train", "n_test", "n_colours", "majority_fraction", "image_size", "seed")
MODEL_FILES = ("open_clip_model.safetensors", "open_clip_config.json", "training.json", RECIPE_FILE)
# Every file the demo may write at a fixed name (the images are checked once their paths are known).
FIXED_FILES = (
    "templates.txt",
    *RESULT_FILES,
    WRITER_FILE,
    *(f"{BENCHMARK}/{name}" for name in ("manifest.csv", "train.csv", "test.csv", SETTINGS_FILE)),
    *(f"{MODEL}/{name}" for name in MODEL_FILES),
)


def check_output_folder(files):
    """Refuse, before any work, every file the run would write that the demo may not."""
    if files.folder.exists() and not files.folder.is_dir():
        raise NotADirectoryError(f"the demo's output {str(files.folder)!r} is a file, not a folder; choose a folder.")
    conflicts = []
    try:
        previous = (files.folder / WRITER_FILE).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        previous = None
    for relative in FIXED_FILES:
        why = files.why_not(relative)
        if why == NOT_WRITTEN and relative in RESULT_FILES and previous not in (None, WRITER):
            why = f"{why}; {WRITER_FILE} names {previous}"
        if why is not None:
            conflicts.append((files.folder / relative, why))
    # A local-dir: folder loads whatever weights it holds: it must hold the demo's files only.
    conflicts += [(path, NOT_WRITTEN) for path in files.foreign_files_under(MODEL)]
    # The embedding cache goes in cache/: a folder of someone else's is not the demo's to fill.
    cache = files.folder / CACHE
    if cache.exists() and not files.owns_folder(CACHE) and (not cache.is_dir() or any(cache.iterdir())):
        conflicts.append((cache, NOT_WRITTEN))
    if conflicts:
        raise DemoFilesError(files.folder, conflicts)


def place_benchmark(files, settings, log):
    """The benchmark for ``settings``: the one the demo wrote if it matches, else written aside and moved in."""
    folder = files.folder / BENCHMARK
    settings_file = f"{BENCHMARK}/{SETTINGS_FILE}"
    if files.unchanged(settings_file):
        try:
            if json.loads((files.folder / settings_file).read_text(encoding="utf-8")) == settings:
                return load_coloured_digits(folder)
        except (OSError, ValueError):
            pass
    staging = files.staging()
    try:
        write_coloured_digits(staging, **{name: settings[name] for name in BENCHMARK_ARGUMENTS})
        staged = sorted(path for path in staging.rglob("*") if path.is_file())
        moves = [(path, f"{BENCHMARK}/{path.relative_to(staging).as_posix()}") for path in staged]
        last = [move for move in moves if move[1] == settings_file]
        first = [move for move in moves if move[1] != settings_file]
        files.check_moves(moves)
        # Only now, with nothing in the way: drop the earlier benchmark the demo wrote (and nothing else).
        new = {relative for _, relative in moves}
        removed = files.remove([settings_file, *(name for name in files.recorded_under(BENCHMARK) if name not in new)])
        if len(removed) > 1:
            log(f"removed {len(removed)} files of the earlier benchmark in {folder} (written by the demo)")
        files.place(first)
        files.place(last)  # last: its presence says the benchmark is complete
    finally:
        files.discard(staging)
    return load_coloured_digits(folder)


def place_results(files, rows, *, extra_writers=(), **arguments):
    """``write_results`` aside, then moved in; result files of an earlier demo run this one did not write are removed.

    Returns the paths written and the paths removed. Each of ``extra_writers`` is called
    with the staging folder and returns the path of the further result file it wrote
    there (the HTML report), so that file is checked, recorded and moved with the others.
    """
    staging = files.staging()
    try:
        staged = write_results(staging, rows, writer=WRITER, **arguments)
        staged += [write(staging) for write in extra_writers]
        moves = [(path, path.name) for path in [*staged, staging / WRITER_FILE]]
        files.check_moves(moves)
        names = {path.name for path in staged}
        removed = files.remove([name for name in RESULT_FILES if name not in names])
        files.place(moves)
    finally:
        files.discard(staging)
    return [files.folder / path.name for path in staged], removed


def recorded_model(files):
    """``model/demo.json``'s record (recipe and summary) when the demo wrote it and the weights, unchanged; else None."""
    recipe_file, weights = f"{MODEL}/{RECIPE_FILE}", f"{MODEL}/open_clip_model.safetensors"
    if not all(files.unchanged(name) for name in (recipe_file, weights)):
        return None
    try:
        return json.loads((files.folder / recipe_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def place_model(files, staging, record):
    """Move the model trained in ``staging`` into ``model/``, with ``record`` as its ``demo.json``, last."""
    recipe_file = f"{MODEL}/{RECIPE_FILE}"
    (staging / RECIPE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    moves = [(path, f"{MODEL}/{path.name}") for path in sorted(staging.iterdir()) if path.name != RECIPE_FILE]
    files.check_moves(moves)
    # The old recipe goes first and the new one comes last: a run interrupted between retrains.
    files.remove([recipe_file])
    files.place(moves)
    files.place([(staging / RECIPE_FILE, recipe_file)])
