"""Coloured digits: scikit-learn's handwritten digits with a spurious colour, as an image folder.

The class is the digit (all ten); the spurious attribute is the colour of the stroke on
a black background, one of the first ``n_colours`` of ``COLOURS``. Digit ``d``'s
own colour is colour ``d % n_colours``: with the default two, even digits are red and
odd digits green, a binary attribute like Waterbirds' land and water. In the training
split the colour predicts the class: a ``majority_fraction`` of each class's digits is
drawn in the class's own colour and the rest in another colour chosen at random, as
Waterbirds' training birds mostly stand on their own kind of background. The test split
holds the digits the training split did not use, each drawn in *every* colour, so every
class x colour group is present and groups of one class differ only in colour. Groups
are class x colour (``"three/green"``), the class's own colour making a *majority*
group and every other colour a *minority* group.

Everything is a function of the seed: the same arguments give byte-identical PNG files
and manifests.
"""

from __future__ import annotations

import csv
import json
import operator
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["COLOURS", "DIGIT_NAMES", "load_coloured_digits", "write_coloured_digits"]

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Ten stroke colours far apart in RGB; a benchmark uses the first n_colours.
COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (240, 220, 30),
    "magenta": (230, 40, 220),
    "cyan": (40, 220, 230),
    "orange": (245, 140, 20),
    "purple": (130, 50, 190),
    "white": (240, 240, 240),
    "brown": (140, 80, 30),
}
MANIFEST_COLUMNS = ("path", "label", "digit", "colour", "split", "group", "majority")
SETTINGS_FILE = "benchmark.json"
N_DIGITS = 1797  # in scikit-learn's load_digits()


def _settings(n_train, n_test, n_colours, majority_fraction, image_size, seed):
    return {
        "format": 1,
        "n_colours": int(n_colours),
        "n_train": int(n_train),
        "n_test": int(n_test),
        "majority_fraction": float(majority_fraction),
        "image_size": int(image_size),
        "seed": int(seed),
    }


def _check_arguments(n_train, n_test, n_colours, majority_fraction, image_size, seed, n_digits):
    if not 2 <= n_colours <= len(COLOURS):
        raise ValueError(f"n_colours must be between 2 and {len(COLOURS)}; got {n_colours}.")
    # Stratified splits need every class on both sides.
    if not 10 <= n_train <= n_digits - 10:
        raise ValueError(
            f"n_train must be between 10 and {n_digits - 10} (scikit-learn ships {n_digits} digits and the "
            f"test split needs at least 10); got {n_train}."
        )
    if n_test is not None and not 10 <= n_test <= n_digits - n_train:
        raise ValueError(
            f"n_test must be None or between 10 and {n_digits - n_train} (the digits left after "
            f"n_train={n_train}); got {n_test}."
        )
    if not 0.0 < majority_fraction <= 1.0:
        raise ValueError(
            f"majority_fraction must be in (0, 1], the share of each class drawn in its own colour; "
            f"got {majority_fraction}."
        )
    if not 8 <= image_size <= 512:
        raise ValueError(f"image_size must be between 8 and 512 pixels; got {image_size}.")
    if operator.index(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed}.")


def _render(digit_image: np.ndarray, colour: tuple[int, int, int], image_size: int):
    """One 8 x 8 digit (values 0-16) as an ``image_size`` square RGB PIL image."""
    from PIL import Image

    grey = Image.fromarray(np.uint8(np.round(digit_image * (255 / 16))), mode="L")
    intensity = np.asarray(grey.resize((image_size, image_size), Image.BICUBIC), dtype=np.float32) / 255
    pixels = np.round(intensity[..., None] * np.asarray(colour, dtype=np.float32))
    return Image.fromarray(pixels.astype(np.uint8), mode="RGB")


def _assign_rows(target, n_train, n_test, n_colours, majority_fraction, rng):
    """(index, digit, colour, split) for every image: training digits coloured, test digits in every colour."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(target)),
        train_size=n_train,
        test_size=n_test,
        stratify=target,
        random_state=int(rng.integers(2**31)),
    )
    rows = []
    for index in np.sort(train):
        digit = int(target[index])
        colour = digit % n_colours
        if rng.random() >= majority_fraction:
            # A minority colour: any colour but the class's own, uniformly.
            colour = int((colour + rng.integers(1, n_colours)) % n_colours)
        rows.append((int(index), digit, colour, "train"))
    for index in np.sort(test):
        rows.extend((int(index), int(target[index]), colour, "test") for colour in range(n_colours))
    return rows


def write_coloured_digits(
    folder, *, n_train=1500, n_test=None, n_colours=2, majority_fraction=0.8, image_size=32, seed=0
):
    """Write the coloured-digits benchmark (PNG images and manifests) to ``folder``.

    Parameters
    ----------
    folder : path-like
        Created if needed. Receives ``images/<split>/<digit>/<name>.png``,
        ``manifest.csv`` (every image), ``train.csv`` and ``test.csv`` (one split
        each, same columns) and ``benchmark.json`` (the arguments). A folder already
        holding the benchmark for the same arguments is reused as it is.
    n_train : int, default=1500
        Digits in the training split (stratified by class).
    n_test : int, default=None
        Digits in the test split (stratified by class), each drawn in every
        colour; None takes all ``1797 - n_train`` digits the training split left.
    n_colours : int, default=2
        Stroke colours, the first of ``COLOURS`` (2 to 10); digit ``d``'s
        own colour is colour ``d % n_colours``.
    majority_fraction : float, default=0.8
        Probability that a training digit is drawn in its class's own colour
        (drawn per image); the others get another colour at random.
    image_size : int, default=32
        Side of the square images in pixels (the 8 x 8 digits are upscaled bicubically).
    seed : int, default=0
        Seeds the split and the minority colours.

    Returns
    -------
    benchmark : sklearn.utils.Bunch
        As returned by :func:`load_coloured_digits`.

    Examples
    --------
    >>> import tempfile
    >>> from skclip_sage.demo import write_coloured_digits
    >>> digits = write_coloured_digits(tempfile.mkdtemp(), n_train=50, n_test=20, image_size=16)
    >>> int((digits.split == "train").sum()), int((digits.split == "test").sum())
    (50, 40)
    >>> digits.group_names[:3]
    ['zero/red', 'zero/green', 'one/red']
    """
    from sklearn.datasets import load_digits

    folder = Path(folder)
    digits = load_digits()
    settings = benchmark_settings(n_train, n_test, n_colours, majority_fraction, image_size, seed)
    n_test = settings["n_test"]
    previous = _settings_on_disk(folder)
    if previous == settings:
        return load_coloured_digits(folder)
    if previous is not None:
        # Our own benchmark for other arguments: drop the images its manifest lists, so none
        # linger unlisted, and nothing else (a file someone put in images/ stays).
        (folder / SETTINGS_FILE).unlink()
        _remove_listed_images(folder)
    rng = np.random.default_rng(seed)
    colour_names = list(COLOURS)[:n_colours]
    manifest = []
    for index, digit, colour, split in _assign_rows(digits.target, n_train, n_test, n_colours, majority_fraction, rng):
        relative = f"images/{split}/{digit}/{index:04d}_{colour_names[colour]}.png"
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        _render(digits.images[index], COLOURS[colour_names[colour]], image_size).save(folder / relative)
        manifest.append(
            {
                "path": relative,
                "label": DIGIT_NAMES[digit],
                "digit": digit,
                "colour": colour_names[colour],
                "split": split,
                "group": f"{DIGIT_NAMES[digit]}/{colour_names[colour]}",
                "majority": int(colour == digit % n_colours),
            }
        )
    for name, split in (("manifest.csv", None), ("train.csv", "train"), ("test.csv", "test")):
        _write_manifest(folder / name, [row for row in manifest if split in (None, row["split"])])
    # Written last: its presence says the folder is complete.
    (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return load_coloured_digits(folder)


def _remove_listed_images(folder: Path):
    """Delete the images ``folder/manifest.csv`` lists (under ``images/`` only) and the folders they emptied."""
    try:
        with open(folder / "manifest.csv", newline="", encoding="utf-8") as handle:
            listed = [row.get("path") or "" for row in csv.DictReader(handle)]
    except (OSError, csv.Error, UnicodeDecodeError):
        return
    images = (folder / "images").resolve()
    emptied = set()
    for relative in listed:
        path = (folder / relative).resolve()
        if path.is_relative_to(images) and path.suffix == ".png" and path.is_file():
            path.unlink()
            emptied.update(parent for parent in path.parents if parent.is_relative_to(images))
    for directory in sorted(emptied, key=lambda path: len(path.parts), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def benchmark_settings(n_train=1500, n_test=None, n_colours=2, majority_fraction=0.8, image_size=32, seed=0):
    """The arguments of :func:`write_coloured_digits` as its ``benchmark.json`` records them (checked)."""
    _check_arguments(n_train, n_test, n_colours, majority_fraction, image_size, seed, N_DIGITS)
    n_test = N_DIGITS - n_train if n_test is None else n_test
    return _settings(n_train, n_test, n_colours, majority_fraction, image_size, seed)


def _settings_on_disk(folder: Path):
    try:
        return json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_manifest(path: Path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def load_coloured_digits(folder):
    """Read a coloured-digits benchmark written by :func:`write_coloured_digits`.

    Parameters
    ----------
    folder : path-like
        The benchmark folder (holding ``manifest.csv`` and ``benchmark.json``).

    Returns
    -------
    benchmark : sklearn.utils.Bunch
        ``data`` (absolute image paths, ndarray of str of shape (n_images,)),
        ``target`` (the digit, int), ``colour`` (colour index, int), ``split``
        (``"train"`` or ``"test"``), ``groups`` (``digit * n_colours + colour``),
        ``majority`` (bool: drawn in its class's training colour), ``group_names``
        (list of ``"<digit name>/<colour>"``, indexed by group), ``class_names``
        (``DIGIT_NAMES``), ``colour_names``, ``folder``, ``settings`` (the writing
        arguments) and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        When ``folder`` holds no complete benchmark.
    """
    from ..datasets import read_manifest

    folder = Path(folder).resolve()
    settings = _settings_on_disk(folder)
    if settings is None:
        raise FileNotFoundError(
            f"{str(folder)!r} holds no complete coloured-digits benchmark (no readable {SETTINGS_FILE}); "
            "write one with skclip_sage.demo.write_coloured_digits."
        )
    if not (folder / "manifest.csv").is_file():
        raise FileNotFoundError(
            f"The coloured-digits dataset is incomplete: expected the file {str(folder / 'manifest.csv')!r}. "
            "Write it with skclip_sage.demo.write_coloured_digits."
        )
    manifest = read_manifest(folder / "manifest.csv")
    values = {name: [cell.strip() for cell in manifest.column(name)] for name in ("path", "digit", "colour", "split")}
    colour_names = list(COLOURS)[: settings["n_colours"]]
    target = np.asarray(values["digit"], dtype=np.int64)
    colour = np.asarray([colour_names.index(name) for name in values["colour"]], dtype=np.int64)
    return Bunch(
        data=np.asarray([str(folder / path) for path in values["path"]]),
        target=target,
        colour=colour,
        split=np.asarray(values["split"]),
        groups=target * len(colour_names) + colour,
        majority=target % len(colour_names) == colour,
        group_names=[f"{digit}/{name}" for digit in DIGIT_NAMES for name in colour_names],
        class_names=list(DIGIT_NAMES),
        colour_names=colour_names,
        folder=folder,
        settings=settings,
        DESCR=(
            f"Coloured digits: scikit-learn's handwritten digits at {settings['image_size']} px, the stroke "
            f"coloured; in the {settings['n_train']}-image training split "
            f"{100 * settings['majority_fraction']:.0f}% of each digit is drawn in its own colour "
            f"({_own_colours(colour_names)}), the test split draws each remaining digit in all "
            f"{len(colour_names)} colours (seed {settings['seed']})."
        ),
    )


def _own_colours(colour_names):
    """``"even digits red, odd digits green"`` for two colours; digit by digit otherwise."""
    if len(colour_names) == 2:
        return f"even digits {colour_names[0]}, odd digits {colour_names[1]}"
    return ", ".join(f"{digit} {colour_names[digit % len(colour_names)]}" for digit in range(len(DIGIT_NAMES)))
