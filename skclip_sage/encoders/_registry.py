"""One loaded model per process and configuration, shared by all estimators.

A pipeline of ``ClipImageEmbedder`` and ``SageZeroShotClassifier`` with the same
``model``, ``pretrained`` and device loads the weights once; so does every fit
of a grid search.
"""

from __future__ import annotations

import threading

from ..exceptions import ModelLoadError
from ._protocol import IMAGE_METHODS, TEXT_METHODS, missing_members

_LOADED: dict = {}
_LOCK = threading.Lock()
_STATISTICS = {"loads": 0}


def load_encoder(model, pretrained=None, *, device="auto", precision="auto", cache_dir=None, needs_images=False):
    """Return a ready encoder for ``model``, loading it at most once per process.

    Parameters
    ----------
    model : str or TextImageEncoder
        An open_clip model name (``"ViT-B-32"``), ``"local-dir:/path"``,
        ``"hf-hub:org/repo"``, or an encoder object, returned as it is.
    pretrained : str or None, default=None
        For a model name: a weights tag (``"laion2b_s34b_b79k"``), a local checkpoint
        file, or None for random weights. Ignored for ``local-dir:`` and ``hf-hub:``.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
    cache_dir : str or None, default=None
        Where open_clip looks for (and stores) downloaded weights.
    needs_images : bool, default=False
        Also require the image side of the protocol from an encoder object.

    Returns
    -------
    encoder : TextImageEncoder
    """
    if not isinstance(model, str):
        required = TEXT_METHODS + (IMAGE_METHODS if needs_images else ())
        missing = missing_members(model, required)
        if missing:
            raise ModelLoadError(
                f"model must be an open_clip model name or an object implementing the TextImageEncoder "
                f"protocol; {type(model).__name__} lacks {missing}."
            )
        return model
    from ._device import resolve_device

    resolved = resolve_device(device)
    if model.startswith(("local-dir:", "hf-hub:")):
        pretrained = None  # ignored for these: the weights come with the model
    key = (model, pretrained, str(resolved), None if cache_dir is None else str(cache_dir))
    with _LOCK:
        if key not in _LOADED:
            from ._open_clip import load_open_clip

            _LOADED[key] = load_open_clip(model, pretrained, device=resolved, cache_dir=cache_dir)
            _STATISTICS["loads"] += 1
        encoder = _LOADED[key]
    return encoder.with_precision(precision)


def clear_encoder_cache() -> None:
    """Forget every loaded model, releasing its memory once no estimator uses it."""
    with _LOCK:
        _LOADED.clear()


def encoder_load_count() -> int:
    """How many models this process has loaded from disk so far."""
    return _STATISTICS["loads"]
