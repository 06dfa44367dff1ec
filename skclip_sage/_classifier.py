"""SageZeroShotClassifier: scikit-learn's classifier interface over SAGE scoring.

A thin layer: it validates input and prepares the text bank in ``fit``; which selection
method runs, what it learns and every number are :mod:`skclip_sage.selection`'s business.
Predictions are the mixin in ``_classifier_predict``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from ._classifier_inputs import refuse_images, seed_of
from ._classifier_predict import ZeroShotPredictionMixin
from ._model_parameters import TEXT_MODEL_CONSTRAINTS, fill_model_forms
from .encoders import absolute_model, load_encoder
from .prompts import encode_text_bank, resolve_classes, resolve_templates, sorted_labels
from .selection import (
    LEGACY_PARAMETERS,
    POOL_NAMES,
    SELECTION_METHODS,
    SELECTION_NAMES,
    SelectionOptions,
    check_count,
    check_k,
    fit_selection,
    image_learner,
    images_to_learn_from,
    pool_templates,
    resolve,
    row_scaling,
)
from .utils._nan_rows import ON_NAN, finite_rows


@fill_model_forms
class SageZeroShotClassifier(ZeroShotPredictionMixin, ClassifierMixin, BaseEstimator):
    """Zero-shot CLIP classifier with per-image prompt selection (SAGE).

    For each image, SAGE scores every prompt template by how far apart it pushes
    the classes (highest minus lowest class similarity), keeps the ``k`` best
    templates, averages their class text embeddings and classifies with those. It
    needs no training, labels or bias annotations: ``fit`` only decides which classes
    exist (from ``class_names`` or ``y``) and encodes the prompts, so ``fit()`` with
    class names needs no data at all; ``X`` holds image embeddings (e.g. from
    :class:`ClipImageEmbedder`) and is checked, never learned from (except by a
    ``selection`` that learns from unlabelled images, such as ZPE).

    Parameters
    ----------
    model : str or TextImageEncoder, default="ViT-B-32"
        A model string in one of the forms of the table of backends
        (:func:`~skclip_sage.encoders.model_forms`; :func:`~skclip_sage.encoders.available_models`
        also lists the paper's backbones):

        %(model_forms)s

        or an object with ``encode_text``, ``embedding_dim`` and ``logit_scale``.
        Such an object is used as given, except that a ``torch.nn.Module`` encodes
        the prompts in eval mode without autograd (dropout would make the text bank
        random); its training flag is restored afterwards.
    pretrained : str or None, default="laion2b_s34b_b79k"
        Weights tag or local checkpoint file for a model name; ignored otherwise.
    templates : str, path-like or list of str, default="openai_imagenet"
        A built-in set (``"openai_imagenet"``: 80 templates, ``"simple"``: 7), a
        template file as a path object (``pathlib.Path("templates.txt")``: one per
        line, ``#`` comments, read as ``--templates`` reads it; see
        :func:`~skclip_sage.prompts.read_template_file`) or templates each with one
        ``{}`` for the class name.
    class_names : dict, list of str or list of lists of str, default=None
        The text of each class; a class may have several texts (synonyms,
        descriptions: for every template its embedding is the normalised mean of
        the unit embeddings of that template applied to each text).

        - ``{label: text or [texts]}``: the dict defines the classes, ``classes_``
          being its sorted keys whatever subset of them ``y`` holds (so every
          cross-validation fold has the same columns); a label in ``y`` that the
          dict does not name is an error.
        - a list of str without ``y``: the names are the labels.
        - a list with ``y``: string labels that are among the names pair by
          value (the names are the labels, as without ``y``); integer labels in
          ``0..C-1`` pair by position, label ``i`` taking item ``i`` (a text or a
          list of texts). Either way the list defines all ``C`` classes. Any other
          labels (strings that are not the names, other numbers, booleans) are
          refused in ``fit`` with the dict to write instead.
        - None: each label of ``y`` is its own text.
    text_debias : OrthogonalCalibration, default=None
        A text-side debiasing (:class:`~skclip_sage.debias.OrthogonalCalibration`:
        Orth-Proj or Orth-Cali), fitted in ``fit`` with this model's encoder and
        applied to every template x class embedding before any template selection,
        so it stacks with every ``selection``. None leaves the text bank as encoded.
    selection : str or selection method object, default="sage"
        How an image's per-template class similarities become its class scores: a
        name from ``skclip_sage.selection.SELECTION_METHODS`` (the method with its
        defaults) or a method object carrying its options, searchable as
        ``selection__<option>``: ``ZPE(threshold=..., reference=...)``,
        ``AutoCLIP(beta=...)``, ``PerceptionCLIP(temperature=...)`` (from
        ``skclip_sage.selection``; their pages document the options).
        ``"sage"``: the ``k`` best-separated templates per image. ``"ensemble"``:
        all templates. ``"single"``: the first template. ``"random"``: ``k``
        distinct templates drawn per image. ``"text"``: ``k`` templates chosen at
        fit time from the class names alone. ``"random_with_replacement"``: the
        paper code's random baseline (``k`` independent draws per image).
        ``"score_average"``: the mean of the template similarities (WaffleCLIP).
        ``"autoclip"``: per-image template weights (AutoCLIP). ``"zpe"``: weights
        learned in ``fit`` from the unlabelled ``X`` (ZPE). ``"perception"``: the
        templates are values of a contextual attribute (PerceptionCLIP).
        :func:`~skclip_sage.selection.register_selection` adds a method.
    k : int, default=1
        Templates used per image by the methods that keep ``k`` (``"sage"``,
        ``"random"``, ``"text"``, ...); ``1 <= k <= n_templates``. With
        ``k == n_templates`` SAGE is the ensemble.
    pool_size : int, default=None
        When set, ``fit`` first keeps the ``pool_size`` templates ``pool_by`` ranks
        best and every selection runs over that pool.
    pool_by : {"text", "zpe"}, default="text"
        How ``pool_size`` chooses the pool, a method of the table that ranks
        templates: ``"text"`` from the class names alone; ``"zpe"`` the templates
        with the highest ZPE scores on the unlabelled ``X`` given to ``fit`` (so
        ``fit`` needs ``X``), e.g. ZPE pruning the pool and SAGE selecting per
        image within it.
    autoclip_beta, perception_temperature, zpe_threshold, zpe_reference : default=None
        Deprecated (``FutureWarning`` at ``fit``): the options of
        ``AutoCLIP(beta=...)``, ``PerceptionCLIP(temperature=...)`` and
        ``ZPE(threshold=..., reference=...)`` as flat parameters. With
        ``selection`` given as the method's name they set that option (None: the
        method's default) exactly as before; with a method object they must stay None.
    temperature : float, default=None
        Softmax temperature for probabilities, at least ``1e-300`` (below that
        float64 logits overflow); default ``1 / logit_scale`` of the model
        (``0.01`` for CLIP). Probabilities are computed in float64 from the
        max-shifted similarities, so they stay finite for every accepted value.
    truncate : bool, default=False
        Allow prompts longer than the text context (cut, with a warning) instead
        of raising.
    random_state : int, RandomState or Generator, default=None
        Seeds the random selections. ``fit`` takes one seed from it
        (``random_seed_``: the int itself, one draw from a RandomState or
        Generator, fresh entropy for None) and every later call replays the draws
        of that seed, so ``predict``, ``predict_proba`` and ``selected_templates``
        agree on the same ``X``; a new ``fit`` takes a new seed. The draws depend
        on a row's position in the call, not on its values. The global NumPy and
        torch random states are never used.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where the text encoder runs and, on CUDA, where predictions are computed.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast precision of the encoder (``"auto"``: bf16/fp16 on GPU, fp32 on CPU).
    batch_size : int, default=256
        Prompts encoded per forward pass.
    cache_dir : str or path-like, default=None
        Where downloaded weights and encoded text banks are kept.
    verbose : bool or int, default=False
        Show a progress bar (tqdm, on stderr) while ``fit`` encodes the prompts;
        predictions never print.
    on_nan : {"raise", "propagate"}, default="raise"
        Rows of ``X`` holding NaN or infinity (images that
        :class:`ClipImageEmbedder` with ``on_error="warn"`` could not embed):
        ``"raise"`` refuses them, naming them; ``"propagate"`` gives them NaN rows
        from :meth:`predict_proba`, :meth:`decision_function` and
        :meth:`class_similarities`, ``nan_label`` from :meth:`predict` and -1 from
        :meth:`selected_templates`, with one
        :class:`~skclip_sage.exceptions.NonFiniteRowsWarning` naming them; every
        other row is computed exactly as without them. ``fit`` ignores such rows
        (and refuses an ``X`` without a finite row when it learns from ``X``).
    nan_label : object, default=None
        What :meth:`predict` gives a NaN row under ``on_nan="propagate"``; None
        picks by the labels' type: NaN for float labels, -1 for integers, ``""``
        for strings, None otherwise. Under ``on_nan="propagate"``, ``fit`` refuses
        one that is a class, or one that does not fit the classes' type (e.g.
        ``"unknown"`` for integer labels, which would turn every prediction into a
        string), so predictions keep their dtype; boolean, unsigned and object
        labels have no spare value of their type, so there the predictions become
        an object array when a row is NaN. :meth:`score` and the group scorers
        count a ``nan_label`` prediction as wrong.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels; the column order of :meth:`predict_proba`.
    class_names_ : list of (str or list of str)
        The text used for each class in prompts, aligned with ``classes_``: a
        string, or the list of texts whose embeddings are averaged.
    templates_ : list of str
        The template pool (after ``pool_size`` pruning).
    text_debias_ : OrthogonalCalibration
        The fitted copy of ``text_debias``, when one was given.
    text_embeddings_ : ndarray of shape (n_templates, n_classes, n_features), float32
        Unit-norm embedding of every template applied to every class name.
    fitted_selection_ : dict
        What ``fit`` learned for the selection method, the one state scoring reads
        (plain data: ``"key"``, ``"templates"``, ``"learned"``; see
        :func:`~skclip_sage.selection.fit_selection`). A parameter changed after
        ``fit`` is read at prediction when the state does not depend on it;
        otherwise what depends only on the text bank is chosen again, and what was
        learned from images asks for a new ``fit``.
    selected_templates_ : ndarray of shape (n_selected,)
        For the methods that give every image the same templates (``"single"``,
        ``"ensemble"``, ``"text"``, the aggregations): their indices (for
        ``"zpe"``, those kept). Read from ``fitted_selection_``.
    template_scores_, template_weights_ : ndarray of shape (n_templates,)
        What ZPE learned (its score of each template on the ``X`` given to ``fit``
        and the weights, summing to 1, 0 for the templates its threshold removed);
        every entry a method learns is exposed this way, read from ``fitted_selection_``.
    logit_scale_ : float
        The model's similarity-to-logit multiplier.
    resolved_model_ : str
        ``model`` with a relative ``local-dir:`` or ``transformers:`` folder made
        absolute at ``fit``; only when ``model`` is a string.
    random_seed_ : int
        The seed the random selections replay on every call (see ``random_state``).
    n_features_in_ : int
        Width of the image embeddings, equal to the text embedding width (the
        encoder's ``embedding_dim`` when ``fit`` had no ``X``).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of ``X``, when it is a DataFrame with string column names.

    See Also
    --------
    ClipImageEmbedder : Turns images into the embeddings this classifier takes.

    References
    ----------
    Ye, Wang, Zheng, Liu, Zhang. "SAGE: Spuriousness-Aware Guided Prompt
    Exploration for Mitigating Multimodal Bias", AAAI 2026 (arXiv:2511.13005).

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage import SageZeroShotClassifier
    >>> class ToyEncoder:  # any object with these three members works as a model
    ...     identity, embedding_dim, logit_scale = "toy", 2, 100.0
    ...     def encode_text(self, texts):
    ...         return np.array([[1.0, 0.1] if "cat" in t else [0.1, 1.0] for t in texts])
    >>> clf = SageZeroShotClassifier(ToyEncoder(), templates=["a photo of a {}."], class_names=["cat", "dog"])
    >>> clf.fit().predict([[0.9, 0.2], [0.0, 1.0]])  # no X, no y: the names are the task
    array(['cat', 'dog'], dtype='<U3')
    >>> names = {0: ["cat", "kitten"], 1: "dog"}  # a class may have several texts
    >>> SageZeroShotClassifier(ToyEncoder(), templates=["a photo of a {}."], class_names=names).fit().classes_
    array([0, 1])
    """

    _parameter_constraints: dict = {
        **TEXT_MODEL_CONSTRAINTS,
        "templates": [str, os.PathLike, list, tuple, np.ndarray],
        "class_names": [dict, list, tuple, np.ndarray, None],
        "text_debias": [HasMethods(["fit_texts", "transform"]), None],
        # The live set of the table's names: a registered method is accepted too.
        "selection": [StrOptions(SELECTION_NAMES), SelectionOptions],
        "k": [Interval(Integral, 1, None, closed="left")],
        "pool_size": [Interval(Integral, 1, None, closed="left"), None],
        "pool_by": [StrOptions(POOL_NAMES)],
        # Deprecated flat options: checked by the method object they build (resolve).
        **{name: "no_validation" for name in LEGACY_PARAMETERS},
        "temperature": [Interval(Real, 1e-300, None, closed="left"), None],
        "random_state": ["random_state", np.random.Generator],
        "verbose": ["verbose"],
        "on_nan": [StrOptions(set(ON_NAN))],
        "nan_label": "no_validation",
    }

    def __init__(
        self,
        model="ViT-B-32",
        *,
        pretrained="laion2b_s34b_b79k",
        templates="openai_imagenet",
        class_names=None,
        text_debias=None,
        selection="sage",
        k=1,
        pool_size=None,
        pool_by="text",
        autoclip_beta=None,
        perception_temperature=None,
        zpe_threshold=None,
        zpe_reference=None,
        temperature=None,
        truncate=False,
        random_state=None,
        device="auto",
        precision="auto",
        batch_size=256,
        cache_dir=None,
        verbose=False,
        on_nan="raise",
        nan_label=None,
    ):
        self.model = model
        self.pretrained = pretrained
        self.templates = templates
        self.class_names = class_names
        self.text_debias = text_debias
        self.selection = selection
        self.k = k
        self.pool_size = pool_size
        self.pool_by = pool_by
        self.autoclip_beta = autoclip_beta
        self.perception_temperature = perception_temperature
        self.zpe_threshold = zpe_threshold
        self.zpe_reference = zpe_reference
        self.temperature = temperature
        self.truncate = truncate
        self.random_state = random_state
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.verbose = verbose
        self.on_nan = on_nan
        self.nan_label = nan_label

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Decide the classes and encode their prompts; no image is learned from.

        With ``class_names`` given, ``fit()`` needs neither ``X`` nor ``y``: the
        names are the task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Image embeddings; only their width is checked against the model.
            When omitted, ``n_features_in_`` is the encoder's ``embedding_dim``.
            The exception is a ``selection`` (or ``pool_by``) that learns from
            these unlabelled rows, such as ZPE, and so needs them.
        y : array-like of shape (n_samples,), default=None
            Labels; only the set of classes is used. Required when
            ``class_names`` is None; with a dict ``class_names`` every label must be
            one of its keys, with a list one of its names (or an integer index into it).

        Returns
        -------
        self : SageZeroShotClassifier
            The fitted classifier.
        """
        X, labels = self._check_fit_input(X, y)
        classes, class_names = resolve_classes(self.class_names, labels)
        if len(classes) < 2:
            source = "y" if labels is not None and not isinstance(self.class_names, Mapping) else "class_names"
            raise ValueError(
                f"SageZeroShotClassifier needs at least 2 classes; got 1 class ({classes.tolist()[0]!r}) in {source}."
            )
        if self.device not in ("auto", "cpu"):
            # Also for an injected encoder: predictions run on this device.
            from .encoders import resolve_device

            resolve_device(self.device)
        record, method = resolve(self.selection, self._flat_options(), warn=True)
        templates = resolve_templates(self.templates)
        self._check_counts(record, len(templates), X)  # before any model is loaded or prompt encoded
        if isinstance(self.model, str):
            self.resolved_model_ = absolute_model(self.model)
        elif hasattr(self, "resolved_model_"):
            del self.resolved_model_
        encoder = self._load_encoder()
        bank = self._text_bank(encoder, templates, class_names, X)
        logit_scale = float(encoder.logit_scale)
        unit_X = images_to_learn_from(X, self.selection, self.pool_by, self.pool_size, bank.dtype)
        if self.pool_size is not None:
            kept = pool_templates(self.pool_by, bank, self.pool_size, unit_images=unit_X, logit_scale=logit_scale)
            templates, bank = [templates[index] for index in kept], bank[kept]
        # Learned before any fitted attribute changes: a refit that fails here leaves the earlier fit whole.
        fitted_selection = fit_selection(record, method, bank, k=self.k, unit_images=unit_X, logit_scale=logit_scale)
        self.classes_ = classes
        self.class_names_ = class_names
        self.templates_ = templates
        self.text_embeddings_ = bank
        self.logit_scale_ = logit_scale
        if self.on_nan == "propagate":
            self._nan_label()  # at fit, not at the first NaN row
        self.random_seed_ = seed_of(self.random_state)
        self.fitted_selection_ = fitted_selection
        return self

    def _check_counts(self, record, n_templates, X):
        """``pool_size``, ``pool_by`` and ``k`` against the templates, and the images the method learns from."""
        described = repr(self.templates) if isinstance(self.templates, str) else "the templates given"
        pool = f"the templates in {described}"
        if self.pool_size is not None:
            check_count("pool_size", self.pool_size, n_templates, pool)
            pool = f"the pool_size={self.pool_size} templates kept from {described}"
        check_k(record, self.k, self.pool_size or n_templates, pool)
        if record.learns_from_images and X is None:
            raise ValueError(
                f"selection={self.selection!r} learns its template weights from unlabelled image embeddings: "
                "pass them to fit as X (no labels needed; with class_names, fit(X) alone)."
            )
        pooling = SELECTION_METHODS[self.pool_by]
        if self.pool_size is None and pooling.pool_needs_images:
            raise ValueError(
                f"pool_by={self.pool_by!r} chooses the pool_size templates to keep; set pool_size as well."
            )
        if self.pool_size is not None and pooling.pool_needs_images and X is None:
            raise ValueError(f"pool_by={self.pool_by!r} keeps {pooling.pool_summary}: pass them to fit as X.")

    def _text_bank(self, encoder, templates, class_names, X):
        """The encoded (and debiased) template x class bank; sets ``n_features_in_`` when there is no X."""
        bank = encode_text_bank(
            encoder,
            templates,
            class_names,
            batch_size=self.batch_size,
            truncate=self.truncate,
            cache_dir=self.cache_dir,
            verbose=self.verbose,
        )
        self._fitted_without_X = X is None  # then no column names exist to check a DataFrame against
        if X is None:
            self.n_features_in_ = self._encoder_width(encoder, bank.shape[2])
        elif X.shape[1] != bank.shape[2]:
            raise ValueError(
                f"X has {X.shape[1]} features, but SageZeroShotClassifier is expecting {bank.shape[2]} features "
                f"as input ({self._width_note()}). Embed the images with the same model."
            )
        if self.text_debias is None:
            if hasattr(self, "text_debias_"):
                del self.text_debias_  # left by an earlier fit with a text_debias
            return bank
        # Before any selection (pool_size included): every mode sees the debiased bank.
        self.text_debias_ = clone(self.text_debias).fit_texts(
            encoder, batch_size=self.batch_size, truncate=self.truncate, cache_dir=self.cache_dir
        )
        return self.text_debias_.transform(bank)

    def _check_fit_input(self, X, y):
        """Validated ``X`` (or None) and the sorted labels of ``y`` (or None)."""
        if y is None and self.class_names is None:
            raise ValueError(
                "SageZeroShotClassifier requires y to be passed, but the target y is None: the classes (and so "
                "the prompts) come from its labels. Pass y, or class_names={label: name, ...} to fit from the "
                "names alone."
            )
        if X is None:
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_  # left by an earlier fit on a DataFrame
            if y is None:
                return None, None
            y = column_or_1d(y, warn=True)
        else:
            refuse_images(X, "fit")
            if y is None:
                X = validate_data(self, X, dtype=(np.float32, np.float64), ensure_all_finite=False)
            else:
                X, y = validate_data(self, X, y, dtype=(np.float32, np.float64), ensure_all_finite=False)
        if X is not None:
            finite = finite_rows(
                row_scaling(X).non_finite, len(X), on_nan=self.on_nan, owner=type(self).__name__, method="fit"
            )
            if finite is not None and not len(finite):
                self._refuse_no_finite_row(len(X))
            X = X if finite is None else X[finite]
        if y is None:
            return X, None
        labels = sorted_labels(y)  # before sklearn's check: None or mixed types get a clear message
        check_classification_targets(y)
        return X, labels

    def _refuse_no_finite_row(self, n_rows):
        """An X without a finite row cannot teach a method that learns from X (it learned NaN weights)."""
        learner = image_learner(self.selection, self.pool_by, self.pool_size)
        if learner is not None:
            raise ValueError(
                f"All {n_rows} rows of X hold NaN or infinity, and {learner} learns its template weights from "
                "the finite rows of X given to fit (on_nan='propagate' leaves the others out): pass image "
                "embeddings of which at least one is finite."
            )

    def _encoder_width(self, encoder, width):
        """``n_features_in_`` without an X: the encoder's ``embedding_dim``, which its texts must have."""
        declared = getattr(encoder, "embedding_dim", None)
        if declared is not None and int(declared) != width:
            model = self.model if isinstance(self.model, str) else type(self.model).__name__
            raise ValueError(
                f"The encoder of {model!r} declares embedding_dim={declared}, but its encode_text returned "
                f"{width} features; make embedding_dim the width of its embeddings."
            )
        return width

    def _load_encoder(self):
        """The text encoder for ``model`` (a seam for tests: called after ``n_features_in_`` is set)."""
        # Only fit loads it, in the directory resolved_model_ was just resolved against: load_encoder
        # resolves a relative folder the same way.
        return load_encoder(
            self.model, self.pretrained, device=self.device, precision=self.precision, cache_dir=self.cache_dir
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        name = getattr(self.selection, "name", self.selection)
        method = SELECTION_METHODS.get(name) if isinstance(name, str) else None  # tags may be read before fit
        tags.non_deterministic = method is not None and method.random and self.random_state is None
        return tags
