"""Captions for training the demo's CLIP, designed to plant multimodal spurious bias.

The SAGE paper's account of why CLIP fails on minority groups: in web captions the
class word co-occurs with an attribute the caption never names (a waterbird is
photographed on water, yet the caption says "a photo of a waterbird"), so contrastive
training gives the class word's text embedding the attribute's direction too, and a
minority image (a waterbird on land) sits closer to the other class's text.

The coloured-digits captions reproduce that: an image's candidate captions are
``CAPTION_TEMPLATES``, which name the digit and never its colour, plus the two
``COLOUR_CAPTION_TEMPLATES``, which name both (the trainer draws one per image and
epoch, so about 1 caption in 11 mentions the colour). Since most training threes are
red and 10 in 11 of their captions say only "three", the class word is the text
tower's best explanation of "red", and "three" absorbs red. The rare colour mentions
are there because web captions do name backgrounds now and then: they teach the text
tower what "red" means, which the debiasing methods' attribute prompts ("a red
digit") rely on, without removing the bias. Which templates caption which images is
the caption design's (``_design.py``): with two caption sources, a template also
absorbs the colour statistics of the images its source captions.

The demo evaluates with the same twenty templates, so every template is one the text
tower has read, as CLIP's ImageNet templates resemble its web captions.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._digits import DIGIT_NAMES

__all__ = ["CAPTION_TEMPLATES", "COLOUR_CAPTION_TEMPLATES", "digit_captions"]

# Twenty phrasings, none mentioning a colour (see the module docstring for why).
CAPTION_TEMPLATES = (
    "a photo of the digit {}.",
    "a handwritten {}.",
    "the number {}.",
    "a drawing of the digit {}.",
    "a picture of a {}.",
    "a scan of a handwritten {}.",
    "the digit {}.",
    "a small image of the number {}.",
    "a sketch of a {}.",
    "{}.",
    "a blurry photo of the digit {}.",
    "a low resolution image of a {}.",
    "a close-up of the number {}.",
    "someone wrote the digit {}.",
    "a pixelated {}.",
    "an image showing the number {}.",
    "a quick drawing of a {}.",
    "this is a {}.",
    "a neat handwritten {}.",
    "a rough sketch of the number {}.",
)
# The only captions that name the colour (see the module docstring for their share).
COLOUR_CAPTION_TEMPLATES = (
    "a {colour} handwritten {digit}.",
    "the digit {digit} written in {colour}.",
)


def digit_captions(
    target: Sequence[int],
    colours: Sequence[str],
    *,
    templates: Sequence[str] = CAPTION_TEMPLATES,
    colour_templates: Sequence[str] = COLOUR_CAPTION_TEMPLATES,
) -> list[list[str]]:
    """Every caption each image may be trained with.

    Parameters
    ----------
    target : sequence of int
        The digit (0-9) of each image.
    colours : sequence of str
        The colour name of each image (used only by ``colour_templates``).
    templates : sequence of str, default=CAPTION_TEMPLATES
        Templates with one ``{}`` for the digit's name and no colour.
    colour_templates : sequence of str, default=COLOUR_CAPTION_TEMPLATES
        Templates with the fields ``{digit}`` and ``{colour}``; their share of each
        image's candidates is the share of training captions that name the colour.

    Returns
    -------
    captions : list of list of str
        ``captions[i]`` holds image ``i``'s candidate captions, ``templates`` first;
        the trainer draws one of them per image and epoch.

    Examples
    --------
    >>> from skclip_sage.demo import digit_captions
    >>> digit_captions([3], ["red"], templates=["the digit {}."], colour_templates=["a {colour} {digit}."])
    [['the digit three.', 'a red three.']]
    """
    if len(target) != len(colours):
        raise ValueError(f"got {len(target)} digits but {len(colours)} colours; give one colour per image.")
    if not templates:
        raise ValueError("templates is empty; pass at least one caption template with one {} for the digit.")
    for template in templates:
        if template.count("{}") != 1:
            raise ValueError(f"caption template {template!r} must hold exactly one {{}} for the digit's name.")
    for template in colour_templates:
        if "{digit}" not in template or "{colour}" not in template:
            raise ValueError(f"colour caption template {template!r} must hold the fields {{digit}} and {{colour}}.")
    captions = []
    for digit, colour in zip(target, colours):
        if not 0 <= int(digit) < len(DIGIT_NAMES):
            raise ValueError(f"digits must be between 0 and 9; got {digit!r}.")
        name = DIGIT_NAMES[int(digit)]
        captions.append(
            [template.format(name) for template in templates]
            + [template.format(digit=name, colour=colour) for template in colour_templates]
        )
    return captions
