"""The template-selection methods, in one table.

Each entry says whether the method keeps ``k`` templates, whether it chooses per
image or once for all images, whether it draws at random, and how it chooses. The
classifier's parameter check and ``fit``, the scoring and the command line all read
this table, so a new method is one entry here (plus its tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._baselines import random_chooser, random_template_indices, text_selected_templates
from ._sage import duplicate_template_map, sage_chooser

__all__ = ["SELECTIONS", "SELECTIONS_USING_K", "SELECTION_METHODS", "SelectionMethod", "describe_selections"]


@dataclass(frozen=True)
class SelectionMethod:
    """One template-selection method of :class:`~skclip_sage.SageZeroShotClassifier`.

    Parameters
    ----------
    name : str
        The ``selection=`` value.
    uses_k : bool
        Whether it keeps ``k`` templates (else ``k`` is ignored).
    per_image : bool
        Whether each image gets its own templates (else one set is chosen in ``fit``).
    random : bool
        Whether it draws at random (seeded by ``random_state``).
    choose : callable
        ``choose(text_bank, k, n_images, rng)``: for a per-image method, a template
        chooser ``(similarities, start, stop) -> (stop - start, K)`` indices; for a
        fixed one, the ``(K,)`` template indices every image uses.
    summary : str
        One line for help texts.
    ensemble_at_full_k : bool, default=True
        Whether ``k == n_templates`` keeps every template exactly once (the prompt
        ensemble); false when templates may repeat.
    """

    name: str
    uses_k: bool
    per_image: bool
    random: bool
    choose: Callable
    summary: str
    ensemble_at_full_k: bool = True


def _sage(text_bank, k, n_images, rng):
    return sage_chooser(k, duplicate_template_map(text_bank))


def _random(text_bank, k, n_images, rng):
    # Drawn once for all images, so the draws do not depend on the chunk size.
    return random_chooser(random_template_indices(n_images, text_bank.shape[0], k, rng))


def _random_with_replacement(text_bank, k, n_images, rng):
    # The reference code's baseline: K independent uniform draws per image, so a
    # template may repeat and then weighs as many times in the prototype.
    draw = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    return random_chooser(draw(0, text_bank.shape[0], size=(n_images, k)))


_METHODS = (
    SelectionMethod("sage", True, True, False, _sage, "the K best-separated templates per image"),
    SelectionMethod("ensemble", False, False, False, lambda bank, k, n, rng: np.arange(bank.shape[0]), "all templates"),
    SelectionMethod("single", False, False, False, lambda bank, k, n, rng: np.array([0]), "the first template"),
    SelectionMethod("random", True, True, True, _random, "K distinct templates drawn per image"),
    SelectionMethod(
        "text",
        True,
        False,
        False,
        lambda bank, k, n, rng: text_selected_templates(bank, k),
        "K templates chosen from the class names alone",
    ),
    SelectionMethod(
        "random_with_replacement",
        True,
        True,
        True,
        _random_with_replacement,
        "K templates drawn per image with replacement (the paper code's random baseline)",
        ensemble_at_full_k=False,
    ),
)

SELECTION_METHODS = {method.name: method for method in _METHODS}
"""Every selection method by name, in the order they are listed."""

SELECTIONS = tuple(SELECTION_METHODS)
"""Template-selection modes of :class:`~skclip_sage.SageZeroShotClassifier`."""

SELECTIONS_USING_K = tuple(name for name, method in SELECTION_METHODS.items() if method.uses_k)
"""The selection modes that keep ``k`` templates; the others ignore ``k``."""


def describe_selections() -> str:
    """``"name: summary; ..."`` for every method, for help texts.

    Examples
    --------
    >>> describe_selections().split("; ")[0]
    'sage: the K best-separated templates per image'
    """
    return "; ".join(f"{method.name}: {method.summary}" for method in _METHODS)
