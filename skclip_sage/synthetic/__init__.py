"""Simulated multimodal spurious bias, at the level of embeddings.

:func:`make_spurious_bias` draws image embeddings whose core and spurious features
are known, and prompt embeddings that leak the spurious concept by a chosen amount
per template; :func:`make_spurious_benchmark` offers named regimes where SAGE's
premise holds (``"theory_holds"``), where its known weakness bites
(``"confidently_wrong"``) and a control (``"no_leakage"``). The simulation's
``encoder`` plugs into :class:`~skclip_sage.SageZeroShotClassifier` as ``model=``,
so the real estimator code runs on it; it also embeds the simulation's ``concepts``
(texts along its spurious and core directions) for the :mod:`skclip_sage.debias`
methods, and ``n_train_samples`` draws a separate training split for TIE*.
"""

from ._encoder import SimulatedTextEncoder
from ._regimes import REGIMES, make_spurious_benchmark
from ._simulator import make_spurious_bias

__all__ = [
    "REGIMES",
    "SimulatedTextEncoder",
    "make_spurious_benchmark",
    "make_spurious_bias",
]
