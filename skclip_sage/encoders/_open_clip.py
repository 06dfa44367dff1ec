"""open_clip models behind the :class:`TextImageEncoder` interface."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Sequence

import open_clip
import torch

from ..exceptions import ModelLoadError
from ._loaded import LoadedEncoder
from ._open_clip_weights import (
    HF_HUB_PREFIX,
    LOCAL_DIR_PREFIX,
    OFFLINE_HINT,
    check_model_name,
    hf_hub_checkpoint,
    local_dir_checkpoints,
    resolve_pretrained,
)
from ._safety import file_fingerprint, verify_checkpoint


class OpenClipEncoder(LoadedEncoder):
    """An open_clip model, its tokenizer and preprocessing, in eval mode on one device.

    Build it with :func:`skclip_sage.encoders.load_encoder` rather than directly.

    Parameters
    ----------
    model : torch.nn.Module
        An open_clip CLIP model.
    tokenizer : callable
        The model's open_clip tokenizer.
    preprocess : callable
        PIL image -> input tensor (open_clip's evaluation transform).
    identity, device, precision
        Names the model and weights (the cache key); the ``torch.device`` it lives
        on; the autocast precision (see :class:`~skclip_sage.encoders.LoadedEncoder`).
    """

    def __init__(self, model, tokenizer, preprocess, *, identity: str, device: torch.device, precision: str = "auto"):
        super().__init__(model, preprocess, identity=identity, device=device, precision=precision)
        self.tokenizer = tokenizer
        self.logit_scale = float(model.logit_scale.detach().exp().cpu())
        self.context_length = int(getattr(tokenizer, "context_length", 77))
        self.embedding_dim = int(self.encode_text(["a"]).shape[1])

    def _text_features(self, texts: list) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer(texts).to(self.device))

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """Tokens per text including start and end tokens, or None if unknown."""
        clean = getattr(self.tokenizer, "clean_fn", None)
        if clean is None or not hasattr(self.tokenizer, "encode"):
            return None
        return [len(self.tokenizer.encode(clean(text))) + 2 for text in texts]


def load(model: str, pretrained: str | None, *, device: torch.device, cache_dir: str | None) -> OpenClipEncoder:
    """Load an open_clip model by name and tag, checkpoint file, ``hf-hub:`` or ``local-dir:``.

    Every weights file is checked by :func:`verify_checkpoint` before open_clip
    reads it, so open_clip's own loader only ever sees files that load safely.
    """
    if model.startswith(LOCAL_DIR_PREFIX):
        checkpoints = local_dir_checkpoints(model[len(LOCAL_DIR_PREFIX) :])
        for checkpoint in checkpoints:
            verify_checkpoint(checkpoint)
        folder = Path(model[len(LOCAL_DIR_PREFIX) :]).expanduser().resolve()
        identity = "|".join([f"{LOCAL_DIR_PREFIX}{folder}"] + [file_fingerprint(path) for path in checkpoints])
        model_id, pretrained = f"{LOCAL_DIR_PREFIX}{folder}", None
    elif model.startswith(HF_HUB_PREFIX):
        checkpoint = hf_hub_checkpoint(model[len(HF_HUB_PREFIX) :], cache_dir)
        verify_checkpoint(checkpoint)
        identity, model_id, pretrained = model, model, None
    else:
        check_model_name(model)
        checkpoint = resolve_pretrained(model, pretrained, cache_dir)
        if checkpoint is not None:
            verify_checkpoint(checkpoint)
        if checkpoint is None:
            # Random weights differ at every load: never let two loads share caches.
            identity = f"{model}|random-init-{uuid.uuid4().hex}"
        elif checkpoint == pretrained:
            identity = f"{model}|{file_fingerprint(checkpoint)}"
        else:
            identity = f"{model}|{pretrained}"
        model_id = model
    try:
        network, _, preprocess = open_clip.create_model_and_transforms(
            model_id, pretrained=pretrained or None, device=device, cache_dir=cache_dir
        )
        tokenizer = open_clip.get_tokenizer(model_id, cache_dir=cache_dir)
    except Exception as err:
        hint = f" {OFFLINE_HINT}" if model.startswith(HF_HUB_PREFIX) else ""
        raise ModelLoadError(
            f"open_clip could not build model {model!r} (pretrained={pretrained!r}): {err}.{hint}"
        ) from err
    network.eval()
    return OpenClipEncoder(network, tokenizer, preprocess, identity=identity, device=device)


def save_local_dir(folder, model: torch.nn.Module, model_cfg: dict, preprocess_cfg: dict | None = None) -> str:
    """Write an open_clip model as a ``local-dir:`` folder for offline use.

    Parameters
    ----------
    folder : path-like
        Created if needed; receives ``open_clip_config.json`` and
        ``open_clip_model.safetensors``.
    model : torch.nn.Module
        The open_clip model whose weights to save.
    model_cfg : dict
        The open_clip model configuration (``embed_dim``, ``vision_cfg``, ``text_cfg``),
        e.g. ``open_clip.get_model_config("ViT-B-32")``.
    preprocess_cfg : dict, default=None
        Optional preprocessing overrides (``mean``, ``std``, ``interpolation``...).

    Returns
    -------
    model : str
        ``"local-dir:<folder>"``, ready to pass as ``model=``.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg or {}}
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    return f"{LOCAL_DIR_PREFIX}{folder.resolve()}"
