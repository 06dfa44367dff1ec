"""A selection's fitted state: what ``fit`` learns for it, and scoring that reads only that.

The estimator hands over a ``selection=`` value (a name or a method object), the text
bank and, for a method that learns from images, the unlabelled unit rows; it gets back
one fitted state (a plain dict: ``key``, ``templates``, ``learned``, so a skops or pickle
file holds no type of ours) and later asks :func:`fitted_scores` for class scores. One
rule covers parameters changed after ``fit``: the state records what it was computed
for (``key``); while the current settings give the same key it is used as is,
otherwise what depends only on the text bank is chosen again from it and what was
learned from images asks for a new ``fit``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import NotFittedError
from ._methods import SELECTION_METHODS, check_k, selection_record
from ._prototypes import l2_normalize
from ._scoring import score_embeddings

__all__ = [
    "LEGACY_PARAMETERS",
    "fit_selection",
    "fitted_scores",
    "image_learner",
    "images_to_learn_from",
    "pool_templates",
    "resolve",
]

LEGACY_PARAMETERS = tuple(name for record in SELECTION_METHODS.values() for name in getattr(record, "options", ()))
"""The flat classifier parameters that set a method's option before method objects (deprecated)."""


def resolve(selection, flat=None, *, warn=False):
    """The record and the method object of a ``selection=`` value.

    Parameters
    ----------
    selection : str or SelectionOptions
    flat : dict, default=None
        The deprecated flat parameters (``LEGACY_PARAMETERS``) by name; None values
        are unset.
    warn : bool, default=False
        Give a ``FutureWarning`` for each flat parameter set (``fit`` does).

    Returns
    -------
    record : TemplateChoice or Aggregation
    method : SelectionOptions or None
        Checked; None for a template choice.
    """
    record = selection_record(selection)
    given = {name: value for name, value in (flat or {}).items() if value is not None}
    for name, value in given.items():
        owner = next(r for r in SELECTION_METHODS.values() if name in getattr(r, "options", ()))
        option = next(key for key, flat_name in owner.method.legacy.items() if flat_name == name)
        if warn:
            warnings.warn(
                f"{name} is deprecated and will be removed: a method's options belong to its object; pass "
                f"selection={owner.method.__name__}({option}={_shown(value)}) instead.",
                FutureWarning,
                stacklevel=4,
            )
        owner.method_object(None, {name: value}).check()  # each flat option checked, used or not
    own = {name: value for name, value in given.items() if name in getattr(record, "options", ())}
    if own and not isinstance(selection, str):
        raise ValueError(
            f"selection={selection!r} is an object, so its options are set on it, not with {sorted(own)}; "
            f"leave those at None."
        )
    method = record.method_object(selection, own)
    if method is not None:
        method.check()
    return record, method


def fit_selection(record, method, text_bank, *, k, unit_images=None, logit_scale=1.0) -> dict:
    """Fit a resolved selection on the (debiased, pooled) text bank and, if it learns, the images.

    Parameters
    ----------
    record, method
        From :func:`resolve`.
    text_bank : ndarray of shape (T, C, D)
    k : int
    unit_images : ndarray of shape (n, D), default=None
        Unit rows of the unlabelled images, for a method that learns from them.
    logit_scale : float, default=1.0

    Returns
    -------
    state : dict
        ``"key"``: what it was fitted for (the method's name, ``k`` where it counts,
        the options learning read), a list; ``"templates"``: the ``(K,)`` templates
        every image uses, or None when each image gets its own; ``"learned"``: what
        the method learned from images beyond the templates (e.g. ZPE's
        ``template_scores`` and ``template_weights``), empty for the others.
    """
    learned = dict(method.learn(unit_images, text_bank, logit_scale)) if record.learns_from_images else {}
    templates = learned.pop("templates", None)
    if templates is None and not record.per_image:
        templates = record.choose(text_bank, k, 0, None)
    return {"key": record.learned_key(method, k), "templates": templates, "learned": learned}


def fitted_scores(state, selection, X, text_bank, *, k, flat, logit_scale, caller, **scoring):
    """Class scores and templates of ``X`` from a fitted selection under the current settings.

    Parameters
    ----------
    state : dict
        From :func:`fit_selection`.
    selection : str or SelectionOptions
        The current ``selection`` (it may have changed since ``fit``).
    X : ndarray of shape (n, D)
        Finite image embeddings.
    text_bank : ndarray of shape (T, C, D)
    k : int
    flat : dict
        The deprecated flat parameters.
    logit_scale : float
    caller : str
        The estimator method, for messages.
    **scoring
        ``random_state``, ``device``, ``scaling`` for :func:`score_embeddings`.

    Returns
    -------
    scores : ndarray of shape (n, C)
    selected : ndarray of shape (n, K)
    """
    record, method = resolve(selection, flat)
    check_k(record, k, text_bank.shape[0], "templates this estimator was fitted with")
    fixed, learned = state["templates"], state["learned"]
    if record.learned_key(method, k) != state["key"]:
        if record.learns_from_images:
            raise NotFittedError(
                f"selection={selection!r} learns its template weights in fit, and this SageZeroShotClassifier was "
                "fitted with other settings (set_params after fit). Call 'fit' with the image embeddings again "
                f"before calling '{caller}'."
            )
        fixed, learned = None, {}  # chosen again from the fitted text bank
    options = {"method": method, "logit_scale": logit_scale, **learned}
    return score_embeddings(X, text_bank, selection=record.name, k=k, fixed_templates=fixed, options=options, **scoring)


def image_learner(selection, pool_by, pool_size):
    """The setting that learns from the unlabelled images given to ``fit``, if any.

    Parameters
    ----------
    selection : str or SelectionOptions
    pool_by : str
    pool_size : int or None

    Returns
    -------
    setting : str or None
        ``"selection=..."`` or ``"pool_by=..."`` as the user wrote it, for messages;
        None when neither learns from images.
    """
    record = SELECTION_METHODS.get(getattr(selection, "name", selection))
    if record is not None and record.learns_from_images:
        return f"selection={selection!r}"
    pooling = SELECTION_METHODS.get(pool_by)
    if pool_size is not None and pooling is not None and pooling.pool_needs_images:
        return f"pool_by={pool_by!r}"
    return None


def images_to_learn_from(X, selection, pool_by, pool_size, dtype):
    """``X`` unit-normalised as ``dtype`` when a setting learns from it (:func:`image_learner`), else None.

    Other fits only check ``X``'s width, so they normalise and copy nothing.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features) or None
        The image embeddings given to ``fit``.
    selection : str or SelectionOptions
    pool_by : str
    pool_size : int or None
    dtype : numpy dtype
        The text bank's dtype.

    Returns
    -------
    unit_images : ndarray of shape (n_samples, n_features) or None
    """
    if X is None or image_learner(selection, pool_by, pool_size) is None:
        return None
    return l2_normalize(X)[0].astype(dtype)


def pool_templates(pool_by, text_bank, size, *, unit_images=None, logit_scale=1.0) -> np.ndarray:
    """The ``size`` templates ``pool_by`` keeps, best first (``pool_size``).

    Parameters
    ----------
    pool_by : str
        A method of the table that pools (``POOL_METHODS``).
    text_bank : ndarray of shape (T, C, D)
    size : int
    unit_images : ndarray of shape (n, D), default=None
        For a method that ranks the templates on unlabelled images.
    logit_scale : float, default=1.0

    Returns
    -------
    kept : ndarray of shape (size,)
    """
    return SELECTION_METHODS[pool_by].pool(text_bank, size, unit_images, logit_scale)


def _shown(value) -> str:
    return "..." if np.ndim(value) else repr(value)
