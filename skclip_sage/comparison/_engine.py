"""Evaluate comparison rows on one set of embeddings: Avg, WGA, Gap, HM and group accuracies."""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import clone

from ..metrics import robustness_report
from ._selections import check_subsets, final_classifier, per_image_templates, selection_shares
from ._single_templates import check_template_sources

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
    subsets=None,
    template_sources=None,
    keep_predictions=False,
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
    subsets : dict of str to array-like of bool, default=None
        Named subsets of the evaluated images (e.g. ``{"majority groups": mask,
        "minority groups": ~mask}``): each row gets the accuracy over each
        subset's images, and the selection shares are given per subset (all
        images when None).
    template_sources : sequence of str, default=None
        The source of each template of the pool the selection rows use, in pool
        order. Rows whose classifier chooses templates per image then get
        ``selections``: per subset, the share of each source among the chosen
        templates (see :func:`selection_shares`).
    keep_predictions : bool, default=False
        Also keep each row's per-image answers in ``row["per_image"]`` (for
        :func:`build_report_html`'s failures): ``predictions`` (ndarray of shape
        (n_samples,)), ``probabilities`` (float32 ndarray of shape (n_samples,
        n_classes), or None for an estimator without ``predict_proba``), ``classes``,
        ``templates`` (the pool's texts) and ``selected`` (int ndarray of shape
        (n_samples, K) of each image's chosen templates for a per-image selection,
        else None). Costs ``n_samples x n_classes x 4`` bytes per row.
    log : callable, default=None
        Called with one line of progress per row.

    Returns
    -------
    rows : list of dict
        Per method: ``mode`` (its name), ``k``, ``n_templates``, ``n_images``,
        ``fit_on``, ``description``, ``Avg``, ``WGA``, ``Gap``, ``HM`` (percent),
        ``worst_group`` (a group name), ``groups`` (``{name: accuracy %}``),
        ``group_counts`` (``{name: images}``),
        ``template`` and ``source`` (of a single-template row; else None),
        ``template_text`` (that template; else None), ``subsets``
        (``{name: accuracy %}``, empty without ``subsets``), ``selections``
        (list of ``{"subset", "n_images", "shares"}``, or None for rows that do
        not choose per image or without ``template_sources``) and ``seconds``.

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
    named_subsets = check_subsets(subsets, len(y))
    if template_sources is not None:
        template_sources = check_template_sources(template_sources, None, "compare_methods")
    rows = []
    for method in methods:
        started = time.perf_counter()
        fit_X, fit_y = (X_train, y_train) if method.fit_on == "train" else (X, y)
        fitted = clone(method.estimator).fit(fit_X, fit_y)
        y_pred = fitted.predict(X)
        row = _row(method, fitted, y, y_pred, groups, group_names, average, weights)
        row["subsets"] = {} if subsets is None else _subset_accuracies(y, y_pred, named_subsets)
        row["selections"] = None
        if template_sources is not None and method.template is None:
            row["selections"] = selection_shares(fitted, X, template_sources, named_subsets)
        if keep_predictions:
            row["per_image"] = _per_image(fitted, X, y_pred)
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
        if log is not None:
            label = method.name if method.template is None else f"{method.name} #{method.template}"
            log(f"{label:>8} K={row['k']:<3d} Avg {row['Avg']:5.1f}  WGA {row['WGA']:5.1f}  ({row['seconds']:.2f} s)")
    return rows


def _per_image(fitted, X, y_pred):
    """A row's answer for every image: prediction, probabilities and, per image, the templates chosen."""
    classifier = final_classifier(fitted)
    probabilities = fitted.predict_proba(X).astype(np.float32) if hasattr(fitted, "predict_proba") else None
    return {
        "predictions": np.asarray(y_pred),
        "probabilities": probabilities,
        "classes": np.asarray(getattr(fitted, "classes_", classifier.classes_)),
        "templates": list(getattr(classifier, "templates_", ())),
        "selected": per_image_templates(fitted, X),
    }


def _subset_accuracies(y, y_pred, subsets):
    """Accuracy in percent over each subset's images (NaN for an empty subset)."""
    correct = np.asarray(y_pred) == y
    return {name: float(100 * correct[mask].mean()) if mask.any() else float("nan") for name, mask in subsets.items()}


def _template_text(method, classifier):
    """The text of a single-template row's template: its pool of one, or its index in a full pool."""
    if method.template is None:
        return None
    texts = classifier.templates_
    return texts[0] if len(texts) == 1 else texts[method.template]


def _row(method, fitted, y, y_pred, groups, group_names, average, weights):
    report = robustness_report(y, y_pred, groups=groups, group_names=group_names, average=average, weights=weights)
    values = dict(zip(report["name"], (100 * report["value"]).tolist()))
    group_rows = [name for name, kind in zip(report["name"], report["kind"]) if kind == "group"]
    classifier = final_classifier(fitted)
    return {
        "mode": method.name,
        "k": int(method.k),
        "template": method.template,
        "template_text": _template_text(method, classifier),
        "source": method.source,
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
        "group_counts": {
            name: count
            for name, kind, count in zip(report["name"], report["kind"], report["count"].tolist())
            if kind == "group"
        },
    }
