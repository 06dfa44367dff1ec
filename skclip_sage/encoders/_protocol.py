"""The small interface a model must offer to plug into skclip-sage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch
    from PIL import Image

TEXT_METHODS = ("encode_text", "embedding_dim", "logit_scale")
IMAGE_METHODS = ("preprocess", "encode_images")


@runtime_checkable
class TextImageEncoder(Protocol):
    """A CLIP-like model: text and images into one embedding space.

    :class:`~skclip_sage.SageZeroShotClassifier` needs only the text side
    (``encode_text``, ``embedding_dim``, ``logit_scale``);
    :class:`~skclip_sage.ClipImageEmbedder` needs the image side as well. Pass
    any object with these members as ``model=`` to use another backbone; it is
    pickled with the estimator, so make it picklable or re-create it after loading.

    Attributes
    ----------
    identity : str
        Names the model and its weights; keys the text-bank and image caches.
        Two encoders with equal identity must produce equal embeddings.
    embedding_dim : int
        Width ``D`` of the embeddings.
    logit_scale : float
        Multiplier turning cosine similarities into logits (100 for CLIP).
    """

    identity: str
    embedding_dim: int
    logit_scale: float

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into a float32 array of shape ``(len(texts), D)``."""

    def preprocess(self, image: "Image.Image") -> "torch.Tensor":
        """Turn one RGB PIL image into the model's input tensor, e.g. ``(3, 224, 224)``."""

    def encode_images(self, pixels: "torch.Tensor") -> "torch.Tensor":
        """Embed a batch of preprocessed images into a ``(B, D)`` tensor."""


def missing_members(encoder: Any, members: Sequence[str]) -> list[str]:
    """The names in ``members`` that ``encoder`` lacks."""
    return [name for name in members if not hasattr(encoder, name)]
