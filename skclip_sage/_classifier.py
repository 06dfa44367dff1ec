"""SageZeroShotClassifier: scikit-learn's classifier interface over SAGE scoring.

A thin layer: it validates input, prepares the text bank in ``fit`` and delegates
every number to :mod:`skclip_sage.selection._scoring`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from .encoders import PRECISIONS, absolute_model, compute_device, load_encoder
from .exceptions import NotFittedError
from .prompts import encode_text_bank, resolve_classes, resolve_templates, sorted_labels
from .selection import (
    SELECTION_METHODS,
    SELECTIONS,
    SELECTIONS_USING_K,
    RowScaling,
    l2_normalize,
    row_scaling,
    score_embeddings,
    softmax,
    text_selected_templates,
    zpe_template_scores,
)
from .utils._nan_rows import ON_NAN, finite_rows, scatter_rows


class SageZeroShotClassifier(ClassifierMixin, BaseEstimator):
    """Zero-shot CLIP classifier with per-image prompt selection (SAGE).

    For each image, SAGE scores every prompt template by how far apart it pushes
    the classes (highest minus lowest class similarity), keeps the ``k`` best
    templates, averages their class text embeddings and classifies with those. It
    needs no training, labels or bias annotations: ``fit`` only decides which classes
    exist (from ``class_names`` or ``y``) and encodes the prompts, so ``fit()`` with
    class names needs no data at all; ``X`` holds image embeddings (e.g. from
    :class:`ClipImageEmbedder`) and is checked, never learned from.

    Parameters
    ----------
    model : str or TextImageEncoder, default="ViT-B-32"
        An open_clip model name, ``"local-dir:/path"`` (a folder with
        ``open_clip_config.json`` and weights: fully offline), ``"hf-hub:org/repo"``,
        ``"transformers:org/repo"`` or ``"transformers:/path"`` (Hugging Face CLIP,
        SigLIP, ALIGN, AltCLIP; see :func:`~skclip_sage.encoders.available_models`),
        an existing folder given bare (its files tell the backend; see
        :func:`~skclip_sage.encoders.model_forms`),
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
        - a list with ``y``: one entry (a text or a list of texts) per label, in
          sorted label order.
        - a list of str without ``y``: the names are the labels.
        - None: each label of ``y`` is its own text.
    text_debias : OrthogonalCalibration, default=None
        A text-side debiasing (:class:`~skclip_sage.debias.OrthogonalCalibration`:
        Orth-Proj or Orth-Cali), fitted in ``fit`` with this model's encoder and
        applied to every template x class embedding before any template selection,
        so it stacks with every ``selection``. None leaves the text bank as encoded.
    selection : {"sage", "ensemble", "single", "random", "text", "random_with_replacement", "score_average", "autoclip", "zpe", "perception"}, default="sage"
        ``"sage"``: the ``k`` best-separated templates per image. ``"ensemble"``:
        all templates. ``"single"``: the first template. ``"random"``: ``k``
        distinct templates drawn per image. ``"text"``: ``k`` templates chosen at
        fit time from the class names alone (smallest worst-pair similarity between
        classes). ``"random_with_replacement"``: the paper code's random baseline,
        ``k`` independent draws per image (a repeated template weighs twice).
        The training-free relatives of SAGE use every template and combine their
        similarities: ``"score_average"``: the mean of the template similarities
        (WaffleCLIP's aggregation; ``"ensemble"`` averages the embeddings instead).
        ``"autoclip"``: a weighted mean with weights chosen per image (AutoCLIP,
        see ``autoclip_beta``). ``"zpe"``: a weighted mean with weights learned in
        ``fit`` from the unlabelled image embeddings ``X`` (ZPE, transductive: see
        ``zpe_threshold`` and ``zpe_reference``). ``"perception"``: the templates
        are values of a contextual attribute (e.g. ``templates="perception_waterbirds"``)
        and ``P(y|x) = sum_z P(z|x) P(y|x,z)`` (PerceptionCLIP, see
        ``perception_temperature``). The methods are listed in
        ``skclip_sage.selection.SELECTION_METHODS``.
    k : int, default=1
        Templates used per image by ``"sage"``, ``"random"`` and ``"text"``;
        ``1 <= k <= n_templates``. With ``k == n_templates`` SAGE is the ensemble.
    pool_size : int, default=None
        When set, ``fit`` first keeps the ``pool_size`` templates best separated in
        text (the ``"text"`` criterion) and every selection runs over that pool.
    pool_by : {"text", "zpe"}, default="text"
        How ``pool_size`` chooses the pool: ``"text"`` from the class names alone;
        ``"zpe"`` the templates with the highest ZPE scores on the unlabelled ``X``
        given to ``fit`` (so ``fit`` needs ``X``), e.g. ZPE pruning the pool and SAGE
        selecting per image within it.
    autoclip_beta : float, default=0.85
        ``selection="autoclip"``: entropy of each image's template weights as a
        fraction of ``log2(n_templates)`` bits, in ``[0, 1]``; 1 gives uniform
        weights (``"score_average"``), smaller values let fewer templates dominate.
        0.85 is the paper's default. Read at prediction time.
    perception_temperature : float, default=1.0
        ``selection="perception"``: temperature ``tau > 0`` of the attribute
        posterior ``P(z|x)``, proportional to ``sum_y exp(f(y, z) / tau)``; the
        official scripts sweep 0.5 to 10. Read at prediction time.
    zpe_threshold : float, default=None
        ``selection="zpe"``: None weights every template by the softmax of its
        score; a float keeps only the templates whose robust z-score
        ``(score - median) / MAD`` exceeds it (the paper uses 0.5 on ImageNet-like
        data, 2.0 on fine-grained data) and weights those. ``fit`` raises when no
        template passes.
    zpe_reference : array-like of shape (n_reference, n_features), default=None
        ``selection="zpe"``: embeddings of a generic image sample (e.g. images like
        the model's pretraining data), whose mean logits are averaged with those of
        ``X`` before scoring the templates (the paper's ``'both'`` mode). None uses
        ``X`` alone (its ``'test'`` mode).
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
        other row is computed exactly as without them. ``fit`` ignores such rows.
    nan_label : object, default=None
        What :meth:`predict` gives a NaN row under ``on_nan="propagate"``; None
        picks by the labels' type: NaN for float labels, -1 for integers, ``""``
        for strings, None otherwise. It must not be one of the classes.

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
    selected_templates_ : ndarray of shape (n_selected,)
        For the fixed selections (``"single"``, ``"ensemble"``, ``"text"`` and the
        aggregations ``"score_average"``, ``"autoclip"``, ``"zpe"``, ``"perception"``):
        the template indices every image uses (for ``"zpe"``, those kept).
    template_scores_ : ndarray of shape (n_templates,)
        ``selection="zpe"``: each template's score on the ``X`` given to ``fit``
        (mean over images of its largest bias-corrected logit).
    template_weights_ : ndarray of shape (n_templates,)
        ``selection="zpe"``: the weights of the templates in the class scores,
        summing to 1 (0 for templates ``zpe_threshold`` removed).
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
        "model": [str, HasMethods(["encode_text"])],
        "pretrained": [str, os.PathLike, None],
        "templates": [str, os.PathLike, list, tuple, np.ndarray],
        "class_names": [dict, list, tuple, np.ndarray, None],
        "text_debias": [HasMethods(["fit_texts", "transform"]), None],
        "selection": [StrOptions(set(SELECTIONS))],
        "k": [Interval(Integral, 1, None, closed="left")],
        "pool_size": [Interval(Integral, 1, None, closed="left"), None],
        "pool_by": [StrOptions({"text", "zpe"})],
        "autoclip_beta": [Interval(Real, 0, 1, closed="both")],
        "perception_temperature": [Interval(Real, 0, None, closed="neither")],
        "zpe_threshold": [Interval(Real, None, None, closed="neither"), None],
        "zpe_reference": ["array-like", None],
        "temperature": [Interval(Real, 1e-300, None, closed="left"), None],
        "truncate": ["boolean"],
        "random_state": ["random_state", np.random.Generator],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "cache_dir": [str, os.PathLike, None],
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
        autoclip_beta=0.85,
        perception_temperature=1.0,
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
            The one exception is ``selection="zpe"``, which learns its template
            weights from these unlabelled rows and so needs them.
        y : array-like of shape (n_samples,), default=None
            Labels; only the set of classes is used. Required when
            ``class_names`` is None or a list of names aligned with the labels; with a
            dict ``class_names`` every label must be one of its keys.

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
        templates = resolve_templates(self.templates)
        # Counts are checked before any model is loaded or prompt encoded.
        pool = f"the templates in {self._templates_description()}"
        if self.pool_size is not None:
            self._check_count("pool_size", self.pool_size, len(templates), pool)
            pool = f"the pool_size={self.pool_size} templates kept from {self._templates_description()}"
        if self.selection in SELECTIONS_USING_K:
            self._check_count("k", self.k, self.pool_size or len(templates), pool)
        method = SELECTION_METHODS[self.selection]
        if method.learns_from_images and X is None:
            raise ValueError(
                f"selection={self.selection!r} learns its template weights from unlabelled image embeddings: "
                "pass them to fit as X (no labels needed; with class_names, fit(X) alone)."
            )
        if self.pool_by == "zpe" and self.pool_size is None:
            raise ValueError("pool_by='zpe' chooses the pool_size templates to keep; set pool_size as well.")
        if self.pool_by == "zpe" and X is None:
            raise ValueError(
                "pool_by='zpe' keeps the templates with the highest ZPE scores on unlabelled image embeddings: "
                "pass them to fit as X."
            )
        if isinstance(self.model, str):
            self.resolved_model_ = absolute_model(self.model)
        elif hasattr(self, "resolved_model_"):
            del self.resolved_model_
        encoder = self._load_encoder()
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
        if self.text_debias is not None:
            # Before any selection (pool_size included): every mode sees the debiased bank.
            self.text_debias_ = clone(self.text_debias).fit_texts(
                encoder, batch_size=self.batch_size, truncate=self.truncate, cache_dir=self.cache_dir
            )
            bank = self.text_debias_.transform(bank)
        elif hasattr(self, "text_debias_"):
            del self.text_debias_  # left by an earlier fit with a text_debias
        if self.pool_size is not None and self.pool_by == "zpe":
            scores = zpe_template_scores(
                l2_normalize(X)[0].astype(bank.dtype), bank, float(encoder.logit_scale), reference_embeddings=None
            )
            kept = np.argsort(-scores, kind="stable")[: self.pool_size]
            templates, bank = [templates[index] for index in kept], bank[kept]
        elif self.pool_size is not None:
            kept = text_selected_templates(bank, self.pool_size)
            templates, bank = [templates[index] for index in kept], bank[kept]
        self.classes_ = classes
        self.class_names_ = class_names
        self.templates_ = templates
        self.text_embeddings_ = bank
        self.logit_scale_ = float(encoder.logit_scale)
        self.random_seed_ = _seed_of(self.random_state)
        self._fitted_for = [self.selection, self.k]  # what selected_templates_ was chosen for
        if not method.per_image:
            self.selected_templates_ = method.choose(bank, self.k, 0, None)
        elif hasattr(self, "selected_templates_"):
            del self.selected_templates_  # left by an earlier fit with a fixed selection
        self._learn_from_images(method, X, bank)
        return self

    def _learn_from_images(self, method, X, bank):
        """Fit-time state of a transductive selection (ZPE) from the unlabelled rows of ``X``."""
        for name in ("template_scores_", "template_weights_"):
            if hasattr(self, name):
                delattr(self, name)  # left by an earlier fit with a learning selection
        self._learned_for = None
        if not method.learns_from_images:
            return
        reference = None
        if self.zpe_reference is not None:
            reference = check_array(self.zpe_reference, dtype=(np.float32, np.float64), input_name="zpe_reference")
            if reference.shape[1] != bank.shape[2]:
                raise ValueError(
                    f"zpe_reference has {reference.shape[1]} features, but SageZeroShotClassifier is expecting "
                    f"{bank.shape[2]} features ({self._width_note()}). Embed the reference images with the same model."
                )
            reference = l2_normalize(reference)[0].astype(bank.dtype)
        options = self._method_options(method)
        options["zpe_reference"] = reference
        state = method.learn(l2_normalize(X)[0].astype(bank.dtype), bank, options)
        self.template_scores_ = state["template_scores"]
        self.template_weights_ = state["template_weights"]
        self.selected_templates_ = state["templates"]
        self._learned_for = self._learning_key()

    def _learning_key(self):
        """The settings the learned weights depend on, to catch set_params between fit and predict.

        ``zpe_reference`` is left out: comparing arrays on every call would cost a pass over
        them, and like every fit-time parameter it takes effect at the next ``fit``.
        """
        return [self.selection, self.zpe_threshold]

    def _method_options(self, method):
        """The parameters an aggregating selection reads, its learned state and the logit scale."""
        options = {name: getattr(self, name) for name in method.options}
        options["logit_scale"] = self.logit_scale_
        if hasattr(self, "template_weights_"):
            options["template_weights"] = self.template_weights_
        return options

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
            _refuse_images(X, "fit")
            if y is None:
                X = validate_data(self, X, dtype=(np.float32, np.float64), ensure_all_finite=False)
            else:
                X, y = validate_data(self, X, y, dtype=(np.float32, np.float64), ensure_all_finite=False)
        if X is not None:
            finite = finite_rows(
                row_scaling(X).non_finite, len(X), on_nan=self.on_nan, owner=type(self).__name__, method="fit"
            )
            X = X if finite is None else X[finite]
        if y is None:
            return X, None
        labels = sorted_labels(y)  # before sklearn's check: None or mixed types get a clear message
        check_classification_targets(y)
        return X, labels

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
        return self._labels(np.argmax(np.nan_to_num(scores, nan=0.0), axis=1), scores)

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
        bad = np.isnan(scores).any(axis=1)
        if not bad.any():
            return labels
        fill = self._nan_label()
        labels = labels.astype(np.result_type(labels.dtype, np.asarray([fill]).dtype))
        labels[bad] = fill
        return labels

    def _nan_label(self):
        if self.nan_label is not None:
            label = self.nan_label
        else:
            label = {"f": np.nan, "i": -1, "U": "", "S": b""}.get(self.classes_.dtype.kind)
        if label is not None and label == label and np.isin(np.asarray([label], dtype=object), self.classes_).any():
            raise ValueError(
                f"nan_label={label!r} is one of the classes {self.classes_.tolist()}, so a NaN row would read as "
                "a prediction; pass SageZeroShotClassifier(nan_label=...) a value that is not a class."
            )
        return label

    def _logits(self, X, method):
        scores, _ = self._score(X, method)
        # float64: similarities over a temperature as small as 1e-39 overflow float32.
        return scores.astype(np.float64) / self._temperature()

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
        if self.selection in SELECTIONS_USING_K:
            self._check_count("k", self.k, len(self.templates_), "templates this estimator was fitted with")
        if getattr(self, "_fitted_without_X", False) and hasattr(X, "columns"):
            X = np.asarray(X)  # sklearn would warn that fit saw no feature names: fit saw no X at all
        _refuse_images(X, method)
        try:
            X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64), ensure_all_finite=False)
        except ValueError as err:
            if "features, but" in str(err):
                raise ValueError(f"{err} ({self._width_note()})") from err
            raise
        # One pass over X gives the row norms and, with them, the rows that are not finite.
        scaling = row_scaling(X)
        finite = finite_rows(
            scaling.non_finite,
            len(X),
            on_nan=self.on_nan,
            owner=type(self).__name__,
            method=method,
            stacklevel=4 if method == "decision_function" else 3,
        )
        n_rows = len(X)
        if finite is not None:
            X = X[finite]
            scaling = RowScaling(scaling.rows[finite], scaling.norms[finite], np.empty(0, dtype=np.intp))
        # After set_params(selection=..., k=...) the fixed templates are chosen again from the bank.
        fitted_for = getattr(self, "_fitted_for", [self.selection, self.k])
        fixed = getattr(self, "selected_templates_", None) if fitted_for == [self.selection, self.k] else None
        selection_method = SELECTION_METHODS[self.selection]
        if selection_method.learns_from_images and getattr(self, "_learned_for", None) != self._learning_key():
            raise NotFittedError(
                f"selection={self.selection!r} learns its template weights in fit, and this SageZeroShotClassifier "
                "was fitted with other settings (set_params after fit). Call 'fit' with the image embeddings again "
                f"before calling '{method}'."
            )
        scores, selected = score_embeddings(
            X,
            self.text_embeddings_,
            selection=self.selection,
            k=self.k,
            fixed_templates=fixed,
            random_state=getattr(self, "random_seed_", self.random_state),
            device=compute_device(self.device),
            scaling=scaling,
            options=self._method_options(selection_method),
        )
        if finite is None:
            return scores, selected
        return scatter_rows(scores, finite, n_rows, np.nan), scatter_rows(selected, finite, n_rows, -1)

    def _check_count(self, name, value, n_templates, pool):
        if value > n_templates:
            raise ValueError(
                f"{name}={value} is larger than the template pool: choose 1 <= {name} <= {n_templates} "
                f"(the number of {pool})."
            )

    def _templates_description(self):
        return repr(self.templates) if isinstance(self.templates, str) else "the templates given"

    def _width_note(self):
        model = self.model if isinstance(self.model, str) else type(self.model).__name__
        return f"the width of the {model!r} text embeddings"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        method = SELECTION_METHODS.get(self.selection)  # tags may be read before fit validates
        tags.non_deterministic = method is not None and method.random and self.random_state is None
        return tags


def _refuse_images(X, method):
    """Say where images go when paths or pictures reach the classifier, which takes embeddings.

    Without this numpy answers "could not convert string to float"; only the first
    item is looked at, so a numeric ``X`` costs nothing.
    """
    if isinstance(X, (str, os.PathLike, bytes)):
        first = X
    elif isinstance(X, np.ndarray):
        first = X.flat[0] if X.dtype.kind in "OUS" and X.size else None
    elif hasattr(X, "iloc"):  # pandas
        first = X.iloc[0, 0] if getattr(X, "ndim", 1) == 2 and X.size else X.iloc[0] if len(X) else None
    elif isinstance(X, (list, tuple)) and X:
        first = X[0][0] if isinstance(X[0], (list, tuple)) and X[0] else X[0]
    else:
        first = None
    is_image = type(first).__module__.startswith("PIL.") or isinstance(first, (str, os.PathLike, bytes))
    if is_image:
        raise ValueError(
            f"SageZeroShotClassifier.{method} takes image embeddings (numbers), but X holds "
            f"{type(first).__name__} items such as {first!r:.80}: images or their paths. Embed them first with "
            "ClipImageEmbedder, e.g. make_pipeline(ClipImageEmbedder(model), SageZeroShotClassifier(model, ...))."
        )


def _seed_of(random_state) -> int:
    """One seed per fit, so every later call of ``selection="random"`` replays the same draws.

    An int is its own seed; a RandomState or Generator gives one draw; None takes
    fresh entropy from the operating system (never the global NumPy state).
    """
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    return int(np.random.SeedSequence().entropy)
