"""Refuse unsafe checkpoint files, and fingerprint files and folders for cache keys.

Weights load only through safe paths: safetensors when available, otherwise
``torch.load(weights_only=True)``. A file that fails the safe load is rejected;
there is never a fallback to full pickle loading (which can run arbitrary code).
Every backend checks its weight files here before its own loader reads them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..exceptions import ModelLoadError


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
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelLoadError(
            f"Checkpoint {str(path)!r} cannot be loaded safely (torch.load with weights_only=True failed: "
            f"{err}). skclip-sage never falls back to unsafe pickle loading; convert the checkpoint to "
            "safetensors in an environment you trust."
        ) from err


def file_fingerprint(path: str | os.PathLike) -> str:
    """``path|inode|size|mtime|ctime``: changes whenever the file is replaced or edited.

    The inode and status-change time catch a same-size edit whose modification
    time was put back, and a replacement that kept it (``cp -p``, ``rsync -t``).
    """
    status = os.stat(path)
    return f"{os.path.realpath(path)}|{_file_state(status)}"


def folder_fingerprint(folder: str | os.PathLike) -> str:
    """A digest of every file in ``folder`` (names, inodes, sizes, modification and status-change times).

    Changes when any weight, config or tokenizer file is added, replaced or
    edited, without reading gigabytes of weights on every load. Folders tagged
    as caches (a ``CACHEDIR.TAG``, as every ``cache_dir`` folder of skclip-sage
    carries) are left out: a ``cache_dir`` inside the model's folder is not part
    of the model. Symbolic links to folders are not followed.
    """
    from ..io import is_cache_folder

    root = Path(folder)
    files = []
    for parent, folders, names in os.walk(root):
        # Pruned in place, so os.walk never descends into a cache.
        folders[:] = [name for name in folders if not is_cache_folder(os.path.join(parent, name))]
        files.extend(Path(parent, name) for name in names)
    digest = hashlib.sha256()
    for path in sorted(files):
        if path.is_file():
            digest.update(f"{path.relative_to(root)}|{_file_state(path.stat())}\n".encode())
    return digest.hexdigest()[:16]


def _file_state(status: os.stat_result) -> str:
    return f"{status.st_ino}|{status.st_size}|{status.st_mtime_ns}|{status.st_ctime_ns}"
