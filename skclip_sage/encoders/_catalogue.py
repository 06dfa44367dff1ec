"""What can be loaded: the model-string forms, the paper's backbones, open_clip's names and tags."""

from __future__ import annotations

from typing import NamedTuple

from ._backends import BACKENDS


class Backbone(NamedTuple):
    """One of the backbones the SAGE paper reports, and how to name it here.

    Attributes
    ----------
    paper_name : str
        The row name in the paper's tables (also ``--paper-model`` of the harness).
    library : str
        ``"open_clip"`` or ``"transformers"``.
    model : str
        The ``model=`` string.
    pretrained : str or None
        The ``pretrained=`` tag (None where the string carries the weights).
    """

    paper_name: str
    library: str
    model: str
    pretrained: str | None


PAPER_BACKBONES = (
    Backbone("RN50", "open_clip", "RN50", "openai"),
    Backbone("ViT-B-32", "open_clip", "ViT-B-32", "laion2b_s34b_b79k"),
    Backbone("ViT-L-14", "open_clip", "ViT-L-14", "laion400m_e31"),
    Backbone("ALIGN", "transformers", "transformers:kakaobrain/align-base", None),
    Backbone("AltCLIP", "transformers", "transformers:BAAI/AltCLIP", None),
)
"""The paper's five backbones (Ye et al., AAAI 2026) with their model strings."""

COMMON_TRANSFORMERS_MODELS = (
    "transformers:openai/clip-vit-base-patch32",
    "transformers:openai/clip-vit-large-patch14",
    "transformers:google/siglip-base-patch16-224",
)
"""Hugging Face checkpoints practitioners often already have in their cache."""


class ModelCatalogue(NamedTuple):
    """The result of :func:`available_models`.

    Attributes
    ----------
    forms : list of (str, str, str)
        ``(library, form, description)`` of every model-string form, one per backend.
    paper_backbones : tuple of Backbone
        The paper's backbones and their strings.
    transformers_examples : tuple of str
        Common ``transformers:`` model strings.
    open_clip : dict of str to list of str
        Each open_clip architecture name and the pretrained tags this
        installation of open_clip knows for it (empty: random weights only).
    """

    forms: list
    paper_backbones: tuple
    transformers_examples: tuple
    open_clip: dict


def available_models(*, open_clip_names: bool = True) -> ModelCatalogue:
    """List what ``model=`` accepts: every form, the paper's backbones, open_clip's names and tags.

    Nothing is downloaded; open_clip's names and tags are those the installed
    open_clip knows (whether their weights are cached here is not checked).

    Parameters
    ----------
    open_clip_names : bool, default=True
        Include open_clip's architecture names and tags (imports open_clip).

    Returns
    -------
    catalogue : ModelCatalogue

    Examples
    --------
    >>> from skclip_sage.encoders import available_models
    >>> catalogue = available_models(open_clip_names=False)
    >>> [backbone.model for backbone in catalogue.paper_backbones][-2:]
    ['transformers:kakaobrain/align-base', 'transformers:BAAI/AltCLIP']
    >>> sorted({library for library, _, _ in catalogue.forms})
    ['open_clip', 'transformers']
    """
    forms = [(backend.library, backend.form, backend.description) for backend in BACKENDS]
    names = {}
    if open_clip_names:
        import open_clip

        names = {name: list(open_clip.list_pretrained_tags_by_model(name)) for name in open_clip.list_models()}
    return ModelCatalogue(forms, PAPER_BACKBONES, COMMON_TRANSFORMERS_MODELS, names)
