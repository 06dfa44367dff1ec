"""What a fitted SageZeroShotClassifier answers: scores, labels, probabilities, templates.

The prediction half of the estimator, as a mixin: it validates ``X`` against what
``fit`` saw, carries NaN rows per ``on_nan`` and asks the fitted selection
(:func:`skclip_sage.selection.fitted_scores`) for the class scores; every answer is
computed from those scores.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn import get_config
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._classifier_inputs import refuse_images, same_kind
from .encoders import compute_device
from .exceptions import NotFittedError
from .metrics import missing_as_wrong
from .selection import LEGACY_PARAMETERS, RowScaling, fitted_scores, row_scaling, softmax
from .utils._nan_rows import finite_rows, scatter_rows

__all__ = ["ZeroShotPredictionMixin"]


class ZeroShotPredictionMixin:
    """The prediction methods of :class:`~skclip_sage.SageZeroShotClassifier` (documented there)."""

    def decision_function(self, X):
        """Logits: class similarities times the logit scale (or over the temperature).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes), float64
            For two classes, the logit of ``classes_[1]`` minus that of
            ``classes_[0]`` (scikit-learn's binary convention).
        """
        logits = self._logits(X, "decision_function")
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits

    def predict_proba(self, X):
        """Class probabilities: softmax of the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float64
            Columns follow ``classes_``; rows sum to 1. Finite for every temperature
            (NaN rows only for NaN input rows, under ``on_nan="propagate"``).
        """
        scores, _ = self._score(X, "predict_proba")
        return softmax(scores, temperature=self._temperature())

    def predict(self, X):
        """The most similar class of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            ``nan_label`` for NaN input rows under ``on_nan="propagate"``.
        """
        scores, _ = self._score(X, "predict")
        # A NaN row's argmax is some column; _labels gives that row nan_label anyway.
        return self._labels(np.argmax(scores, axis=1), scores)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on ``X`` against ``y``.

        A NaN row's ``nan_label`` prediction (``on_nan="propagate"``) counts as
        wrong for every label type (NaN and None included, which scikit-learn's
        ``accuracy_score`` refuses), so a search over a propagating pipeline
        scores its candidates (:func:`~skclip_sage.metrics.missing_as_wrong`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        from sklearn.metrics import accuracy_score

        y = column_or_1d(y)
        return float(accuracy_score(y, missing_as_wrong(y, self.predict(X)), sample_weight=sample_weight))

    def predict_top_k(self, X, top_k):
        """The ``top_k`` most probable classes of each image, best first, with their probabilities.

        The ranking of ``skclip-sage classify --top-k``: by probability, a tie going
        to the class that comes first in ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.
        top_k : int
            How many classes per image, ``1 <= top_k <= n_classes``.

        Returns
        -------
        labels : ndarray of shape (n_samples, top_k)
            Class labels, the most probable first (``nan_label`` for NaN input rows
            under ``on_nan="propagate"``).
        probabilities : ndarray of shape (n_samples, top_k), float64
            Their probabilities (NaN for those rows).

        Examples
        --------
        >>> import numpy as np
        >>> from skclip_sage import SageZeroShotClassifier
        >>> class ToyEncoder:
        ...     identity, embedding_dim, logit_scale = "toy-top-k", 2, 10.0
        ...     def encode_text(self, texts):
        ...         return np.array([[1.0, 0.0] if "cat" in t else [0.0, 1.0] if "dog" in t else [1.0, 1.0]
        ...                          for t in texts])
        >>> clf = SageZeroShotClassifier(ToyEncoder(), templates=["{}"], class_names=["cat", "dog", "fox"]).fit()
        >>> labels, probabilities = clf.predict_top_k([[1.0, 0.2]], top_k=2)
        >>> labels.tolist(), probabilities.round(2).tolist()
        ([['cat', 'fox']], [[0.82, 0.18]])
        """
        if not isinstance(top_k, Integral) or isinstance(top_k, bool) or not 1 <= top_k <= len(self.classes_):
            raise ValueError(
                f"top_k must be an int from 1 to the {len(self.classes_)} classes of this classifier; got {top_k!r}."
            )
        scores, _ = self._score(X, "predict_top_k")
        probabilities = softmax(scores, temperature=self._temperature())
        ranking = np.argsort(-np.nan_to_num(probabilities, nan=0.0), axis=1, kind="stable")[:, :top_k]
        return self._labels(ranking, scores), np.take_along_axis(probabilities, ranking, axis=1)

    def class_similarities(self, X):
        """Cosine similarity of each image to its class prototypes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.

        Returns
        -------
        similarities : ndarray of shape (n_samples, n_classes)
            For the aggregating selections: the weighted mean of the template
            similarities (``"score_average"``, ``"autoclip"``, ``"zpe"``), or
            ``log P(y|x) / logit_scale_`` (``"perception"``).
        """
        scores, _ = self._score(X, "class_similarities")
        return scores

    def selected_templates(self, X):
        """Indices into ``templates_`` of the templates each image was classified with.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Image embeddings.

        Returns
        -------
        indices : ndarray of shape (n_samples, n_selected)
            For ``"sage"``, best-separated first; -1 for NaN input rows under
            ``on_nan="propagate"``. When every image uses the same templates
            (``"single"``, ``"ensemble"``, ``"text"``, the aggregations) and no row
            is NaN, a read-only view of one row repeated, so no ``n x n_selected``
            array is allocated; ``np.array(...)`` makes a writable copy.
        """
        _, selected = self._score(X, "selected_templates")
        return selected

    def _labels(self, indices, scores):
        """``classes_[indices]``, with ``nan_label`` on the rows whose scores are NaN."""
        labels = self.classes_[indices]
        bad = np.isnan(scores.max(axis=1))  # max propagates NaN: no (n, C) mask
        if not bad.any():
            return labels
        fill = self._nan_label()
        labels = labels.astype(np.result_type(labels.dtype, np.asarray([fill]).dtype))
        labels[bad] = fill
        return labels

    def _nan_label(self):
        """The label of a NaN row, checked: not a class, and of the classes' type where it has a spare value."""
        kind = self.classes_.dtype.kind
        default = {"f": np.nan, "i": -1, "U": "", "S": b""}.get(kind)
        label = default if self.nan_label is None else self.nan_label
        if label is not None and label == label and np.isin(np.asarray([label], dtype=object), self.classes_).any():
            raise ValueError(
                f"nan_label={label!r} is one of the classes {self.classes_.tolist()}, so a NaN row would read as "
                "a prediction; pass SageZeroShotClassifier(nan_label=...) a value that is not a class."
            )
        if default is not None and not same_kind(self.classes_.dtype, label):
            raise ValueError(
                f"nan_label={label!r} ({type(label).__name__}) does not fit the classes' type ({self.classes_.dtype}: "
                f"{self.classes_.tolist()[:5]}): predict would turn every label into {type(label).__name__}. Pass a "
                f"nan_label of the classes' type that is not a class, e.g. the default nan_label=None ({default!r})."
            )
        return label

    def _logits(self, X, method):
        scores, _ = self._score(X, method)
        # float64: similarities over a temperature as small as 1e-39 overflow float32.
        logits = scores.astype(np.float64)
        logits /= self._temperature()  # in place: no second (n, C) float64 array
        return logits

    def _temperature(self):
        return 1.0 / self.logit_scale_ if self.temperature is None else float(self.temperature)

    def _score(self, X, method):
        if not hasattr(self, "classes_"):
            raise NotFittedError(
                f"This SageZeroShotClassifier instance is not fitted yet. Call 'fit' with appropriate "
                f"arguments before calling '{method}'."
            )
        check_is_fitted(self)
        if not get_config()["skip_parameter_validation"]:
            # Parameters changed with set_params after fit get fit's checks and messages.
            self._validate_params()
        if getattr(self, "_fitted_without_X", False) and hasattr(X, "columns"):
            X = np.asarray(X)  # sklearn would warn that fit saw no feature names: fit saw no X at all
        refuse_images(X, method)
        try:
            X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64), ensure_all_finite=False)
        except ValueError as err:
            if "features, but" in str(err):
                raise ValueError(f"{err} ({self._width_note()})") from err
            raise
        # One pass over X gives the row norms and, with them, the rows that are not finite.
        scaling = row_scaling(X)
        stacklevel = 4 if method == "decision_function" else 3
        finite = finite_rows(
            scaling.non_finite,
            len(X),
            on_nan=self.on_nan,
            owner=type(self).__name__,
            method=method,
            stacklevel=stacklevel,
        )
        n_rows = len(X)
        if finite is not None:
            X = X[finite]
            scaling = RowScaling(scaling.rows[finite], scaling.norms[finite], np.empty(0, dtype=np.intp))
        scores, selected = fitted_scores(
            self.fitted_selection_,
            self.selection,
            X,
            self.text_embeddings_,
            k=self.k,
            flat=self._flat_options(),
            logit_scale=self.logit_scale_,
            caller=method,
            random_state=getattr(self, "random_seed_", self.random_state),
            device=compute_device(self.device),
            scaling=scaling,
        )
        if finite is None:
            return scores, selected
        return scatter_rows(scores, finite, n_rows, np.nan), scatter_rows(selected, finite, n_rows, -1)

    def _width_note(self):
        model = self.model if isinstance(self.model, str) else type(self.model).__name__
        return f"the width of the {model!r} text embeddings"

    def __getattr__(self, name):
        # selected_templates_ and what the method learned (template_weights_, ...) live in fitted_selection_.
        state = self.__dict__.get("fitted_selection_")
        if state is not None and name.endswith("_") and not name.startswith("_"):
            if name == "selected_templates_" and state["templates"] is not None:
                return state["templates"]
            if name[:-1] in state["learned"]:
                return state["learned"][name[:-1]]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _flat_options(self):
        """The deprecated flat method options, by name."""
        return {name: getattr(self, name) for name in LEGACY_PARAMETERS}
