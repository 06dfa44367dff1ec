"""Hugging Face transformers models (CLIP, SigLIP, ALIGN, AltCLIP) behind the :class:`TextImageEncoder` interface.

Embeddings are what transformers computes (``get_text_features`` /
``get_image_features``), taken from ``.pooler_output`` when transformers 5 returns
an output object and used as they are when older versions return a tensor.
Preprocessing is the model's own image processor. transformers is imported only
here, and only when a ``transformers:`` model is loaded.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple, Sequence

import numpy as np
import torch

from ..exceptions import ModelLoadError
from ..utils._optional import require_transformers
from ._loaded import LoadedEncoder
from ._transformers_files import offline_recipe, resolve_transformers_model


class Family(NamedTuple):
    """How one model family turns similarities into logits and pads its prompts."""

    name: str
    padding: str | bool  # "max_length": as trained (SigLIP); True: to the longest prompt
    reserved_positions: int  # position embeddings the text tower never gives to tokens (RoBERTa: 2)


FAMILIES = {
    "clip": Family("CLIP", True, 0),
    "altclip": Family("AltCLIP", True, 2),
    "align": Family("ALIGN", True, 0),
    # SigLIP's text tower pools the last position, so embeddings depend on padding.
    "siglip": Family("SigLIP", "max_length", 0),
}
"""The ``config.json`` model types this backend loads."""


class ImageProcessorTransform:
    """One PIL image -> the ``pixel_values`` tensor of a transformers image processor.

    A light picklable object (the processor holds only its settings), sent to
    DataLoader workers instead of anything bound to the model.

    Parameters
    ----------
    processor : transformers.BaseImageProcessor
        The model's image processor (resize, crop, rescale, normalise).
    """

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, image) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def __repr__(self):
        return f"ImageProcessorTransform({type(self.processor).__name__})"


class TransformersEncoder(LoadedEncoder):
    """A transformers CLIP-like model, its tokenizer and image processor, in eval mode on one device.

    Build it with :func:`skclip_sage.encoders.load_encoder` and a
    ``"transformers:..."`` model string rather than directly.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A ``CLIPModel``, ``SiglipModel``, ``AlignModel`` or ``AltCLIPModel``.
    tokenizer : transformers.PreTrainedTokenizerBase
        The model's tokenizer.
    image_processor : transformers.BaseImageProcessor
        The model's image processor.
    family : str
        ``config.json``'s model type: ``"clip"``, ``"siglip"``, ``"align"`` or ``"altclip"``.
    identity, device, precision
        The cache key, the ``torch.device`` and the autocast precision, as for
        :class:`~skclip_sage.encoders.LoadedEncoder`.

    Attributes
    ----------
    logit_scale : float
        ``exp(logit_scale)`` for CLIP, AltCLIP and SigLIP; ``1 / temperature`` for ALIGN.
    logit_bias : float or None
        SigLIP's learned bias of its per-pair sigmoid (None for the other families).
    """

    def __init__(
        self, model, tokenizer, image_processor, *, family: str, identity: str, device, precision: str = "auto"
    ):
        super().__init__(
            model, ImageProcessorTransform(image_processor), identity=identity, device=device, precision=precision
        )
        self.tokenizer = tokenizer
        self.family = FAMILIES[family]
        if hasattr(model, "temperature"):  # ALIGN
            self.logit_scale = float(1.0 / model.temperature.detach().float().cpu())
        else:
            self.logit_scale = float(model.logit_scale.detach().float().exp().cpu())
        bias = getattr(model, "logit_bias", None)
        self.logit_bias = None if bias is None else float(bias.detach().float().cpu().reshape(-1)[0])
        positions = int(model.config.text_config.max_position_embeddings) - self.family.reserved_positions
        limit = getattr(tokenizer, "model_max_length", positions) or positions
        self.context_length = min(positions, int(limit) if limit < 1_000_000 else positions)
        self._text_inputs = set(inspect.signature(model.get_text_features).parameters)
        self.image_size = _input_side(image_processor)
        self.embedding_dim = int(self.encode_text(["a"]).shape[1])

    def _text_features(self, texts: list) -> torch.Tensor:
        tokens = self.tokenizer(
            texts, padding=self.family.padding, truncation=True, max_length=self.context_length, return_tensors="pt"
        )
        inputs = {name: value.to(self.device) for name, value in tokens.items() if name in self._text_inputs}
        return _pooled(self.model.get_text_features(**inputs))

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return _pooled(self.model.get_image_features(pixel_values=pixels))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text including the special tokens, before any truncation."""
        # verbose=False: a prompt over the limit is reported by the caller, not logged here.
        return [len(ids) for ids in self.tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]]


def _input_side(image_processor) -> int | None:
    """The longest side the processor resizes images to (its ``size`` settings), if it says."""
    size = getattr(image_processor, "size", None)
    sides = [value for value in (size or {}).values() if isinstance(value, int)] if isinstance(size, dict) else []
    if isinstance(size, int):
        sides = [size]
    return max(sides) if sides else None


def _pooled(output) -> torch.Tensor:
    """The embedding in a ``get_*_features`` result: a tensor (transformers 4) or ``.pooler_output`` (5)."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def sigmoid_scores(similarities, logit_scale: float, logit_bias: float) -> np.ndarray:
    """SigLIP's per-class probabilities: ``sigmoid(logit_scale * similarity + logit_bias)``.

    SigLIP is trained with an independent sigmoid per image-text pair, so these
    scores do not sum to one over the classes; they say how well each class
    name matches on its own. The classification answer is still the softmax over
    classes (``predict_proba``), whose argmax they share.

    Parameters
    ----------
    similarities : array-like of shape (n_samples, n_classes)
        Cosine similarities, e.g. ``SageZeroShotClassifier.class_similarities(X)``.
    logit_scale : float
        The model's ``logit_scale`` (``clf.logit_scale_``).
    logit_bias : float
        The model's ``logit_bias`` (``load_encoder("transformers:...").logit_bias``).

    Returns
    -------
    scores : ndarray of shape (n_samples, n_classes)
        Each in ``(0, 1)``.

    Examples
    --------
    >>> sigmoid_scores([[0.1, 0.0]], logit_scale=10.0, logit_bias=-1.0).round(3)
    array([[0.5  , 0.269]])
    """
    logits = np.asarray(similarities, dtype=np.float64) * logit_scale + logit_bias
    # exp of a negative number only: never overflows.
    positive = np.exp(-np.abs(logits))
    return np.where(logits >= 0, 1.0 / (1.0 + positive), positive / (1.0 + positive))


def load(model: str, pretrained: str | None, *, device: torch.device, cache_dir: str | None) -> TransformersEncoder:
    """Load a ``transformers:`` model (``pretrained`` is ignored: the weights come with the model).

    Weights load only from safetensors or from ``.bin`` files that passed
    ``torch.load(weights_only=True)``; ``trust_remote_code`` is never set.
    """
    transformers = require_transformers(f"model={model!r}")
    resolved = resolve_transformers_model(model, cache_dir)
    if resolved.model_type not in FAMILIES:
        raise ModelLoadError(
            f"model={model!r} is a {resolved.model_type!r} model; the transformers backend loads "
            f"{', '.join(repr(name) for name in FAMILIES)} ({', '.join(f.name for f in FAMILIES.values())}) models."
        )
    options = {"local_files_only": True, "trust_remote_code": False}
    try:
        network = transformers.AutoModel.from_pretrained(
            resolved.folder, use_safetensors=resolved.safetensors, **_float32(transformers), **options
        )
        tokenizer = transformers.AutoTokenizer.from_pretrained(resolved.folder, **options)
        image_processor = transformers.AutoImageProcessor.from_pretrained(resolved.folder, **options)
    except Exception as err:
        raise ModelLoadError(
            f"transformers could not build model {model!r} from {str(resolved.folder)!r}: {err}. "
            f"{offline_recipe(model)}"
        ) from err
    network.to(device).eval()
    return TransformersEncoder(
        network, tokenizer, image_processor, family=resolved.model_type, identity=resolved.identity, device=device
    )


def _float32(transformers) -> dict:
    """Load weights as float32 (autocast handles lower precision); ``dtype`` was ``torch_dtype`` before 4.56."""
    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return {"dtype" if (major, minor) >= (4, 56) else "torch_dtype": torch.float32}
