"""Average accuracy under the paper's three definitions, and the gap and harmonic mean
that compare it with the worst-group accuracy."""

import numpy as np

from ..utils._docstrings import fill_docstring
from ._group import _compute_group_accuracies, _weighted_mean
from ._validation import LABELS_AND_GROUPS, check_average, check_group_inputs, resolve_group_weights


class _RobustnessSummary:
    """Avg, WGA and the group table of one prediction (private result of ``_summarize``)."""

    def __init__(self, average, worst, table):
        self.average = average
        self.worst = worst
        self.table = table

    @property
    def gap(self):
        return self.average - self.worst

    @property
    def harmonic_mean(self):
        # Both accuracies are >= 0, so the denominator is 0 only when both are 0.
        total = self.average + self.worst
        return 0.0 if total == 0 else 2 * self.average * self.worst / total


def _summarize(y_true, y_pred, groups, *, average, weights, caller):
    """Validate once, then compute Avg (as chosen), WGA and the group accuracies."""
    check_average(average, weights, caller=caller)
    y_true, y_pred, groups = check_group_inputs(y_true, y_pred, groups, caller=caller)
    table = _compute_group_accuracies(y_true, y_pred, groups)
    if average == "plain":
        average_value = float(np.mean(y_true == y_pred))
    elif average == "groups":
        average_value = float(table.accuracy.mean())
    else:
        resolved = resolve_group_weights(weights, table.groups, caller=caller)
        average_value = _weighted_mean(table.accuracy, resolved)
    return _RobustnessSummary(average_value, float(table.accuracy.min()), table)


def average_accuracy(y_true, y_pred, *, groups=None, average="plain", weights=None):
    """Compute the average accuracy under one of the three benchmark definitions.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, of the same type as ``y_true``.
    groups : array-like of shape (n_samples,), default=None
        Group label of each sample; required unless ``average="plain"``.
    average : {"plain", "groups", "weighted"}, default="plain"
        ``"plain"``: fraction of correct predictions over all samples (CelebA).
        ``"groups"``: unweighted mean of the group accuracies (PACS, VLCS).
        ``"weighted"``: mean of the group accuracies weighted by ``weights``
        (Waterbirds, WILDS's adjusted average).
    weights : dict or array-like of shape (n_groups,), default=None
        Group weights for ``average="weighted"`` (and only then): a dict (or
        pandas Series) ``group -> weight`` naming exactly the groups present, or
        one weight per group in sorted group order.

    Returns
    -------
    accuracy : float
        The average accuracy, a fraction in [0, 1].

    See Also
    --------
    average_group_accuracy : ``average="groups"`` as its own function.
    weighted_group_accuracy : ``average="weighted"`` as its own function.

    Examples
    --------
    >>> from skclip_sage.metrics import average_accuracy
    >>> y_true, y_pred, groups = [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1], [0, 0, 1, 1, 1, 1]
    >>> round(average_accuracy(y_true, y_pred), 4)
    0.6667
    >>> average_accuracy(y_true, y_pred, groups=groups, average="groups")
    0.625
    >>> average_accuracy(y_true, y_pred, groups=groups, average="weighted",
    ...                  weights=[1, 3])
    0.6875
    """
    caller = "average_accuracy"
    if groups is None:
        if average in ("groups", "weighted"):
            raise ValueError(
                f"{caller}: average={average!r} needs groups=..., the group label of "
                f"every sample; only average='plain' works without groups."
            )
        check_average(average, weights, caller=caller)
        y_true, y_pred, _ = check_group_inputs(y_true, y_pred, None, caller=caller)
        return float(np.mean(y_true == y_pred))
    return _summarize(y_true, y_pred, groups, average=average, weights=weights, caller=caller).average


@fill_docstring(labels_and_groups=LABELS_AND_GROUPS)
def accuracy_gap(y_true, y_pred, *, groups, average="plain", weights=None):
    """Compute the gap between average and worst-group accuracy (Avg - WGA).

    Parameters
    ----------
    %(labels_and_groups)s
    average : {"plain", "groups", "weighted"}, default="plain"
        Definition of Avg; see :func:`average_accuracy`.
    weights : dict or array-like of shape (n_groups,), default=None
        Group weights for ``average="weighted"`` (and only then).

    Returns
    -------
    gap : float
        ``Avg - WGA`` in [0, 1] (every definition of Avg is a non-negative
        mixture of group accuracies, so it is never below WGA). Lower is better.

    See Also
    --------
    harmonic_mean_accuracy : A single score that rewards both high Avg and WGA.

    Examples
    --------
    >>> from skclip_sage.metrics import accuracy_gap
    >>> accuracy_gap([1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1],
    ...              groups=[0, 0, 1, 1, 1, 1], average="groups")
    0.125
    """
    return _summarize(y_true, y_pred, groups, average=average, weights=weights, caller="accuracy_gap").gap


@fill_docstring(labels_and_groups=LABELS_AND_GROUPS)
def harmonic_mean_accuracy(y_true, y_pred, *, groups, average="plain", weights=None):
    """Compute the harmonic mean of average and worst-group accuracy.

    ``HM = 2 * Avg * WGA / (Avg + WGA)``, defined as 0 when both are 0.

    Parameters
    ----------
    %(labels_and_groups)s
    average : {"plain", "groups", "weighted"}, default="plain"
        Definition of Avg; see :func:`average_accuracy`.
    weights : dict or array-like of shape (n_groups,), default=None
        Group weights for ``average="weighted"`` (and only then).

    Returns
    -------
    harmonic_mean : float
        A fraction in [0, 1].

    See Also
    --------
    accuracy_gap : ``Avg - WGA``.

    Examples
    --------
    >>> from skclip_sage.metrics import harmonic_mean_accuracy
    >>> round(harmonic_mean_accuracy([1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1],
    ...                              groups=[0, 0, 1, 1, 1, 1], average="groups"), 4)
    0.5556
    """
    return _summarize(
        y_true,
        y_pred,
        groups,
        average=average,
        weights=weights,
        caller="harmonic_mean_accuracy",
    ).harmonic_mean
