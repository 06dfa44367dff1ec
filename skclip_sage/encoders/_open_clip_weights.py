"""Resolve open_clip model names, pretrained tags, ``hf-hub:`` repositories and ``local-dir:`` folders to files.

The files found here are checked by :func:`~skclip_sage.encoders._safety.verify_checkpoint`
before open_clip reads them.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import open_clip

from ..exceptions import ModelLoadError
from ._backends import LOCAL_DIR
from ._messages import FAIL_FAST_HINT, sentence

# The files open_clip's local-dir loader picks weights from.
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pth")

OFFLINE_HINT = (
    "If this machine is offline, either pass cache_dir= pointing at a folder where the weights were "
    "downloaded before (the Hugging Face cache layout), or save the model as a folder holding "
    "open_clip_config.json and open_clip_model.safetensors and pass model='local-dir:/path/to/folder'. "
    + FAIL_FAST_HINT
)


def check_model_name(name: str) -> None:
    """Raise a ModelLoadError listing close matches when open_clip has no such model."""
    available = open_clip.list_models()
    if name.replace("/", "-") in available:
        return
    close = difflib.get_close_matches(name, available, n=5, cutoff=0.5)
    suggestion = f" Did you mean {close}?" if close else ""
    if name.count("/") == 1 and not name.startswith(("/", ".", "~")):
        # "org/repo" is how Hugging Face names models; open_clip names have no slash.
        suggestion = (
            f" {name!r} looks like a Hugging Face model id: pass model='transformers:{name}' for a "
            f"transformers checkpoint, or model='hf-hub:{name}' for an open_clip one."
        )
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
            f"Could not download the weights {name!r}/{pretrained!r}: {sentence(err)} {OFFLINE_HINT}"
        ) from err


def local_dir_checkpoints(identifier: str) -> list[Path]:
    """The candidate weight files of a ``local-dir:`` folder, after checking its config."""
    folder = Path(identifier).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ModelLoadError(
            f"model='{LOCAL_DIR}{identifier}': folder {str(folder.absolute())!r} {what}; a local-dir: model "
            "is a folder holding open_clip_config.json and the weights (see save_local_dir)."
        )
    if not (folder / "open_clip_config.json").is_file():
        raise ModelLoadError(
            f"model='{LOCAL_DIR}{identifier}': {str(folder / 'open_clip_config.json')!r} is missing; "
            "a local-dir folder holds open_clip_config.json (with 'model_cfg') and the weights, e.g. "
            "open_clip_model.safetensors."
        )
    # By the end of the name, as open_clip globs them: a file named just ".bin" has no
    # suffix for pathlib, yet open_clip would load it, so it must be checked too.
    checkpoints = sorted(
        path for path in folder.iterdir() if path.is_file() and path.name.endswith(CHECKPOINT_SUFFIXES)
    )
    if not checkpoints:
        # open_clip would build the model with random weights and only log a warning.
        raise ModelLoadError(
            f"model='{LOCAL_DIR}{identifier}': folder {str(folder)!r} has a config but no weights; "
            "expected open_clip_model.safetensors (or open_clip_pytorch_model.bin, model.safetensors, "
            "pytorch_model.bin: any *.safetensors, *.bin or *.pth file). Save the model with "
            "skclip_sage.encoders.save_local_dir, or pass the model name with pretrained=None if random "
            "weights are what you want."
        )
    return checkpoints


def hf_hub_checkpoint(identifier: str, cache_dir: str | None) -> str:
    """Fetch (or find in the cache) the weights of an ``hf-hub:`` model."""
    try:
        return open_clip.pretrained.download_pretrained_from_hf(identifier, cache_dir=cache_dir)
    except Exception as err:
        raise ModelLoadError(
            f"Could not fetch the weights of 'hf-hub:{identifier}': {sentence(err)} {OFFLINE_HINT}"
        ) from err
