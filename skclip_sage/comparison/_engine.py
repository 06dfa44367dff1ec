"""Evaluate comparison rows on one set of embeddings: Avg, WGA, Gap, HM and group accuracies."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import clone

from ..metrics import robustness_report

__all__ = ["compare_methods"]


def compare_methods(
    methods,
    X,
    y,
    *,
    groups,
    group_names=None,
    average="plain",
    weights=None,
    X_train=None,
    y_train=None,
    log=None,
):
    """Fit and score every method on the same embeddings, one row of metrics each.

    Parameters
    ----------
    methods : list of ComparisonMethod
        The rows, e.g. from :func:`selection_methods` and :func:`debias_methods`.
    X : array-like of shape (n_samples, n_features)
        Image embeddings to evaluate on.
    y : array-like of shape (n_samples,)
        True labels of ``X``.
    groups : array-like of shape (n_samples,)
        Group of each image (e.g. class x spurious attribute).
    group_names : dict or list of str, default=None
        Display name of each group, as :func:`~skclip_sage.metrics.robustness_report`.
    average : {"plain", "groups", "weighted"}, default="plain"
        Definition of Avg.
    weights : dict or array-like, default=None
        Group weights for ``average="weighted"``.
    X_train, y_train : array-like, default=None
        Training-split embeddings and labels for the methods with
        ``fit_on="train"``; their labels only name the classes.
    log : callable, default=None
        Called with one line of progress per row.

    Returns
    -------
    rows : list of dict
        Per method: ``mode`` (its name), ``k``, ``n_templates``, ``n_images``,
        ``fit_on``, ``description``, ``Avg``, ``WGA``, ``Gap``, ``HM`` (percent),
        ``worst_group`` (a group name), ``groups`` (``{name: accuracy %}``) and
        ``seconds``.

    Raises
    ------
    ValueError
        A method needs the training split and ``X_train`` was not given, or no
        method was given.

    Examples
    --------
    >>> from skclip_sage.comparison import compare_methods, selection_methods
    >>> from skclip_sage.synthetic import make_spurious_benchmark
    >>> simulation = make_spurious_benchmark("theory_holds", 400, n_templates=8, seed=0)
    >>> methods = selection_methods(simulation.encoder, class_names=simulation.class_names,
    ...                             templates=simulation.templates, modes=("ensemble", "sage"),
    ...                             k_values=(1,), device="cpu")
    >>> rows = compare_methods(methods, simulation.data, simulation.target,
    ...                        groups=simulation.groups, group_names=simulation.group_names)
    >>> [(row["mode"], row["k"]) for row in rows], bool(rows[1]["WGA"] > rows[0]["WGA"])
    ([('ensemble', 8), ('sage', 1)], True)
    """
    methods = list(methods)
    if not methods:
        raise ValueError("compare_methods needs at least one method; got none.")
    needs_train = [method.name for method in methods if method.fit_on == "train"]
    if needs_train and X_train is None:
        raise ValueError(
            f"compare_methods: {needs_train} fit on the training split; pass X_train and y_train (unlabelled "
            "images suffice: y_train only names the classes), or build them with fit_on='evaluation'."
        )
    if X_train is not None and y_train is None:
        raise ValueError("compare_methods: X_train was given without y_train; pass both.")
    y = np.asarray(y)
    rows = []
    for method in methods:
        started = time.perf_counter()
        fit_X, fit_y = (X_train, y_train) if method.fit_on == "train" else (X, y)
        fitted = clone(method.estimator).fit(fit_X, fit_y)
        y_pred = fitted.predict(X)
        row = _row(method, fitted, y, y_pred, groups, group_names, average, weights)
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
        if log is not None:
            log(
                f"{method.name:>8} K={row['k']:<3d} Avg {row['Avg']:5.1f}  WGA {row['WGA']:5.1f}  "
                f"({row['seconds']:.2f} s)"
            )
    return rows


def _row(method, fitted, y, y_pred, groups, group_names, average, weights):
    report = robustness_report(y, y_pred, groups=groups, group_names=group_names, average=average, weights=weights)
    values = dict(zip(report["name"], (100 * report["value"]).tolist()))
    group_rows = [name for name, kind in zip(report["name"], report["kind"]) if kind == "group"]
    # The classifier is the estimator itself or a pipeline's last step.
    classifier = fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted
    return {
        "mode": method.name,
        "k": int(method.k),
        "n_templates": len(getattr(classifier, "templates_", ())),
        "n_images": len(y),
        "fit_on": method.fit_on,
        "description": method.description,
        "Avg": values["Avg"],
        "WGA": values["WGA"],
        "Gap": values["Gap"],
        "HM": values["HM"],
        # A group with no samples has no accuracy (NaN): it can be no one's worst group.
        "worst_group": min((name for name in group_rows if not np.isnan(values[name])), key=values.__getitem__),
        "groups": {name: values[name] for name in group_rows},
    }
