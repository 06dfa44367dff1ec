"""Models behind one small interface; the only package that imports torch and open_clip.

Names load on first access, so using an injected encoder object (or importing the
protocol) never imports torch.
"""

import importlib

__all__ = [
    "OpenClipEncoder",
    "OutOfMemoryBackoff",
    "PRECISIONS",
    "TextImageEncoder",
    "clear_encoder_cache",
    "encoder_load_count",
    "load_encoder",
    "resolve_device",
    "save_local_dir",
]

_HOMES = {
    "OpenClipEncoder": "._open_clip",
    "OutOfMemoryBackoff": "._batching",
    "PRECISIONS": "._precision",
    "TextImageEncoder": "._protocol",
    "clear_encoder_cache": "._registry",
    "encoder_load_count": "._registry",
    "load_encoder": "._registry",
    "resolve_device": "._device",
    "save_local_dir": "._open_clip",
}


def __getattr__(name):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
