"""The demo's caption designs: which templates caption which training images.

Web captions come from many sources, each with its own caption style and its own
correlation between object and background. The ``"sources"`` design (the default)
builds that world from the coloured digits' training split:

- **Source B** ("balanced"): every minority-colour training image plus, for each
  digit, majority-colour images of that digit drawn at random (seeded), as many as
  the digit has images per minority colour, so colour is independent of the digit in
  B (with two colours: as many majority as minority images, digit by digit).
- **Source A** ("biased"): all the other training images, each in its digit's own
  colour, so colour is a function of the digit in A.
- Source A's captions use the first ten ``CAPTION_TEMPLATES``, source B's the last
  ten; each image draws one of its source's templates per epoch. The colour captions
  (``COLOUR_CAPTION_TEMPLATES``) keep the rate they have with all twenty templates
  (2 candidates in 22) in both sources: each source's ten templates are listed twice.

So source A's templates co-occur with the digit's own colour and absorb it, and
source B's templates co-occur with the other colour as often as with the own one:
the template decides how much spurious content the class text carries, as in the
SAGE paper's account (its Theorem 1 and corollary). The ``"uniform"`` design is the
control: the same images, sources and recipe, but every image is captioned with all
twenty templates, so every template carries the same leakage.
"""

from __future__ import annotations

import numpy as np

from ._captions import CAPTION_TEMPLATES, COLOUR_CAPTION_TEMPLATES, digit_captions
from ._digits import DIGIT_NAMES

__all__ = [
    "DESIGNS",
    "SOURCE_LABELS",
    "caption_sources",
    "design_captions",
    "design_record",
    "pool_sources",
    "source_templates",
]

DESIGNS = ("sources", "uniform")
"""The caption designs: per-source templates (the demo's), or every template for every image (the control)."""
SOURCE_LABELS = {"A": "A (biased)", "B": "B (balanced)"}
"""How the report names the caption sources."""
N_SOURCE_TEMPLATES = 10
# A stream of its own, apart from the benchmark's (seed) and the trainer's, so the
# choice of source B's majority images changes nothing else.
SOURCE_STREAM = 1601


def _check_design(design):
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}; got {design!r}.")


def source_templates(design="sources"):
    """The caption templates of each source.

    Parameters
    ----------
    design : {"sources", "uniform"}, default="sources"

    Returns
    -------
    templates : dict of str to tuple of str
        ``{"A": ..., "B": ...}``: the first and last ten ``CAPTION_TEMPLATES``,
        or all twenty for both under ``"uniform"``.

    Examples
    --------
    >>> from skclip_sage.demo import source_templates
    >>> [len(templates) for templates in source_templates().values()]
    [10, 10]
    """
    _check_design(design)
    if design == "uniform":
        return {"A": CAPTION_TEMPLATES, "B": CAPTION_TEMPLATES}
    return {"A": CAPTION_TEMPLATES[:N_SOURCE_TEMPLATES], "B": CAPTION_TEMPLATES[N_SOURCE_TEMPLATES:]}


def caption_sources(target, colour, majority, *, n_colours, seed=0):
    """Assign each training image to caption source ``"A"`` or ``"B"``.

    Parameters
    ----------
    target : array-like of int of shape (n_images,)
        Each image's digit.
    colour : array-like of int of shape (n_images,)
        Each image's colour index.
    majority : array-like of bool of shape (n_images,)
        Whether the image is in its digit's own colour.
    n_colours : int
        Colours of the benchmark.
    seed : int, default=0
        Seeds the draw of source B's majority-colour images.

    Returns
    -------
    sources : ndarray of str of shape (n_images,)
        ``"B"`` for every minority-colour image and, per digit, as many random
        majority-colour images as the digit has images per minority colour;
        ``"A"`` for the rest.

    Examples
    --------
    >>> from skclip_sage.demo import caption_sources
    >>> caption_sources([0, 0, 0, 0], [0, 0, 0, 1], [True, True, True, False], n_colours=2).tolist().count("B")
    2
    """
    target, colour, majority = np.asarray(target), np.asarray(colour), np.asarray(majority, dtype=bool)
    if not (len(target) == len(colour) == len(majority)):
        raise ValueError(
            f"target, colour and majority must have one entry per image; got {len(target)}, {len(colour)} "
            f"and {len(majority)}."
        )
    if n_colours < 2:
        raise ValueError(f"n_colours must be at least 2; got {n_colours}.")
    rng = np.random.default_rng([int(seed), SOURCE_STREAM])
    sources = np.full(len(target), "A", dtype="<U1")
    sources[~majority] = "B"
    for digit in range(len(DIGIT_NAMES)):
        own = np.flatnonzero((target == digit) & majority)
        n_minority = int(np.sum((target == digit) & ~majority))
        wanted = min(len(own), int(round(n_minority / (n_colours - 1))))
        sources[rng.choice(own, size=wanted, replace=False)] = "B"
    return sources


def design_captions(target, colour_names, sources, design="sources"):
    """Every caption each training image may be trained with, under ``design``.

    Parameters
    ----------
    target : sequence of int
        Each image's digit.
    colour_names : sequence of str
        Each image's colour name.
    sources : sequence of str
        Each image's caption source (:func:`caption_sources`).
    design : {"sources", "uniform"}, default="sources"

    Returns
    -------
    captions : list of list of str
        ``captions[i]``: image ``i``'s candidates, 20 digit captions (its source's
        templates, each listed ``20 / len(templates)`` times) then the colour
        captions, so every image draws a colour caption with the same probability.
    """
    _check_design(design)
    per_source = source_templates(design)
    unknown = sorted(set(sources) - set(per_source))
    if unknown:
        raise ValueError(f"caption sources must be among {sorted(per_source)}; got {unknown}.")
    if not (len(target) == len(colour_names) == len(sources)):
        raise ValueError(
            f"target, colour_names and sources must have one entry per image; got {len(target)}, "
            f"{len(colour_names)} and {len(sources)}."
        )
    captions = [None] * len(target)
    for source, templates in per_source.items():
        positions = [index for index, name in enumerate(sources) if name == source]
        repeated = list(templates) * (len(CAPTION_TEMPLATES) // len(templates))
        lists = digit_captions(
            [target[index] for index in positions],
            [colour_names[index] for index in positions],
            templates=repeated,
            colour_templates=COLOUR_CAPTION_TEMPLATES,
        )
        for index, options in zip(positions, lists):
            captions[index] = options
    return captions


def pool_sources(design="sources"):
    """The source label of each of the 20 evaluation templates, for the report.

    Parameters
    ----------
    design : {"sources", "uniform"}, default="sources"

    Returns
    -------
    labels : list of str
        ``"A (biased)"`` for the first ten and ``"B (balanced)"`` for the last ten;
        under ``"uniform"``, where every template captioned every image, the two
        halves are only named (``"templates 0-9"``, ``"templates 10-19"``), so the
        report still shows whether a selection favours either half.
    """
    _check_design(design)
    if design == "uniform":
        half = ["templates 0-9", "templates 10-19"]
    else:
        half = [SOURCE_LABELS["A"], SOURCE_LABELS["B"]]
    return [half[0]] * N_SOURCE_TEMPLATES + [half[1]] * (len(CAPTION_TEMPLATES) - N_SOURCE_TEMPLATES)


def design_record(design):
    """What the trained model's recipe records of the design, so no model is reused across designs."""
    _check_design(design)
    return {
        "name": design,
        "source_templates": {source: list(templates) for source, templates in source_templates(design).items()},
        "colour_captions": list(COLOUR_CAPTION_TEMPLATES),
        "source_b": "every minority-colour image + per digit round(minority / (colours - 1)) majority images",
        "source_stream": SOURCE_STREAM,
    }
