"""The interface a model must offer to plug into skclip-sage, and the one place it is checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..exceptions import ModelLoadError

if TYPE_CHECKING:
    import torch
    from PIL import Image

TEXT_METHODS = ("encode_text", "embedding_dim", "logit_scale")
"""What the classifier (the text side) calls."""
IMAGE_METHODS = ("preprocess", "encode_images", "embedding_dim")
"""What the embedder (the image side) calls."""
OPTIONAL_MEMBERS = ("identity", "count_tokens", "context_length", "device", "precision", "with_precision")
"""Read when present; the loaded backends have them all."""


@runtime_checkable
class TextImageEncoder(Protocol):
    """A CLIP-like model: text and images into one embedding space.

    :class:`~skclip_sage.SageZeroShotClassifier` needs only the text side
    (``encode_text``, ``embedding_dim``, ``logit_scale``);
    :class:`~skclip_sage.ClipImageEmbedder` needs the image side (``preprocess``,
    ``encode_images``, ``embedding_dim``). Pass any object with these members as
    ``model=`` to use another backbone; it is pickled with the estimator, so make
    it picklable or re-create it after loading.

    The other members are optional and read when present: ``identity`` (needed
    for ``cache_dir``), ``count_tokens`` with ``context_length`` (prompt-length
    checks), ``device`` (where image batches go; CPU when absent) and
    ``precision`` with ``with_precision`` (autocast; the loaded models of
    :func:`~skclip_sage.encoders.load_encoder` have them all).

    Attributes
    ----------
    identity : str
        Names the model and its weights; keys the text-bank and image caches.
        Two encoders with equal identity must produce equal embeddings.
    embedding_dim : int
        Width ``D`` of the embeddings.
    logit_scale : float
        Multiplier turning cosine similarities into logits (100 for CLIP).
    context_length : int
        Most tokens a prompt may have, start and end tokens included.
    device : torch.device
        Where the model runs.
    precision : {"auto", "fp32", "bf16", "fp16"}
        Autocast precision of the forward passes.
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


def check_encoder(encoder: Any, *, text: bool = True, images: bool = False, owner: str = "model") -> None:
    """Raise a ModelLoadError naming what an injected encoder object lacks.

    Parameters
    ----------
    encoder : object
        The object passed as ``model=``.
    text, images : bool
        Which sides of the protocol the caller uses.
    owner : str
        Who asks, for the message (``"ClipImageEmbedder's model"``).
    """
    required = (TEXT_METHODS if text else ()) + (IMAGE_METHODS if images else ())
    missing = missing_members(encoder, tuple(dict.fromkeys(required)))
    if missing:
        raise ModelLoadError(
            f"{owner} must be a model string (an open_clip name, 'local-dir:/path', 'hf-hub:org/repo' or "
            f"'transformers:org/repo') or an object implementing the TextImageEncoder protocol; "
            f"{type(encoder).__name__} lacks {missing}."
        )
