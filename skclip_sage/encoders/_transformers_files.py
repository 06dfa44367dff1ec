"""Resolve a ``transformers:`` model string to a local folder with safe weights, and name it.

``transformers:/path/to/folder`` is a ``save_pretrained`` folder, read with no
network. ``transformers:org/repo`` (optionally ``@revision``) is fetched through
the Hugging Face cache (``cache_dir``, ``HF_HOME``, ``HF_HUB_OFFLINE`` all apply),
safetensors first: a ``.bin`` checkpoint is downloaded only when the repository
has no safetensors, and is checked with ``torch.load(weights_only=True)`` before
transformers reads it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from ..exceptions import ModelLoadError
from ._backends import TRANSFORMERS
from ._messages import FAIL_FAST_HINT, sentence
from ._safety import folder_fingerprint, verify_checkpoint

SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
TORCH_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
# Everything a model needs except weights: configs, tokenizer and processor files.
SUPPORT_PATTERNS = ["*.json", "*.txt", "*.model", "*.tiktoken"]


def offline_recipe(model: str) -> str:
    """How to make ``model`` loadable on a machine with no network."""
    name = model[len(TRANSFORMERS) :] if model.startswith(TRANSFORMERS) else model
    return (
        f"To use it offline, save it once where there is network: "
        f"transformers.AutoModel.from_pretrained({name!r}).save_pretrained(folder) and "
        f"transformers.AutoProcessor.from_pretrained({name!r}).save_pretrained(folder), then pass "
        "model='transformers:/path/to/folder'; or copy the Hugging Face cache (cache_dir= or HF_HOME) and set "
        f"HF_HUB_OFFLINE=1. {FAIL_FAST_HINT}"
    )


class ResolvedModel(NamedTuple):
    """A ``transformers:`` model found on disk.

    Attributes
    ----------
    folder : pathlib.Path
        The ``save_pretrained`` folder or the cached snapshot.
    identity : str
        The model string with the resolved revision (hub) or the folder's fingerprint.
    model_type : str
        ``config.json``'s ``model_type`` (``"clip"``, ``"siglip"``...).
    safetensors : bool
        Whether the weights are safetensors (else verified ``.bin`` files).
    """

    folder: Path
    identity: str
    model_type: str
    safetensors: bool


def resolve_transformers_model(model: str, cache_dir: str | None) -> ResolvedModel:
    """Find (or fetch into the cache) the folder of a ``transformers:`` model and check its weights."""
    name = model[len(TRANSFORMERS) :]
    if not name:
        raise ModelLoadError(
            "model='transformers:' names no model; pass 'transformers:org/repo' (a Hugging Face model id) or "
            "'transformers:/path/to/folder' (a save_pretrained folder)."
        )
    folder = Path(name).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        safetensors = _check_weights(model, folder)
        identity = f"{TRANSFORMERS}{folder}|{folder_fingerprint(folder)}"
    elif folder.exists() or _looks_like_a_path(name):
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ModelLoadError(f"model={model!r}: folder {str(folder.absolute())!r} {what}. {offline_recipe(model)}")
    else:
        repo, _, revision = name.partition("@")
        folder = _fetch(model, repo, revision or None, cache_dir)
        safetensors = _check_weights(model, folder)
        # Cached snapshots are named by their commit: the identity pins the exact weights.
        identity = f"{TRANSFORMERS}{repo}@{folder.name}"
    return ResolvedModel(folder, identity, _model_type(model, folder), safetensors)


def _looks_like_a_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") != 1


def _fetch(model: str, repo: str, revision: str | None, cache_dir: str | None) -> Path:
    from huggingface_hub import snapshot_download

    def download(patterns):
        return Path(
            snapshot_download(repo, revision=revision, cache_dir=cache_dir, allow_patterns=SUPPORT_PATTERNS + patterns)
        )

    try:
        # transformers' own weight names only: a repository may also hold open_clip or
        # other libraries' weights, gigabytes this backend would never read.
        folder = download(["model*.safetensors"])
        if not _present(folder, SAFE_WEIGHTS):
            folder = download(["pytorch_model*.bin"])
    except Exception as err:
        raise ModelLoadError(
            f"Could not load model={model!r}: it is not a local folder, and fetching the Hugging Face model "
            f"{repo!r}{'' if revision is None else f' at revision {revision!r}'} failed: {sentence(err)} "
            f"{offline_recipe(model)}"
        ) from err
    return folder


def _present(folder: Path, names) -> list[Path]:
    return [folder / name for name in names if (folder / name).is_file()]


def _check_weights(model: str, folder: Path) -> bool:
    """Verify every weight file; True for safetensors. A folder without weights is refused."""
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"model={model!r}: {str(folder / 'config.json')!r} is missing; a transformers folder is what "
            f"save_pretrained writes (config.json, weights, tokenizer and processor files). {offline_recipe(model)}"
        )
    for names, safetensors in ((SAFE_WEIGHTS, True), (TORCH_WEIGHTS, False)):
        found = _present(folder, names)
        if found:
            for path in _shards(found[0]):
                verify_checkpoint(path)
            return safetensors
    # transformers would otherwise build the model with random weights and only log it.
    raise ModelLoadError(
        f"model={model!r}: folder {str(folder)!r} has a config but no weights; expected "
        f"{' or '.join(SAFE_WEIGHTS + TORCH_WEIGHTS)}. Save the model with save_pretrained into this folder."
    )


def _shards(path: Path) -> list[Path]:
    """The weight files behind ``path``: itself, or the shards its ``.index.json`` lists."""
    if not path.name.endswith(".index.json"):
        return [path]
    try:
        weight_map = json.loads(path.read_text())["weight_map"]
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"Weights index {str(path)!r} is not a valid index file: {err}") from err
    return [path.parent / shard for shard in sorted(set(weight_map.values()))]


def _model_type(model: str, folder: Path) -> str:
    try:
        return str(json.loads((folder / "config.json").read_text())["model_type"])
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"model={model!r}: {str(folder / 'config.json')!r} has no readable model_type.") from err
