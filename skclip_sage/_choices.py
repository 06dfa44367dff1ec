"""The string choices of the estimators' policy parameters, defined once.

The estimators' parameter checks, the encoders and the command line all read
them from here, so a new choice cannot reach one and miss another. Plain
Python: importing it never loads torch.
"""

SELECTIONS = ("sage", "ensemble", "single", "random", "text")
"""Template-selection modes of :class:`~skclip_sage.SageZeroShotClassifier`."""

SELECTIONS_USING_K = ("sage", "random", "text")
"""The selection modes that keep ``k`` templates; the others ignore ``k``."""

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
"""Autocast precisions of a model's forward passes."""

ON_ERROR = ("raise", "warn")
"""What :class:`~skclip_sage.ClipImageEmbedder` does with unreadable images."""
