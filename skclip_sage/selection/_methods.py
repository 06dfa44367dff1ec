"""The template-selection modes, named once.

The estimators' parameter checks, the scoring and the command line all read
them from here, so a new mode cannot reach one and miss another.
"""

SELECTIONS = ("sage", "ensemble", "single", "random", "text")
"""Template-selection modes of :class:`~skclip_sage.SageZeroShotClassifier`."""

SELECTIONS_USING_K = ("sage", "random", "text")
"""The selection modes that keep ``k`` templates; the others ignore ``k``."""
