"""Robust zero-shot image classification with CLIP and SAGE prompt selection.

``import skclip_sage`` stays cheap: the estimators (and with them scikit-learn)
load on first attribute access, and torch only when a model is needed.
"""

import importlib

__version__ = "0.1.0"

__all__ = ["ClipImageEmbedder", "SageZeroShotClassifier", "zero_shot"]

_LAZY_ATTRIBUTES = {
    "ClipImageEmbedder": "skclip_sage._embedder",
    "SageZeroShotClassifier": "skclip_sage._classifier",
    "zero_shot": "skclip_sage._zero_shot",
}


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'skclip_sage' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
