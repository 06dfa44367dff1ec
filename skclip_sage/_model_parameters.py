"""The model parameters every estimator that loads a model shares: constraints and model forms, written once.

Merged into each estimator's ``_parameter_constraints`` as scikit-learn shares its
own (``{**MODEL_CONSTRAINTS, ...}``): the classifier and the debiasers take a text
model (``TEXT_MODEL_CONSTRAINTS``); the embedder an image model with the same
``pretrained``, ``device``, ``precision``, ``batch_size`` and ``cache_dir``.
"""

from __future__ import annotations

import os
from numbers import Integral

from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .encoders import PRECISIONS, model_forms
from .utils._docstrings import code_terms_list, fill_docstring

__all__ = ["MODEL_CONSTRAINTS", "MODEL_FORMS", "TEXT_MODEL_CONSTRAINTS", "fill_model_forms"]

MODEL_FORMS = code_terms_list(model_forms())
"""The model strings the table of backends takes, as a list for a ``model`` parameter's description.

Filled into docstrings with :func:`~skclip_sage.utils._docstrings.fill_docstring`
(``%(model_forms)s``), so a new backend shows in every docstring that takes a model.
"""

fill_model_forms = fill_docstring(model_forms=MODEL_FORMS)
"""Class decorator filling ``%(model_forms)s`` with :data:`MODEL_FORMS` (a None docstring, under -OO, is left)."""

MODEL_CONSTRAINTS = {
    "pretrained": [str, os.PathLike, None],
    "device": [str],
    "precision": [StrOptions(set(PRECISIONS))],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "cache_dir": [str, os.PathLike, None],
}
"""How a model is loaded and run: weights, device, precision, batch, cache folder."""

TEXT_MODEL_CONSTRAINTS = {
    "model": [str, HasMethods(["encode_text"])],
    **MODEL_CONSTRAINTS,
    "truncate": ["boolean"],
}
"""A text model (an open_clip name, a model string or an object with ``encode_text``) and its prompts' truncation."""
