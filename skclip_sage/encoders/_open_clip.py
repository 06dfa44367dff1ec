"""open_clip models behind the :class:`TextImageEncoder` interface."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path
from typing import Sequence

import open_clip
import torch

from ..exceptions import ModelLoadError
from ._backends import HF_HUB, LOCAL_DIR
from ._loaded import LoadedEncoder
from ._open_clip_weights import (
    OFFLINE_HINT,
    check_model_name,
    hf_hub_checkpoint,
    local_dir_checkpoints,
    resolve_pretrained,
)
from ._safety import file_fingerprint, folder_fingerprint, verify_checkpoint


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
        self.image_size = _input_side(model)
        self.embedding_dim = int(self.encode_text(["a"]).shape[1])

    def _text_features(self, texts: list) -> torch.Tensor:
        tokens = self.tokenizer(texts).to(self.device)
        tower = trimmable_text_tower(self.model)
        if tower is None:
            return self.model.encode_text(tokens)
        return trimmed_text_features(tower, tokens)

    def _image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def count_tokens(self, texts: Sequence[str]) -> list[int] | None:
        """Tokens per text including start and end tokens, or None if unknown."""
        clean = getattr(self.tokenizer, "clean_fn", None)
        if clean is None or not hasattr(self.tokenizer, "encode"):
            return None
        return [len(self.tokenizer.encode(clean(text))) + 2 for text in texts]


def _input_side(model) -> int | None:
    """The longest side of the model's input images (what the preprocessing resizes to), if known."""
    size = getattr(getattr(model, "visual", None), "image_size", None)
    if isinstance(size, (tuple, list)):
        return int(max(size))
    return int(size) if isinstance(size, int) else None


def trimmable_text_tower(model):
    """The module holding ``model``'s text transformer if its padding can be trimmed, else None.

    open_clip pads every prompt to the context length (77 tokens), although most
    prompts are a dozen tokens long. With a causal attention mask a token never
    attends to the padding after it, and ``argmax``/``eos`` pooling reads the
    end-of-text token, so cutting the padding after the batch's longest prompt
    gives the same features for a fraction of the work. Towers where that does not
    hold (last-token or class-token pooling, padding masks, no causal mask, other
    layouts such as Hugging Face text towers) return None and are run as they are.
    """
    tower = model if hasattr(model, "token_embedding") else getattr(model, "text", None)
    if tower is None or not all(
        hasattr(tower, name) for name in ("token_embedding", "positional_embedding", "transformer", "ln_final")
    ):
        return None
    pool = getattr(tower, "text_pool_type", getattr(tower, "pool_type", None))
    causal = isinstance(getattr(tower, "attn_mask", None), torch.Tensor)
    if pool not in ("argmax", "eos") or not causal:
        return None
    if getattr(tower, "cls_emb", None) is not None or getattr(tower, "use_pad_mask", False):
        return None
    return tower


def trimmed_text_features(tower, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's text forward on ``tokens`` cut after the batch's last end-of-text token.

    Parameters
    ----------
    tower : torch.nn.Module
        From :func:`trimmable_text_tower`.
    tokens : torch.Tensor of shape (n_texts, context_length)
        Padded token ids, as open_clip's tokenizer returns them.

    Returns
    -------
    features : torch.Tensor of shape (n_texts, embedding_dim)
        Unnormalised, as ``model.encode_text`` returns them.
    """
    from open_clip.transformer import text_global_pool

    pool = getattr(tower, "text_pool_type", getattr(tower, "pool_type", None))
    eos_id = getattr(tower, "text_eos_id", getattr(tower, "eos_id", None))
    end = tokens.argmax(dim=1) if pool == "argmax" else (tokens == eos_id).int().argmax(dim=1)
    length = int(end.max()) + 1
    tokens = tokens[:, :length]
    cast_dtype = tower.transformer.get_cast_dtype()
    x = tower.token_embedding(tokens).to(cast_dtype) + tower.positional_embedding[:length].to(cast_dtype)
    x = tower.transformer(x, attn_mask=tower.attn_mask[:length, :length])
    x = text_global_pool(tower.ln_final(x), tokens, pool, eos_token_id=eos_id)
    projection = tower.text_projection
    if projection is None:
        return x
    return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def load(model: str, pretrained: str | None, *, device: torch.device, cache_dir: str | None) -> OpenClipEncoder:
    """Load an open_clip model by name and tag, checkpoint file, ``hf-hub:`` or ``local-dir:``.

    Every weights file is checked by :func:`verify_checkpoint` before open_clip
    reads it, so open_clip's own loader only ever sees files that load safely.
    """
    if model.startswith(LOCAL_DIR):
        checkpoints = local_dir_checkpoints(model[len(LOCAL_DIR) :])
        for checkpoint in checkpoints:
            verify_checkpoint(checkpoint)
        folder = Path(model[len(LOCAL_DIR) :]).expanduser().resolve()
        # Every file: the configuration (preprocessing, quick_gelu) changes embeddings as the weights do.
        identity = f"{LOCAL_DIR}{folder}|{folder_fingerprint(folder)}"
        model_id, pretrained = f"{LOCAL_DIR}{folder}", None
    elif model.startswith(HF_HUB):
        checkpoint = hf_hub_checkpoint(model[len(HF_HUB) :], cache_dir)
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
        hint = f" {OFFLINE_HINT}" if model.startswith(HF_HUB) else ""
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
    config_path, weights_path = folder / "open_clip_config.json", folder / "open_clip_model.safetensors"
    config_path.write_text(json.dumps(config, indent=2))
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(weights_path))
    # safetensors creates its file private (0600) whatever the umask; give it the
    # config's permissions, so a folder saved for a team is readable as a whole.
    os.chmod(weights_path, stat.S_IMODE(config_path.stat().st_mode))
    return f"{LOCAL_DIR}{folder.resolve()}"
