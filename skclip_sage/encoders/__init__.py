"""Models behind one small interface; the only package that imports torch, open_clip and transformers.

A backend (open_clip, transformers) is one module plus one entry of the
registry's table, chosen by the model string's scheme. Names load on first
access, so using an injected encoder object (or importing the protocol) never
imports torch, and transformers is imported only for a ``transformers:`` model.
"""

import importlib

__all__ = [
    "BACKENDS",
    "LoadedEncoder",
    "OpenClipEncoder",
    "OutOfMemoryBackoff",
    "PAPER_BACKBONES",
    "PRECISIONS",
    "TextImageEncoder",
    "TransformersEncoder",
    "absolute_model",
    "available_models",
    "check_encoder",
    "clear_encoder_cache",
    "compute_device",
    "encoder_load_count",
    "load_encoder",
    "model_forms",
    "model_location",
    "model_record",
    "resolve_device",
    "save_local_dir",
    "sigmoid_scores",
    "verify_checkpoint",
]

_HOMES = {
    "BACKENDS": "._backends",
    "LoadedEncoder": "._loaded",
    "OpenClipEncoder": "._open_clip",
    "OutOfMemoryBackoff": "._batching",
    "PAPER_BACKBONES": "._catalogue",
    "PRECISIONS": "._precision",
    "TextImageEncoder": "._protocol",
    "TransformersEncoder": "._transformers",
    "absolute_model": "._backends",
    "available_models": "._catalogue",
    "check_encoder": "._protocol",
    "clear_encoder_cache": "._registry",
    "compute_device": "._device",
    "encoder_load_count": "._registry",
    "load_encoder": "._registry",
    "model_forms": "._backends",
    "model_location": "._registry",
    "model_record": "._registry",
    "resolve_device": "._device",
    "save_local_dir": "._open_clip",
    "sigmoid_scores": "._transformers",
    "verify_checkpoint": "._safety",
}


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
