"""Per-group accuracies and the group averages built on them (worst, mean, weighted)."""

from typing import NamedTuple

import numpy as np

from ..utils._docstrings import fill_docstring
from ._validation import LABELS_AND_GROUPS, check_group_inputs, resolve_group_weights


class GroupAccuracies(NamedTuple):
    """Accuracy and sample count of every group, in sorted group order.

    Returned by :func:`group_accuracies`; a named tuple whose fields are the
    parameters below.

    Parameters
    ----------
    groups : ndarray of shape (n_groups,)
        The sorted unique group labels (``np.unique(groups)``).
    accuracy : ndarray of shape (n_groups,), dtype float64
        Fraction of correct predictions in each group, in [0, 1].
    count : ndarray of shape (n_groups,), dtype int64
        Number of samples in each group.
    """

    groups: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


def _compute_group_accuracies(y_true, y_pred, groups):
    """Group accuracies of already validated 1-D arrays (no checks)."""
    correct = np.asarray(y_true == y_pred, dtype=bool)
    unique_groups, group_index = np.unique(groups, return_inverse=True)
    count = np.bincount(group_index, minlength=len(unique_groups)).astype(np.int64)
    n_correct = np.bincount(group_index, weights=correct, minlength=len(unique_groups))
    # Every unique group has at least one sample, so the division is safe.
    return GroupAccuracies(unique_groups, n_correct / count, count)


def _weighted_mean(accuracy, weights):
    return float(np.dot(weights, accuracy) / weights.sum())


def group_accuracies(y_true, y_pred, *, groups):
    """Compute the accuracy and the number of samples of every group.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, of the same type as ``y_true``.
    groups : array-like of shape (n_samples,)
        Group label of each sample (e.g. label x background on Waterbirds). Groups
        are reported in sorted order of these labels.

    Returns
    -------
    result : GroupAccuracies
        Named tuple ``(groups, accuracy, count)``: the sorted unique groups, their
        accuracies as fractions in [0, 1] and their sample counts.

    See Also
    --------
    worst_group_accuracy : The smallest of these accuracies.
    robustness_report : All metrics of a prediction in one table.

    Examples
    --------
    >>> from skclip_sage.metrics import group_accuracies
    >>> result = group_accuracies([1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1],
    ...                           groups=["a", "a", "b", "b", "b", "b"])
    >>> result.groups.tolist(), result.accuracy.tolist(), result.count.tolist()
    (['a', 'b'], [0.5, 0.75], [2, 4])
    """
    y_true, y_pred, groups = check_group_inputs(y_true, y_pred, groups, caller="group_accuracies")
    return _compute_group_accuracies(y_true, y_pred, groups)


@fill_docstring(labels_and_groups=LABELS_AND_GROUPS)
def worst_group_accuracy(y_true, y_pred, *, groups):
    """Compute the worst-group accuracy (WGA): the minimum accuracy over groups.

    Parameters
    ----------
    %(labels_and_groups)s

    Returns
    -------
    accuracy : float
        The lowest group accuracy, a fraction in [0, 1].

    See Also
    --------
    group_accuracies : The accuracy of every group.

    Examples
    --------
    >>> from skclip_sage.metrics import worst_group_accuracy
    >>> worst_group_accuracy([1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1],
    ...                      groups=[0, 0, 1, 1, 1, 1])
    0.5
    """
    y_true, y_pred, groups = check_group_inputs(y_true, y_pred, groups, caller="worst_group_accuracy")
    return float(_compute_group_accuracies(y_true, y_pred, groups).accuracy.min())


@fill_docstring(labels_and_groups=LABELS_AND_GROUPS)
def average_group_accuracy(y_true, y_pred, *, groups):
    """Compute the unweighted mean of the group accuracies.

    Every group counts the same, however many samples it has; this is the average
    used for PACS and VLCS (domain x class groups).

    Parameters
    ----------
    %(labels_and_groups)s

    Returns
    -------
    accuracy : float
        Mean of the group accuracies, a fraction in [0, 1].

    See Also
    --------
    weighted_group_accuracy : The same mean with a weight per group.

    Examples
    --------
    >>> from skclip_sage.metrics import average_group_accuracy
    >>> average_group_accuracy([1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1],
    ...                        groups=[0, 0, 1, 1, 1, 1])
    0.625
    """
    y_true, y_pred, groups = check_group_inputs(y_true, y_pred, groups, caller="average_group_accuracy")
    return float(_compute_group_accuracies(y_true, y_pred, groups).accuracy.mean())


@fill_docstring(labels_and_groups=LABELS_AND_GROUPS)
def weighted_group_accuracy(y_true, y_pred, *, groups, weights):
    """Compute the weighted mean of the group accuracies.

    With the Waterbirds training group counts as weights this is WILDS's
    *adjusted average accuracy*: test-group accuracies weighted 3498 : 184 : 56 :
    1057 (landbird-land, landbird-water, waterbird-land, waterbird-water).

    Parameters
    ----------
    %(labels_and_groups)s
    weights : dict or array-like of shape (n_groups,)
        Non-negative weight of each group: a dict (or pandas Series) ``group ->
        weight`` naming exactly the groups present, or one weight per group in
        sorted group order. Weights
        need not sum to 1; they are normalised.

    Returns
    -------
    accuracy : float
        ``sum(weights * group_accuracy) / sum(weights)``, a fraction in [0, 1].

    See Also
    --------
    average_group_accuracy : The same mean with equal weights.

    Examples
    --------
    >>> from skclip_sage.metrics import weighted_group_accuracy
    >>> weighted_group_accuracy([1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1],
    ...                         groups=[0, 0, 1, 1, 1, 1], weights={0: 1, 1: 3})
    0.6875
    """
    caller = "weighted_group_accuracy"
    y_true, y_pred, groups = check_group_inputs(y_true, y_pred, groups, caller=caller)
    result = _compute_group_accuracies(y_true, y_pred, groups)
    resolved = resolve_group_weights(weights, result.groups, caller=caller)
    return _weighted_mean(result.accuracy, resolved)
