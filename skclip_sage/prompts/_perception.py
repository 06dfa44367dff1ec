"""PerceptionCLIP's contextual attributes as templates: presets and their composition.

For ``selection="perception"`` every template is one value ``z`` of a contextual
attribute, e.g. ``"a photo of a {}, on water."``. The presets below are the attribute
phrases of the official repository (``umd-huang-lab/perceptionCLIP``,
``src/templates/waterbirds_template.py`` and ``celeba_template.py``, MIT licence),
copied verbatim because they define the published protocol; the main templates are the
ones the official Waterbirds and CelebA scripts pass (``--main_template``), the CelebA
one ending in a full stop, so its prompts read ``"a photo of a celebrity with {}.,
female."`` exactly as in the official runs.

Several attributes compose as the official ``generate_composite_factors`` does: every
combination of values, their phrases joined by ``", "``, an empty phrase (the
"not sure" value) dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product

__all__ = ["PERCEPTION_ATTRIBUTES", "PERCEPTION_TEMPLATE_SETS", "perception_templates"]

PERCEPTION_ATTRIBUTES = {
    "waterbirds": {
        "main": "a photo of a {}",
        "attributes": {
            "simple_background": {"land": "on land", "water": "on water"},
            "background": {
                "others": "",
                "land": "on land",
                "water": "on water",
                "forest": "in forest",
                "sky": "in sky",
                "street": "on street",
                "grass": "on grass",
                "tree": "on tree",
                "flowers": "with flowers",
                "beach": "on beach",
                "human": "with human",
                "branch": "on a branch",
            },
        },
    },
    "celeba": {
        "main": "a photo of a celebrity with {}.",
        "attributes": {
            "gender": {"not_sure": "", "female": "female", "male": "male"},
            "age": {"not_sure": "", "young": "young", "old": "old"},
            "race": {"others": "", "white": "white skin", "dark": "dark skin", "asian": "asian"},
        },
    },
}
"""Per dataset: the main template and each attribute's values with their phrases (official, verbatim)."""


def perception_templates(dataset_or_main, attributes: Sequence[str] | Mapping | None = None) -> list[str]:
    """Templates for ``selection="perception"``: the main template conditioned on every attribute value.

    Parameters
    ----------
    dataset_or_main : str
        A preset dataset of ``PERCEPTION_ATTRIBUTES`` (``"waterbirds"``,
        ``"celeba"``), or a main template with one ``{}`` (then ``attributes`` must be
        a mapping).
    attributes : sequence of str or mapping, default=None
        For a preset, the names of its attributes to compose, in order (default: all
        of them except ``"simple_background"``); otherwise
        ``{attribute: {value: phrase}}``, an empty phrase meaning "not said".

    Returns
    -------
    templates : list of str
        One per combination of values: ``main + ", " + phrases + "."``, or ``main +
        "."`` when every phrase is empty.

    Examples
    --------
    >>> perception_templates("waterbirds", ["simple_background"])
    ['a photo of a {}, on land.', 'a photo of a {}, on water.']
    >>> perception_templates("a photo of a {}", {"time": {"day": "by day", "unsaid": ""}})
    ['a photo of a {}, by day.', 'a photo of a {}.']
    """
    if dataset_or_main in PERCEPTION_ATTRIBUTES:
        preset = PERCEPTION_ATTRIBUTES[dataset_or_main]
        main, available = preset["main"], preset["attributes"]
        if attributes is None:
            attributes = [name for name in available if name != "simple_background"]
        if isinstance(attributes, str):
            attributes = [attributes]
        unknown = [name for name in attributes if name not in available]
        if unknown:
            raise ValueError(
                f"perception_templates: {dataset_or_main!r} has no attribute {unknown[0]!r}; choose from "
                f"{sorted(available)}."
            )
        chosen = {name: available[name] for name in attributes}
    else:
        if not isinstance(attributes, Mapping) or not attributes:
            raise ValueError(
                f"perception_templates: {dataset_or_main!r} is not a preset ({sorted(PERCEPTION_ATTRIBUTES)}); "
                "with a main template, pass attributes={attribute: {value: phrase}}."
            )
        if str(dataset_or_main).count("{}") != 1:
            raise ValueError(
                f"perception_templates: the main template {dataset_or_main!r} must contain exactly one '{{}}'."
            )
        main, chosen = dataset_or_main, attributes
    templates = []
    for phrases in product(*(list(values.values()) for values in chosen.values())):
        description = ", ".join(phrase for phrase in phrases if phrase)
        templates.append(main + (", " + description if description else "") + ".")
    return templates


PERCEPTION_TEMPLATE_SETS = {
    "perception_waterbirds": tuple(perception_templates("waterbirds", ["background"])),
    "perception_waterbirds_simple": tuple(perception_templates("waterbirds", ["simple_background"])),
    "perception_celeba": tuple(perception_templates("celeba", ["gender", "age", "race"])),
    "perception_celeba_gender": tuple(perception_templates("celeba", ["gender"])),
}
"""Built-in template sets of the PerceptionCLIP presets, by ``templates=`` name."""
