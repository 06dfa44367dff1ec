"""Input checks of SageZeroShotClassifier that need no estimator: images given as X, seeds, nan_label types."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np

__all__ = ["refuse_images", "same_kind", "seed_of"]


def same_kind(dtype, label) -> bool:
    """Whether ``label`` joins an array of ``dtype`` without changing its kind (int stays int, str stays str)."""
    if isinstance(label, (bool, np.bool_)):
        return False  # a bool would be stored as 0/1 among numbers
    types = {"i": (Integral,), "f": (Real,), "U": (str,), "S": (bytes,)}[dtype.kind]
    return isinstance(label, types)


def refuse_images(X, method):
    """Say where images go when paths or pictures reach the classifier, which takes embeddings.

    Without this numpy answers "could not convert string to float"; only the first
    item is looked at, so a numeric ``X`` costs nothing.
    """
    if isinstance(X, (str, os.PathLike, bytes)):
        first = X
    elif isinstance(X, np.ndarray):
        first = X.flat[0] if X.dtype.kind in "OUS" and X.size else None
    elif hasattr(X, "iloc"):  # pandas
        first = X.iloc[0, 0] if getattr(X, "ndim", 1) == 2 and X.size else X.iloc[0] if len(X) else None
    elif isinstance(X, (list, tuple)) and X:
        first = X[0][0] if isinstance(X[0], (list, tuple)) and X[0] else X[0]
    else:
        first = None
    is_image = type(first).__module__.startswith("PIL.") or isinstance(first, (str, os.PathLike, bytes))
    if is_image:
        raise ValueError(
            f"SageZeroShotClassifier.{method} takes image embeddings (numbers), but X holds "
            f"{type(first).__name__} items such as {first!r:.80}: images or their paths. Embed them first with "
            "ClipImageEmbedder, e.g. make_pipeline(ClipImageEmbedder(model), SageZeroShotClassifier(model, ...))."
        )


def seed_of(random_state) -> int:
    """One seed per fit, so every later call of ``selection="random"`` replays the same draws.

    An int is its own seed; a RandomState or Generator gives one draw; None takes
    fresh entropy from the operating system (never the global NumPy state).
    """
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(np.random.SeedSequence().entropy)
