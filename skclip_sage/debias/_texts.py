"""Checking and encoding the texts of the debiasing methods (concept pairs, prompts).

Texts are encoded through the classifier's own path, the cached text bank, with
the identity template ``"{}"``: a pipeline encodes each text once per model, and
the same caches (memory and ``cache_dir``) serve classifiers and debiasers alike.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np

from ..exceptions import RankDeficientConceptsWarning
from ..prompts import encode_text_bank
from ._linear_algebra import orthonormal_basis, unit_rows

__all__ = ["check_pairs", "check_texts", "concept_basis", "encode_texts"]


def check_texts(texts, *, name: str, owner: str, minimum: int = 1) -> list[str]:
    """``texts`` as a list of distinct, non-empty strings; at least ``minimum`` of them.

    Examples
    --------
    >>> check_texts(["a photo with a land background", "a photo with a water background"],
    ...             name="spurious_prompts", owner="SpuriousTranslation", minimum=2)[1]
    'a photo with a water background'
    >>> check_texts(["land", "land"], name="spurious_prompts", owner="SpuriousTranslation")
    Traceback (most recent call last):
    ...
    ValueError: SpuriousTranslation: spurious_prompts repeats 'land'; give each text once.
    """
    if isinstance(texts, str) or not hasattr(texts, "__iter__"):
        raise ValueError(f"{owner}: {name} must be a list of strings; got {type(texts).__name__} {texts!r}.")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"{owner}: {name}[{index}] must be a string; got {type(text).__name__} {text!r}.")
        if not text.strip():
            raise ValueError(f"{owner}: {name}[{index}] is empty; every text must say something.")
    repeated = [text for text, count in Counter(texts).items() if count > 1]
    if repeated:
        raise ValueError(f"{owner}: {name} repeats {', '.join(map(repr, repeated))}; give each text once.")
    if len(texts) < minimum:
        raise ValueError(f"{owner}: {name} needs at least {minimum} text(s); got {len(texts)}.")
    return texts


def check_pairs(pairs, *, name: str, owner: str) -> list[tuple[str, str]]:
    """``pairs`` as a list of distinct ``(text_a, text_b)`` with ``text_a != text_b``.

    Examples
    --------
    >>> check_pairs([("a bird with webbed feet", "a bird with talons")], name="helpful", owner="RoboShotProjection")
    [('a bird with webbed feet', 'a bird with talons')]
    >>> check_pairs([("water", "water")], name="harmful", owner="RoboShotProjection")
    Traceback (most recent call last):
    ...
    ValueError: RoboShotProjection: harmful[0] pairs 'water' with itself; a pair needs two different texts.
    """
    if pairs is None:
        return []
    if isinstance(pairs, str) or not hasattr(pairs, "__iter__"):
        raise ValueError(f"{owner}: {name} must be a list of (text, text) pairs; got {type(pairs).__name__}.")
    checked = []
    for index, pair in enumerate(pairs):
        if isinstance(pair, str) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise ValueError(f"{owner}: {name}[{index}] must be a pair (text_a, text_b); got {pair!r}.")
        if isinstance(pair[0], str) and pair[0] == pair[1]:
            raise ValueError(
                f"{owner}: {name}[{index}] pairs {pair[0]!r} with itself; a pair needs two different texts."
            )
        first, second = check_texts(list(pair), name=f"{name}[{index}]", owner=owner, minimum=2)
        checked.append((first, second))
    # A pair is one direction up to its sign: (a, b) and (b, a) repeat it.
    repeated = [pair for pair, count in Counter(tuple(sorted(pair)) for pair in checked).items() if count > 1]
    if repeated:
        raise ValueError(f"{owner}: {name} repeats the pair {repeated[0]!r}; give each pair once.")
    return checked


def encode_texts(encoder, texts, *, batch_size=256, truncate=False, cache_dir=None, verbose=False) -> np.ndarray:
    """Unit embeddings of ``texts``, shape ``(len(texts), d)``, float64, through the text-bank caches."""
    if not texts:
        return np.zeros((0, int(encoder.embedding_dim)))
    bank = encode_text_bank(
        encoder, ["{}"], list(texts), batch_size=batch_size, truncate=truncate, cache_dir=cache_dir, verbose=verbose
    )
    return unit_rows(bank[0])


def concept_basis(directions, *, tolerance: float, what: str, owner: str) -> np.ndarray:
    """Orthonormal rows spanning ``directions``; warns when null directions are dropped."""
    basis = orthonormal_basis(directions, tolerance=tolerance)
    if basis.rank < basis.n_given:
        warnings.warn(
            f"{owner}: the {basis.n_given} {what} span only {basis.rank} direction(s); "
            f"{basis.n_given - basis.rank} null direction(s) (singular value below {tolerance:g} of the largest) "
            "were dropped. The reference code keeps one QR column per direction, those set by round-off; "
            "remove dependent texts (e.g. pairs among the same few texts) to silence this.",
            RankDeficientConceptsWarning,
            stacklevel=4,
        )
    return basis.vectors
