"""WaffleCLIP: a seeded set of templates made of random words and random characters.

Roth, Kim, Koepke, Vinyals, Schmid, Akata. "Waffling around for Performance: Visual
Classification with Random Words and Broad Concepts", ICCV 2023. Instead of
hand-written or LLM-written descriptions, each class prompt is followed by a random
descriptor: ``"A photo of a {}, which has <random words>."`` and ``"A photo of a {},
which has <random characters>."``, the same descriptors for every class. Averaging over
such pairs works about as well as LLM descriptions.

:func:`waffle_templates` follows the official generator (``waffle_tools.py``,
``load_gpt_descriptions(mode='waffle')``): the number of random words per descriptor is
the classes' mean word count, each word is cut to the classes' mean word length, the
random character strings take the shape of the classes' mean longest word split into
the mean number of words; descriptors are drawn for every class with NumPy's legacy
``RandomState`` (the same draws as ``np.random.seed(seed)``), then one class's descriptors
are shared by all. With the official word and character lists it returns the official
prompts; by default it uses the EFF large wordlist shipped here (source and licence in
``_data/README.txt``) and the ASCII letters and digits.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["WAFFLE_CHARACTERS", "waffle_templates", "waffle_words"]

WAFFLE_CHARACTERS = tuple(sorted(string.digits + string.ascii_letters))
"""Default characters of the random character descriptors (sorted as ``np.unique`` sorts them)."""

WORD_LIST = Path(__file__).parent / "_data" / "eff_large_wordlist.txt"


@lru_cache(maxsize=1)
def waffle_words() -> tuple[str, ...]:
    """The default random words: the EFF large wordlist (7,776 words, CC BY 3.0 US).

    Returns
    -------
    words : tuple of str

    Examples
    --------
    >>> len(waffle_words()), waffle_words()[0]
    (7776, 'abacus')
    """
    return tuple(WORD_LIST.read_text(encoding="utf-8").split())


def waffle_templates(
    class_names: Sequence[str],
    n_pairs: int = 15,
    *,
    seed: int = 0,
    words: Sequence[str] | None = None,
    characters: Sequence[str] | None = None,
    prefix: str = "A photo of a ",
    separator: str = ", ",
    suffix: str = ".",
    descriptor_phrases: bool = True,
) -> list[str]:
    """WaffleCLIP's random-descriptor templates, usable as ``templates=`` with every selection.

    Parameters
    ----------
    class_names : sequence of str
        The class texts the prompts will hold; only their word counts and lengths
        shape the random descriptors (underscores count as spaces, as in the
        official code).
    n_pairs : int, default=15
        Pairs of (random words, random characters) descriptors: ``2 * n_pairs``
        templates. The paper's default is 15.
    seed : int, default=0
        Seeds ``numpy.random.RandomState``; the official runs use seeds 0 to 6 and
        average the accuracies.
    words : sequence of str, default=None
        Random words to draw from; None uses :func:`waffle_words`.
    characters : sequence of str, default=None
        Characters of the random strings; None uses ``WAFFLE_CHARACTERS`` (ASCII letters and digits).
    prefix, separator, suffix : str, default="A photo of a ", ", ", "."
        Text before the class name, between it and the descriptor, and at the end
        (the official ``label_before_text``, ``descriptor_separator`` and
        ``label_after_text``).
    descriptor_phrases : bool, default=True
        Turn a descriptor into a phrase as the official code does: ``"which is
        ..."`` when it starts with ``"a"`` or ``"used"``, ``"which ..."`` when it
        starts with ``"has"``, ``"often"``, ``"typically"``, ``"may"`` or ``"can"``,
        ``"which has ..."`` otherwise.

    Returns
    -------
    templates : list of str
        ``2 * n_pairs`` templates, each with one ``{}`` for the class name, in the
        official order (words, characters, words, ...).

    References
    ----------
    Roth et al., "Waffling around for Performance: Visual Classification with Random
    Words and Broad Concepts", ICCV 2023.

    Examples
    --------
    >>> templates = waffle_templates(["landbird", "waterbird"], n_pairs=2, seed=0)
    >>> len(templates), all(t.startswith("A photo of a {}, which") for t in templates)
    (4, True)
    >>> templates == waffle_templates(["landbird", "waterbird"], n_pairs=2, seed=0)
    True
    """
    keys = [str(name) for name in class_names]
    if not keys:
        raise ValueError("waffle_templates needs at least one class name to size its random descriptors; got none.")
    if int(n_pairs) < 1:
        raise ValueError(f"waffle_templates: n_pairs must be >= 1; got {n_pairs}.")
    words = list(waffle_words() if words is None else words)
    characters = list(WAFFLE_CHARACTERS if characters is None else characters)
    if not words or not characters:
        raise ValueError("waffle_templates: words and characters must not be empty.")
    spelled = [key.replace("_", " ") for key in keys]
    n_words = int(max(round(float(np.mean([len(name.split(" ")) for name in spelled]))), 1))
    word_length = int(round(float(np.mean([np.mean([len(part) for part in name.split(" ")]) for name in spelled]))))
    words = np.array([word[:word_length] for word in words])
    character_array = np.array(characters)
    shape = _character_shape(keys)
    rng = np.random.RandomState(seed)
    descriptors = {}
    for key in keys:
        drawn = []
        for _ in range(int(n_pairs)):
            drawn.append(" ".join(str(rng.choice(words, 1, replace=False)[0]) for _ in range(n_words)))
            drawn.append(
                "".join(
                    ", " if mark == " " else str(rng.choice(character_array, 1, replace=False)[0]) for mark in shape
                )
            )
        descriptors[key] = drawn
    shared = descriptors[str(rng.choice(keys))]
    return [_escape(prefix) + "{}" + _escape(separator + _phrase(item, descriptor_phrases) + suffix) for item in shared]


def _character_shape(keys: list[str]) -> str:
    """The official layout of a random character string: groups of ``a`` separated by spaces."""
    n_groups = int(round(float(np.mean([key.count(" ") for key in keys])))) + 1
    n_characters = int(math.ceil(float(np.mean([max(len(part) for part in key.split(" ")) for key in keys]))))
    n_characters += n_groups - n_characters % n_groups
    return " ".join("a" * (n_characters // n_groups) for _ in range(n_groups))


def _phrase(descriptor: str, apply: bool) -> str:
    if not apply:
        return descriptor
    if descriptor.startswith("a") or descriptor.startswith("used"):
        return f"which is {descriptor}"
    if descriptor.startswith(("has", "often", "typically", "may", "can")):
        return f"which {descriptor}"
    return f"which has {descriptor}"


def _escape(text: str) -> str:
    """Literal text inside a template: braces doubled so only the class slot is a placeholder."""
    return text.replace("{", "{{").replace("}", "}}")
