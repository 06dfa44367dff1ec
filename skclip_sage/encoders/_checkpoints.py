"""Resolve model names and weights, and refuse unsafe checkpoint files.

Weights load only through safe paths: safetensors when available, otherwise
``torch.load(weights_only=True)``. A file that fails the safe load is rejected;
there is never a fallback to full pickle loading (which can run arbitrary code).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import open_clip
import torch

from ..exceptions import ModelLoadError

LOCAL_DIR_PREFIX = "local-dir:"
HF_HUB_PREFIX = "hf-hub:"
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")

OFFLINE_HINT = (
    "If this machine is offline, either pass cache_dir= pointing at a folder where the weights were "
    "downloaded before (the Hugging Face cache layout), or save the model as a folder holding "
    "open_clip_config.json and open_clip_model.safetensors and pass model='local-dir:/path/to/folder'. "
    "Set HF_HUB_OFFLINE=1 to fail at once instead of retrying the network for about a minute."
)


def verify_checkpoint(path: str | os.PathLike) -> None:
    """Check that a checkpoint file loads through a safe path.

    Parameters
    ----------
    path : path-like
        A ``.safetensors`` file (header checked) or a torch checkpoint
        (loaded with ``weights_only=True``).

    Raises
    ------
    ModelLoadError
        Naming the file, when it is missing, truncated or not loadable safely.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"Checkpoint file {str(path)!r} does not exist or is not a file.")
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as checkpoint:
                checkpoint.keys()
        except Exception as err:
            raise ModelLoadError(f"Checkpoint {str(path)!r} is not a valid safetensors file: {err}") from err
        return
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelLoadError(
            f"Checkpoint {str(path)!r} cannot be loaded safely (torch.load with weights_only=True failed: "
            f"{err}). skclip-sage never falls back to unsafe pickle loading; convert the checkpoint to "
            "safetensors in an environment you trust."
        ) from err


def check_model_name(name: str) -> None:
    """Raise a ModelLoadError listing close matches when open_clip has no such model."""
    available = open_clip.list_models()
    if name.replace("/", "-") in available:
        return
    close = difflib.get_close_matches(name, available, n=5, cutoff=0.5)
    suggestion = f" Did you mean {close}?" if close else ""
    raise ModelLoadError(
        f"Unknown open_clip model {name!r}.{suggestion} See open_clip.list_models() for all "
        f"{len(available)} names, or pass model='local-dir:/path' or 'hf-hub:org/repo'."
    )


def resolve_pretrained(name: str, pretrained: str | None, cache_dir: str | None) -> str | None:
    """Check ``pretrained`` for a built-in model and fetch its weights file.

    Returns the local checkpoint path to verify, or None for random weights.
    """
    if not pretrained:
        return None
    if os.path.isfile(pretrained):
        return pretrained
    tags = open_clip.list_pretrained_tags_by_model(name.replace("/", "-"))
    if pretrained not in tags:
        close = difflib.get_close_matches(pretrained, tags, n=3, cutoff=0.4)
        suggestion = f" Did you mean {close}?" if close else ""
        raise ModelLoadError(
            f"pretrained={pretrained!r} is neither a weights tag of {name!r} nor an existing checkpoint file."
            f"{suggestion} Tags for {name!r}: {tags}."
        )
    config = open_clip.get_pretrained_cfg(name.replace("/", "-"), pretrained)
    try:
        return open_clip.download_pretrained(config, cache_dir=cache_dir)
    except Exception as err:
        raise ModelLoadError(
            f"Could not download the weights {name!r}/{pretrained!r}: {_sentence(err)} {OFFLINE_HINT}"
        ) from err


def local_dir_checkpoints(identifier: str) -> list[Path]:
    """The candidate weight files of a ``local-dir:`` folder, after checking its config."""
    folder = Path(identifier).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(f"model='{LOCAL_DIR_PREFIX}{identifier}': folder {str(folder)!r} does not exist.")
    if not (folder / "open_clip_config.json").is_file():
        raise ModelLoadError(
            f"model='{LOCAL_DIR_PREFIX}{identifier}': {str(folder / 'open_clip_config.json')!r} is missing; "
            "a local-dir folder holds open_clip_config.json (with 'model_cfg') and the weights, e.g. "
            "open_clip_model.safetensors."
        )
    return sorted(path for path in folder.iterdir() if path.suffix in CHECKPOINT_SUFFIXES)


def hf_hub_checkpoint(identifier: str, cache_dir: str | None) -> str:
    """Fetch (or find in the cache) the weights of an ``hf-hub:`` model."""
    try:
        return open_clip.pretrained.download_pretrained_from_hf(identifier, cache_dir=cache_dir)
    except Exception as err:
        raise ModelLoadError(
            f"Could not fetch the weights of 'hf-hub:{identifier}': {_sentence(err)} {OFFLINE_HINT}"
        ) from err


def _sentence(err: Exception) -> str:
    """An exception's text ending in exactly one full stop."""
    return str(err).rstrip().rstrip(".") + "."


def file_fingerprint(path: str | os.PathLike) -> str:
    """``path|size|mtime``: changes whenever the file is replaced or edited."""
    status = os.stat(path)
    return f"{os.path.realpath(path)}|{status.st_size}|{status.st_mtime_ns}"
