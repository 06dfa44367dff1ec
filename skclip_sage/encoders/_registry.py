"""Model strings to loaded models: one loaded model per process and configuration.

A model string's scheme picks its backend from the table in ``_backends.py``; a
backend is one module with ``load(model, pretrained, *, device, cache_dir)`` plus
one entry there.
A pipeline of ``ClipImageEmbedder`` and ``SageZeroShotClassifier`` with the same
``model``, ``pretrained`` and device loads the weights once; so does every fit
of a grid search.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import time

from ..exceptions import ModelLoadError
from ..utils._docstrings import code_terms_list, fill_docstring
from ._backends import (
    absolute_model,
    backend_for,
    folder_backends,
    looks_like_a_path,
    model_forms,
    schemes_ignoring_pretrained,
)
from ._hub import offline_unless_reachable
from ._protocol import check_encoder
from ._safety import file_fingerprint, folder_fingerprint

LOGGER = logging.getLogger("skclip_sage")

_LOADED: dict = {}
_LOCK = threading.Lock()
_STATISTICS = {"loads": 0}


def model_location(model: str, pretrained=None) -> str | None:
    """The folder or checkpoint file on this machine that ``model`` loads its weights from, or None.

    A ``local-dir:`` or ``transformers:`` folder (made absolute), or a checkpoint file
    given as ``pretrained`` with an open_clip name; None for weights tags, hub ids and
    anything that does not exist here. Loaded models are keyed on its fingerprint, and
    the command line refuses to write over its files.

    Parameters
    ----------
    model : str
        A model string.
    pretrained : str, path-like or None, default=None
        Ignored by the schemes whose string carries the weights.

    Returns
    -------
    location : str or None

    Examples
    --------
    >>> model_location("ViT-B-32", "laion2b_s34b_b79k") is None  # a tag: the weights live in a cache
    True
    """
    model = absolute_model(model)
    backend = backend_for(model)
    if backend.folder_marker is not None:
        folder = model[len(backend.scheme) :]
        return folder if os.path.isdir(folder) else None
    if pretrained and not backend_for(model).ignores_pretrained:
        checkpoint = os.path.expanduser(os.fspath(pretrained))
        return checkpoint if os.path.isfile(checkpoint) else None
    return None


def model_record(model: str, pretrained=None) -> dict:
    """What a model string loads, as a report records it.

    Parameters
    ----------
    model : str
        A model string, as given (a relative or bare folder is resolved here).
    pretrained : str, path-like or None, default=None
        As given; recorded only where the backend uses it.

    Returns
    -------
    record : dict
        ``model`` (resolved: a folder made absolute, with its scheme), ``pretrained``
        (None for the schemes whose weights come with the string, a checkpoint file
        made absolute), ``library``.

    Examples
    --------
    >>> model_record("hf-hub:org/repo", "laion2b_s34b_b79k")
    {'model': 'hf-hub:org/repo', 'pretrained': None, 'library': 'open_clip'}
    """
    model = absolute_model(model)
    backend = backend_for(model)
    if backend.ignores_pretrained or pretrained is None:
        pretrained = None
    elif os.path.isfile(os.path.expanduser(os.fspath(pretrained))):
        pretrained = os.path.abspath(os.path.expanduser(os.fspath(pretrained)))
    return {"model": model, "pretrained": pretrained, "library": backend.library}


@fill_docstring(model_forms=code_terms_list(model_forms()), ignoring=schemes_ignoring_pretrained())
def load_encoder(
    model,
    pretrained=None,
    *,
    device="auto",
    precision="auto",
    cache_dir=None,
    needs_text=True,
    needs_images=False,
    owner="model",
):
    """Return a ready encoder for ``model``, loading it at most once per process.

    Parameters
    ----------
    model : str or TextImageEncoder
        A model string in one of the forms of the table of backends
        (:func:`model_forms`; :func:`available_models` also lists the paper's
        backbones):

        %(model_forms)s

        or an encoder object, returned as it is once its members are checked.
    pretrained : str or None, default=None
        For an open_clip model name: a weights tag (``"laion2b_s34b_b79k"``), a local
        checkpoint file, or None for random weights. Ignored for %(ignoring)s (the
        weights come with the model).
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
    cache_dir : str or None, default=None
        Where downloaded weights are looked for and stored.
    needs_text, needs_images : bool, default=True, False
        Which sides of the protocol an encoder object must have.
    owner : str, default="model"
        Names the parameter in the error for an incomplete encoder object.

    Returns
    -------
    encoder : TextImageEncoder
    """
    if not isinstance(model, str):
        check_encoder(model, text=needs_text, images=needs_images, owner=owner)
        return model
    from ._device import resolve_device

    resolved = resolve_device(device)
    model = absolute_model(model)  # "local-dir:m" from another directory is another model
    backend = backend_for(model)
    if not backend.scheme and looks_like_a_path(model):  # a folder named like a model name does not shadow it
        raise ModelLoadError(_not_a_model_folder(model))
    if backend.ignores_pretrained:
        pretrained = None
    key = (model, pretrained, str(resolved), None if cache_dir is None else str(cache_dir))
    # Replacing a folder's weights or editing its configuration in a running process loads it again.
    location = model_location(model, pretrained)
    fingerprint = None
    if location is not None:
        fingerprint = folder_fingerprint(location) if os.path.isdir(location) else file_fingerprint(location)
    with _LOCK:
        stored = _LOADED.get(key)
        if stored is None or stored[0] != fingerprint:
            # New, or its files changed on disk since: (re)load, replacing the stale model.
            started = time.perf_counter()
            loader = importlib.import_module(backend.module, __package__).load
            # A weights tag, hf-hub: or a hub id may download: offline, say so in seconds, not a minute.
            # A plain open_clip name without pretrained weights downloads nothing, so it probes nothing.
            downloads = location is None and (backend.scheme or pretrained is not None)
            network = offline_unless_reachable() if downloads else contextlib.nullcontext()
            with network:
                loaded = _without_touching_the_rng(loader, resolved)(
                    model, pretrained, device=resolved, cache_dir=cache_dir
                )
            _LOADED[key] = stored = (fingerprint, loaded)
            _STATISTICS["loads"] += 1
            LOGGER.info(
                "loaded %s with %s on %s in %.2f s (identity %s)",
                model if pretrained is None else f"{model} ({pretrained})",
                backend.library,
                resolved,
                time.perf_counter() - started,
                loaded.identity,
            )
        encoder = stored[1]
    encoder = encoder.with_precision(precision)
    LOGGER.debug("model %s ready on %s, precision %s", model, resolved, encoder.resolved_precision)
    return encoder


def _not_a_model_folder(model: str) -> str:
    """Why a bare path, which no backend's folder layout matched, does not load, and what would."""
    folder = os.path.abspath(os.path.expanduser(model))
    layouts = " or ".join(
        f"{backend.folder_files} ({backend.library}, {backend.scheme}FOLDER)" for backend in folder_backends()
    )
    if os.path.isdir(folder):
        problem = f"folder {folder!r} holds no model: a model folder holds {layouts}"
    elif os.path.exists(folder):
        problem = (
            f"{folder!r} is a file, not a model folder (one holding {layouts}); a checkpoint file goes in pretrained="
        )
    else:
        problem = f"folder {folder!r} does not exist (model={model!r} is read as a path, relative to {os.getcwd()!r})"
    hub = ""
    if model.count("/") == 1 and not model.startswith((".", "/", "~")):
        hub = (
            f" If you meant the Hugging Face model id, pass model='transformers:{model}' for a transformers "
            f"checkpoint, or model='hf-hub:{model}' for an open_clip one."
        )
    return f"model={model!r}: {problem}.{hub}"


def _without_touching_the_rng(loader, device):
    """``loader`` run inside ``torch.random.fork_rng``: building a model initialises random
    weights before loading the real ones, which would advance the caller's global RNG."""
    import torch

    def load(*args, **kwargs):
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            return loader(*args, **kwargs)

    return load


def clear_encoder_cache() -> None:
    """Forget every loaded model, releasing its memory once no estimator uses it."""
    with _LOCK:
        _LOADED.clear()


def encoder_load_count() -> int:
    """How many models this process has loaded from disk so far."""
    return _STATISTICS["loads"]
