"""The texts the debiasing methods need on the coloured digits, as a concept preset.

Every text uses only words the demo's captions taught the text tower: the colour
names (from the rare captions that name the colour, "a red handwritten three."), the
digit names and the caption wording. Pairs are contrasts against one reference text
(the first colour, zero), so the directions are independent, as the library's presets are.
"""

from __future__ import annotations

from ._digits import COLOURS, DIGIT_NAMES

__all__ = ["coloured_digits_concepts"]


def coloured_digits_concepts(colour_names=("red", "green")):
    """RoboShot, TIE* and Orth-Proj/Orth-Cali texts for the coloured digits.

    Parameters
    ----------
    colour_names : sequence of str, default=("red", "green")
        The benchmark's colours (its ``colour_names``), at least two.

    Returns
    -------
    concepts : skclip_sage.debias.ConceptPreset
        ``harmful``: each colour against the first (the spurious contrasts RoboShot
        rejects); ``helpful``: each digit against zero (the core contrasts it
        boosts, the only core words the captions teach); ``spurious_prompts`` and
        ``orthogonal_prompts``: one prompt per colour (TIE*'s attribute values, the
        span Orth-Proj removes); ``pairs``: each digit in each colour against the
        same digit in the first colour (what Orth-Cali treats alike).

    Examples
    --------
    >>> from skclip_sage.demo import coloured_digits_concepts
    >>> concepts = coloured_digits_concepts()
    >>> concepts.spurious_prompts[:2], len(concepts.pairs)
    (['a red handwritten digit.', 'a green handwritten digit.'], 10)
    """
    from ..debias import ConceptPreset

    colours = list(colour_names)
    unknown = [name for name in colours if name not in COLOURS]
    if len(colours) < 2 or unknown:
        raise ValueError(f"colour_names must be at least two of {list(COLOURS)}; got {colours}.")
    reference = colours[0]
    colour_prompts = [f"a {colour} handwritten digit." for colour in colours]
    return ConceptPreset(
        harmful=[(prompt, colour_prompts[0]) for prompt in colour_prompts[1:]],
        helpful=[(f"the digit {name}.", f"the digit {DIGIT_NAMES[0]}.") for name in DIGIT_NAMES[1:]],
        spurious_prompts=colour_prompts,
        orthogonal_prompts=colour_prompts,
        pairs=[
            (f"a {colour} handwritten {name}.", f"a {reference} handwritten {name}.")
            for name in DIGIT_NAMES
            for colour in colours[1:]
        ],
        attribute="stroke colour",
    )
