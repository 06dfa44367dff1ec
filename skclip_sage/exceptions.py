"""Exceptions and warnings raised by skclip-sage.

Every error names the thing that went wrong and how to fix it; every warning is a
subclass of :class:`SkclipSageWarning` so it can be filtered as a group.
"""

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "CacheWriteWarning",
    "DeviceFallbackWarning",
    "DuplicatePromptWarning",
    "ImageLoadError",
    "InvalidCacheEntryWarning",
    "ModelLoadError",
    "NonFiniteRowsWarning",
    "NotFittedError",
    "NumericClassNamesWarning",
    "PromptTruncationWarning",
    "RankDeficientConceptsWarning",
    "SkclipSageError",
    "SkclipSageWarning",
    "SkippedImagesWarning",
    "UnreadableImagesError",
    "ZeroNormEmbeddingWarning",
]


NON_FINITE_REASON = "the model returned a non-finite embedding (NaN or infinity)"
"""The failure reason of a readable image whose embedding came out NaN or infinite."""


class SkclipSageError(Exception):
    """Base class of the errors specific to skclip-sage."""


class NotFittedError(SkclipSageError, _SklearnNotFittedError):
    """An estimator was used before ``fit``; also a scikit-learn ``NotFittedError``."""


class ImageLoadError(SkclipSageError, OSError):
    """An image could not be opened or decoded.

    Parameters
    ----------
    path : str
        The file (or a description such as ``"<PIL image at position 3>"``) that failed.
    reason : str
        Why it failed, e.g. ``"cannot identify image file"``.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = str(reason)
        super().__init__(f"could not read image {self.path!r}: {self.reason}")

    def __reduce__(self):
        # OSError pickles its args positionally; keep (path, reason) so the error
        # survives a trip through joblib or Dask workers.
        return type(self), (self.path, self.reason)


class UnreadableImagesError(ImageLoadError):
    """Several images of one call could not be read (``on_error="raise"``).

    Parameters
    ----------
    message : str
        The full message, listing the first failures and the fix.
    failures : list of (int, str, str)
        ``(position, path or description, reason)`` of every failure.
    """

    def __init__(self, message, failures):
        self.failures = list(failures)
        _, path, reason = self.failures[0]
        SkclipSageError.__init__(self, message)
        self.path, self.reason = path, reason
        self.message = message

    def __str__(self):
        return self.message

    def __reduce__(self):
        return type(self), (self.message, self.failures)


class ModelLoadError(SkclipSageError, ValueError):
    """A CLIP model or its weights could not be loaded (unknown name, bad file, offline)."""


class SkclipSageWarning(UserWarning):
    """Base class of the warnings specific to skclip-sage."""


class SkippedImagesWarning(SkclipSageWarning):
    """Some images could not be read and were replaced by NaN rows (``on_error="warn"``).

    Attributes
    ----------
    failures : list of (int, str, str)
        ``(position, path or description, reason)`` of every unreadable image.
    """

    def __init__(self, message, failures=()):
        super().__init__(message)
        self.failures = list(failures)


class NonFiniteRowsWarning(SkclipSageWarning):
    """Rows of ``X`` hold NaN or infinity and were carried through as NaN (``on_nan="propagate"``).

    Attributes
    ----------
    rows : list of int
        The positions of those rows in the call's ``X``.
    """

    def __init__(self, message, rows=()):
        super().__init__(message)
        self.rows = list(rows)

    def __reduce__(self):
        return type(self), (str(self), self.rows)


class PromptTruncationWarning(SkclipSageWarning):
    """Some prompts were longer than the text encoder's context and were truncated."""


class DuplicatePromptWarning(SkclipSageWarning):
    """Several class names produce the same prompt once tokenized (e.g. ``"Cat"`` and ``"cat"``)."""


class NumericClassNamesWarning(SkclipSageWarning):
    """Class labels are numbers and no ``class_names`` were given, so prompts read "a photo of a 3."."""


class ZeroNormEmbeddingWarning(SkclipSageWarning):
    """Some embedding rows have zero norm; their class scores are uniform."""


class RankDeficientConceptsWarning(SkclipSageWarning):
    """Concept texts span fewer directions than were given; the null ones were dropped.

    Pairs drawn from ``n`` texts span at most ``n - 1`` directions, and two texts
    may encode alike. The debiasing methods of :mod:`skclip_sage.debias` keep only
    directions above a tolerance instead of the round-off directions a plain QR
    decomposition would return.
    """


class DeviceFallbackWarning(SkclipSageWarning):
    """The requested device is not available here; computation falls back to the CPU."""


class CacheWriteWarning(SkclipSageWarning):
    """A ``cache_dir`` could not be written (read-only, full disk, not a folder).

    The results were computed and are returned; they are just not kept, so the
    next run computes them again.
    """


class InvalidCacheEntryWarning(SkclipSageWarning):
    """Cached entries failed their checks on read and were recomputed.

    An entry is checked for the shape and dtype expected, finite values, unit
    norm and the model that made it; one that fails is never returned.
    """
