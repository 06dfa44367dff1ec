"""Concept texts for the four benchmark datasets, as configuration.

The texts are ours, written for these datasets, except TIE's attribute prompts
for Waterbirds and CelebA, the short protocol phrases of Lu et al. (ICLR 2025,
``lu876/TIE``), used verbatim so that ``SpuriousTranslation(concepts="waterbirds")``
follows that protocol. RoboShot's own concepts come from an LLM (Adila et al.,
ICLR 2024); these hand-written pairs stand in for them. Every preset is full rank
on purpose: pairs are contrasts against one reference text, never all pairs of a
few texts.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CONCEPT_PRESETS", "ConceptPreset", "concept_preset"]


class ConceptPreset(NamedTuple):
    """The texts each debiasing method needs for one dataset.

    Attributes
    ----------
    harmful : list of (str, str)
        Spurious contrasts RoboShot rejects (e.g. water vs land habitat).
    helpful : list of (str, str)
        Core-feature contrasts RoboShot boosts (e.g. webbed feet vs talons).
    spurious_prompts : list of str
        One prompt per spurious attribute value, for TIE*.
    orthogonal_prompts : list of str
        Phrases of the spurious concept whose span Orth-Proj removes.
    pairs : list of (str, str)
        Same class, different attribute: what Orth-Cali treats alike.
    attribute : str
        What the spurious attribute is, for messages and docs.
    """

    harmful: list
    helpful: list
    spurious_prompts: list
    orthogonal_prompts: list
    pairs: list
    attribute: str


def _versus(reference, others, phrase="{}"):
    """Pairs ``(other, reference)``: contrasts against one reference, so they stay independent."""
    return [(phrase.format(other), phrase.format(reference)) for other in others]


def _class_pairs(classes, phrases, reference):
    """For every class, each attribute phrase against the reference one."""
    return [
        (phrase.format(name), reference.format(name)) for name in classes for phrase in phrases if phrase != reference
    ]


PACS_DOMAINS = ("an oil painting of {}", "a cartoon of {}", "a pencil sketch of {}")
VLCS_SCENES = ("a cluttered street scene with {}", "a wide indoor or outdoor scene with {}", "a casual snapshot of {}")

CONCEPT_PRESETS = {
    "waterbirds": ConceptPreset(
        harmful=[
            ("a bird in a watery habitat", "a bird in a dry land habitat"),
            ("a bird by a lake or the sea", "a bird in a forest"),
            ("a photo with water in the background", "a photo with trees in the background"),
        ],
        helpful=[
            ("a bird with webbed feet", "a bird with talons"),
            ("a bird with a long bill for catching fish", "a bird with a short bill for seeds"),
            ("a duck, gull or other seabird", "a sparrow, warbler or other songbird"),
        ],
        # TIE's protocol prompts (lu876/TIE, Table1-WB.ipynb), in attribute order land, water.
        spurious_prompts=["a photo with a land background", "a photo with a water background"],
        orthogonal_prompts=[
            "a photo of dry land",
            "a photo of a forest",
            "a photo of a bamboo grove",
            "a photo of a lake",
            "a photo of the open ocean",
            "a photo of a beach",
        ],
        pairs=_class_pairs(
            ("landbird", "waterbird"),
            ("a photo of a {} on land", "a photo of a {} in a forest", "a photo of a {} on water"),
            "a photo of a {} on water",
        )
        + _class_pairs(("landbird", "waterbird"), ("a photo of a {} in the ocean",), "a photo of a {} on land"),
        attribute="background (land or water)",
    ),
    "celeba": ConceptPreset(
        harmful=[
            ("a photo of a woman", "a photo of a man"),
            ("a person with a feminine face", "a person with a masculine face"),
            ("a person wearing makeup", "a person with a beard"),
        ],
        helpful=[
            ("a person with blond hair", "a person with dark hair"),
            ("a person with light yellow hair", "a person with black or brown hair"),
        ],
        # TIE's protocol prompts (lu876/TIE, Table2-CelebA.ipynb), in attribute order female, male.
        spurious_prompts=["female", "male"],
        orthogonal_prompts=[
            "a photo of a woman",
            "a portrait of a female",
            "a photo of a lady",
            "a photo of a man",
            "a portrait of a male",
            "a photo of a gentleman",
        ],
        pairs=[
            ("a portrait of a woman with dark hair", "a portrait of a man with dark hair"),
            ("a portrait of a woman with blond hair", "a portrait of a man with blond hair"),
        ],
        attribute="gender (female or male)",
    ),
    "pacs": ConceptPreset(
        harmful=_versus("a photo", ("an oil painting", "a cartoon", "a pencil sketch")),
        helpful=[
            ("an animal with a long trunk", "an animal with a long neck"),
            ("a musical instrument with strings", "a building with a roof"),
            ("a four-legged animal", "a human being"),
            ("a pet with fur", "a large wild animal"),
        ],
        spurious_prompts=["an oil painting", "a cartoon", "a photo", "a pencil sketch"],
        orthogonal_prompts=["an oil painting", "a cartoon drawing", "a photograph", "a pencil sketch"],
        pairs=_class_pairs(
            ("a dog", "an elephant", "a giraffe", "a guitar", "a horse", "a house", "a person"),
            (*PACS_DOMAINS, "a photo of {}"),
            "a photo of {}",
        ),
        attribute="domain (art painting, cartoon, photo or sketch)",
    ),
    "vlcs": ConceptPreset(
        harmful=_versus(
            "a centred photo of one object",
            ("a cluttered street scene", "a wide indoor or outdoor scene", "a casual snapshot"),
        ),
        helpful=[
            ("an animal with feathers and wings", "a vehicle with wheels"),
            ("a piece of furniture to sit on", "an animal with fur and a tail"),
            ("a human being", "a four-legged animal"),
        ],
        spurious_prompts=[
            "a centred photo of one object",
            "a cluttered street scene",
            "a wide indoor or outdoor scene",
            "a casual snapshot",
        ],
        orthogonal_prompts=[
            "a centred photo of one object",
            "a cluttered street scene",
            "a wide indoor or outdoor scene",
            "a casual snapshot",
        ],
        pairs=_class_pairs(
            ("a bird", "a car", "a chair", "a dog", "a person"),
            (*VLCS_SCENES, "a centred photo of {}"),
            "a centred photo of {}",
        ),
        attribute="source collection (Caltech101, LabelMe, SUN09 or VOC2007)",
    ),
}
"""Dataset name -> :class:`ConceptPreset`."""


def concept_preset(name, owner: str) -> ConceptPreset:
    """The preset called ``name``, or a ValueError naming the choices.

    Examples
    --------
    >>> concept_preset("waterbirds", "RoboShotProjection").spurious_prompts[0]
    'a photo with a land background'
    """
    if name not in CONCEPT_PRESETS:
        raise ValueError(f"{owner}: concepts={name!r} is not a preset; choose one of {sorted(CONCEPT_PRESETS)}.")
    return CONCEPT_PRESETS[name]
