"""Robustness metrics: worst-group accuracy, the three average accuracies, gap, harmonic
mean, a report table, and scorers for scikit-learn model selection.

All accuracies are fractions in [0, 1]; multiply by 100 for the paper's percentages.
"""

from ._group import (
    GroupAccuracies,
    average_group_accuracy,
    group_accuracies,
    weighted_group_accuracy,
    worst_group_accuracy,
)
from ._report import robustness_report
from ._scorers import make_group_scorer, missing_as_wrong
from ._summary import accuracy_gap, average_accuracy, harmonic_mean_accuracy

__all__ = [
    "GroupAccuracies",
    "accuracy_gap",
    "average_accuracy",
    "average_group_accuracy",
    "group_accuracies",
    "harmonic_mean_accuracy",
    "make_group_scorer",
    "missing_as_wrong",
    "robustness_report",
    "weighted_group_accuracy",
    "worst_group_accuracy",
]
