"""What every loaded backend shares: eval mode, inference mode, autocast, batching, precision views.

A backend subclasses :class:`LoadedEncoder` and writes only what differs between
libraries: how texts become features (:meth:`LoadedEncoder._text_features`), how
pixels do (:meth:`LoadedEncoder._image_features`), and how tokens are counted.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch

from ._device import autocast_dtype, inference_context

TEXT_BATCH_SIZE = 256


class LoadedEncoder:
    """A torch model in eval mode on one device, behind the :class:`TextImageEncoder` interface.

    The base of :class:`~skclip_sage.encoders.OpenClipEncoder` and
    :class:`~skclip_sage.encoders.TransformersEncoder`. A new backend subclasses it,
    sets ``embedding_dim``, ``logit_scale`` and ``context_length``, writes
    ``_text_features``, ``_image_features`` and ``count_tokens``, and adds one entry
    to ``skclip_sage.encoders.BACKENDS``; eval mode, inference mode, autocast,
    batching and precision views come from here.

    Parameters
    ----------
    model : torch.nn.Module
        The network; put in eval mode before every forward pass.
    preprocess : callable
        PIL image -> input tensor. A light picklable object: DataLoader workers
        receive it, never the model.
    identity : str
        Names the model and weights (cache key).
    device : torch.device
        Where the model lives.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast choice for forward passes; ``"auto"`` is bf16 (fp16 on GPUs
        without bf16) on CUDA and fp32 on the CPU.
    """

    context_length: int
    embedding_dim: int
    logit_scale: float

    def __init__(self, model, preprocess, *, identity: str, device: torch.device, precision: str = "auto"):
        autocast_dtype(precision, device)  # validates the choice early
        self.model = model
        # A plain attribute, not a method: DataLoader workers receive this light
        # transform, never the model it would be bound to.
        self.preprocess = preprocess
        self.identity = identity
        self.device = device
        self.precision = precision

    def with_precision(self, precision: str):
        """The same loaded model with another autocast precision (no copy of weights)."""
        if precision == self.precision:
            return self
        autocast_dtype(precision, self.device)
        view = copy.copy(self)
        view.precision = precision
        return view

    @property
    def resolved_precision(self) -> str:
        """The precision the forward passes really run in: ``"auto"`` made concrete for this device.

        ``"auto"`` is fp32 on the CPU but bf16 or fp16 on a GPU, depending on the GPU, so
        caches key on this rather than on ``precision``.
        """
        dtype = autocast_dtype(self.precision, self.device)
        return "fp32" if dtype is None else {torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts; returns float32 of shape ``(len(texts), embedding_dim)``."""
        self.model.eval()
        outputs = []
        for start in range(0, len(texts), TEXT_BATCH_SIZE):
            with inference_context(self.precision, self.device):
                outputs.append(self._text_features(list(texts[start : start + TEXT_BATCH_SIZE])).float().cpu())
        return torch.cat(outputs).numpy()

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """A batch of preprocessed images -> float32 ``(B, D)`` on the model's device."""
        self.model.eval()
        with inference_context(self.precision, self.device):
            return self._image_features(pixels.to(self.device, non_blocking=True)).float()

    def _text_features(self, texts: list) -> torch.Tensor:
        """Unnormalised text features ``(len(texts), D)`` on the device."""
        raise NotImplementedError

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unnormalised image features ``(B, D)`` of pixels already on the device."""
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.identity!r}, device='{self.device}', precision={self.precision!r})"


# Documented and imported from the package face (numpy's ``set_module`` idiom), so the
# backends' "Bases:" line links to its page.
LoadedEncoder.__module__ = "skclip_sage.encoders"
