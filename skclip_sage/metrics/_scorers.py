"""Scorers that receive the robustness groups through scikit-learn's metadata routing.

scikit-learn is imported inside the functions: ``skclip_sage.metrics`` itself stays
numpy-only (see STYLE.md, "imports point one way").
"""

import inspect

import numpy as np

from ._group import average_group_accuracy, weighted_group_accuracy, worst_group_accuracy
from ._summary import accuracy_gap, average_accuracy, harmonic_mean_accuracy
from ._validation import _missing_positions, check_average

# name -> (metric, greater_is_better). The gap is the only "lower is better" metric.
GROUP_METRICS = {
    "accuracy_gap": (accuracy_gap, False),
    "average_accuracy": (average_accuracy, True),
    "average_group_accuracy": (average_group_accuracy, True),
    "harmonic_mean_accuracy": (harmonic_mean_accuracy, True),
    "weighted_group_accuracy": (weighted_group_accuracy, True),
    "worst_group_accuracy": (worst_group_accuracy, True),
}


def _missing_groups_message(metric_name, groups_param):
    from sklearn import get_config

    start = f"The {metric_name!r} group scorer was called without groups, so it cannot "
    start += "compute per-group accuracies."
    if not get_config()["enable_metadata_routing"]:
        return (
            f"{start} scikit-learn passes groups to a scorer only with metadata routing: "
            f"call sklearn.set_config(enable_metadata_routing=True) (or work inside "
            f"`with sklearn.config_context(enable_metadata_routing=True):`) and pass "
            f"{groups_param}=... to fit, e.g. GridSearchCV(...).fit(X, y, "
            f"{groups_param}=groups), or params={{{groups_param!r}: groups}} to "
            f"cross_validate. Called directly, use scorer(estimator, X, y, groups=groups) "
            f"with routing enabled."
        )
    return (
        f"{start} Metadata routing is enabled, but nothing was routed to the scorer: pass "
        f"the robustness groups to fit under the name the scorer requests "
        f"({groups_param!r} unless changed with set_score_request), e.g. "
        f"GridSearchCV(...).fit(X, y, {groups_param}=groups) or "
        f"cross_validate(..., params={{{groups_param!r}: groups}})."
    )


def missing_as_wrong(y_true, y_pred):
    """``y_pred`` with its missing predictions (NaN, None) replaced by a wrong label.

    A classifier with ``on_nan="propagate"`` predicts its ``nan_label`` for an image
    that gave no embedding: NaN for float labels, None for booleans, which the
    metrics refuse as missing values. Scoring counts such a row as a wrong
    prediction: it becomes another class that occurs in ``y_true`` (the next one in
    sorted order), or, when ``y_true`` holds one class, a value of its type that
    differs from it (``not label``, ``label + 1``, ``label + "?"``). The result has
    ``y_true``'s type, so every metric accepts it; a row with a missing prediction is
    never counted right. Other predictions, ``-1`` and ``""`` included, are untouched.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, none missing.
    y_pred : array-like of shape (n_samples,)
        Predictions, possibly with NaN or None.

    Returns
    -------
    y_pred : ndarray of shape (n_samples,)
        ``y_pred`` itself when nothing is missing.

    Examples
    --------
    >>> import numpy as np
    >>> missing_as_wrong(np.array([0.0, 1.0, 1.0]), np.array([0.0, np.nan, 1.0])).tolist()
    [0.0, 0.0, 1.0]
    >>> missing_as_wrong(np.array([True, True]), np.array([True, None], dtype=object)).tolist()
    [True, False]
    >>> missing_as_wrong(np.array(["cat", "dog"], dtype=object), np.array(["cat", None], dtype=object)).tolist()
    ['cat', 'cat']
    """
    y_pred = np.asarray(y_pred)
    missing = _missing_positions(y_pred) if y_pred.ndim == 1 else np.empty(0, dtype=np.intp)
    if not missing.size:
        return y_pred
    true_values = np.asarray(y_true).tolist()  # Python values whatever the dtype (object arrays hold them already)
    classes = sorted(set(true_values))
    filled = y_pred.astype(object)
    for position in missing.tolist():
        filled[position] = _another_label(true_values[position], classes)
    return np.asarray(filled.tolist())


def _another_label(label, classes):
    """A label of ``label``'s type that is not ``label``: the next class, else one made up."""
    others = [value for value in classes if value != label]
    if others:
        return next((value for value in others if value > label), others[0])
    if isinstance(label, bool):
        return not label
    if isinstance(label, str):
        return label + "?"
    return label + 1


class _GroupScoreFunction:
    """The ``score_func`` given to ``make_scorer``: requires groups, explains their absence.

    A picklable class rather than a closure, so that scorers survive joblib workers.
    """

    def __init__(self, metric, metric_name, groups_param):
        self.metric = metric
        self.groups_param = groups_param
        # make_scorer's repr prints ``score_func.__name__``.
        self.__name__ = metric_name

    def __call__(self, y_true, y_pred, groups=None, **metric_kwargs):
        if groups is None:
            raise ValueError(_missing_groups_message(self.__name__, self.groups_param))
        # A nan_label prediction (an image that gave no embedding) counts as wrong, whatever the label type.
        return self.metric(y_true, missing_as_wrong(y_true, y_pred), groups=groups, **metric_kwargs)


def _resolve_metric(metric, greater_is_better):
    if isinstance(metric, str):
        if metric not in GROUP_METRICS:
            choices = ", ".join(repr(name) for name in GROUP_METRICS)
            raise ValueError(
                f"make_group_scorer: metric must be one of {choices} or a callable "
                f"metric(y_true, y_pred, *, groups, ...); got {metric!r} instead."
            )
        function, default_greater_is_better = GROUP_METRICS[metric]
        name = metric
    elif callable(metric):
        function, default_greater_is_better = metric, True
        name = getattr(metric, "__name__", type(metric).__name__)
    else:
        raise ValueError(
            f"make_group_scorer: metric must be a metric name or a callable "
            f"metric(y_true, y_pred, *, groups, ...); got {type(metric).__name__} instead."
        )
    if greater_is_better is None:
        greater_is_better = default_greater_is_better
    return function, name, bool(greater_is_better)


def _check_metric_kwargs(function, name, metric_kwargs):
    """Fail at construction, not inside a search that would turn errors into NaN scores."""
    if "groups" in metric_kwargs:
        raise ValueError(
            "make_group_scorer: groups cannot be fixed when the scorer is made; they are "
            "routed at fit time (pass groups=... to fit with metadata routing enabled)."
        )
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return
    try:
        signature.bind(None, None, groups=None, **metric_kwargs)
    except TypeError as err:
        raise ValueError(
            f"make_group_scorer: the arguments {sorted(metric_kwargs)} do not fit "
            f"{name}{signature} ({err}). Pass the metric's keyword arguments, e.g. "
            f"weights=... for 'weighted_group_accuracy'."
        ) from err
    if "average" in signature.parameters:
        check_average(
            metric_kwargs.get("average", "plain"),
            metric_kwargs.get("weights"),
            caller="make_group_scorer",
        )


def make_group_scorer(
    metric="worst_group_accuracy",
    *,
    groups_param="groups",
    greater_is_better=None,
    **metric_kwargs,
):
    """Make a scorer for a group metric that receives ``groups`` by metadata routing.

    The result is a scikit-learn scorer (from :func:`sklearn.metrics.make_scorer`)
    that already requests ``groups`` for ``score``, so with
    ``sklearn.set_config(enable_metadata_routing=True)``,
    ``GridSearchCV(..., scoring=scorer).fit(X, y, groups=groups)`` and
    ``cross_validate(..., scoring=scorer, params={"groups": groups})`` hand each test
    fold's groups to the metric.

    Parameters
    ----------
    metric : str or callable, default="worst_group_accuracy"
        One of ``"worst_group_accuracy"``, ``"average_group_accuracy"``,
        ``"weighted_group_accuracy"``, ``"average_accuracy"``,
        ``"harmonic_mean_accuracy"``, ``"accuracy_gap"``, or a callable
        ``metric(y_true, y_pred, *, groups, **metric_kwargs) -> float``.
    groups_param : str, default="groups"
        Name of the fit parameter that carries the robustness groups. Group-aware
        CV splitters such as :class:`~sklearn.model_selection.GroupKFold` also consume
        ``groups`` (as CV fold groups); give another name, e.g. ``"eval_groups"``, to
        pass different arrays: ``fit(X, y, groups=fold_groups,
        eval_groups=robustness_groups)``. ``scorer.set_score_request(groups=...)``
        does the same with routing enabled.
    greater_is_better : bool, default=None
        None takes the metric's own direction: False for ``"accuracy_gap"`` (the
        scorer then returns ``-gap``, like scikit-learn's ``neg_*`` scorers), True
        otherwise.
    **metric_kwargs : dict
        Fixed keyword arguments of the metric, e.g. ``average="weighted"`` and
        ``weights={0: 3498, 1: 184, 2: 56, 3: 1057}``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true, groups=...)`` returns the metric of
        ``estimator.predict(X)``.

    See Also
    --------
    worst_group_accuracy : The default metric.

    Notes
    -----
    A missing prediction (NaN or None: the ``nan_label`` of an image that gave no
    embedding under ``on_nan="propagate"``) counts as wrong (:func:`missing_as_wrong`),
    for every label type, so a search over a propagating pipeline scores it rather
    than failing.

    Without routing, or when fit gets no groups under ``groups_param``, the scorer
    raises a ValueError saying how to pass them. Model selection tools catch scoring
    errors: with their default ``error_score=np.nan`` the message arrives as a
    "Scoring failed" UserWarning and the scores are NaN; pass ``error_score="raise"``
    to get the error itself.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn import config_context
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skclip_sage.metrics import make_group_scorer
    >>> # Class 1 has a majority group (1) far from class 0 and a minority group (2)
    >>> # close to it: 5 neighbours outvote the minority group, 1 neighbour does not.
    >>> X = np.array([[0.0], [0.1], [0.2], [0.3], [1.0], [1.1], [1.2], [1.3],
    ...               [0.4], [0.45], [0.5], [0.55]])
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    >>> groups = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    >>> with config_context(enable_metadata_routing=True):
    ...     search = GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 5]},
    ...                           scoring=make_group_scorer(), cv=2)
    ...     search = search.fit(X, y, groups=groups)
    >>> search.cv_results_["mean_test_score"].tolist(), search.best_params_
    ([0.625, 0.0], {'n_neighbors': 1})
    """
    function, name, greater_is_better = _resolve_metric(metric, greater_is_better)
    if not isinstance(groups_param, str) or not groups_param.isidentifier():
        raise ValueError(
            f"make_group_scorer: groups_param must be a valid Python identifier naming a "
            f"fit parameter, e.g. 'groups' or 'eval_groups'; got {groups_param!r}."
        )
    _check_metric_kwargs(function, name, metric_kwargs)

    from sklearn import config_context
    from sklearn.metrics import make_scorer

    scorer = make_scorer(
        _GroupScoreFunction(function, name, groups_param),
        greater_is_better=greater_is_better,
        **metric_kwargs,
    )
    # scikit-learn only lets scorers record requests while routing is enabled; enabling
    # it (thread-locally) just for this call lets the scorer be made before the user
    # turns routing on, and the request stays with the scorer afterwards.
    with config_context(enable_metadata_routing=True):
        scorer.set_score_request(groups=groups_param)
    return scorer
