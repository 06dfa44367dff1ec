"""The demo end to end: benchmark, caption design, tiny CLIP (trained once, then reused), comparison.

Everything lands in one output folder::

    output/coloured_digits/   the benchmark (images, manifest.csv, train.csv, test.csv)
    output/model/             the trained model, a local-dir: folder (+ training.json, demo.json)
    output/cache/             image-embedding and text caches, so a rerun embeds nothing
    output/templates.txt      the 20 caption templates, for the CLI's --templates
    output/results.{md,csv,png}, output/selections.csv, output/results.written-by
    output/report.html        the same comparison as one self-contained HTML page
    output/demo-files.json    every file above that the demo wrote, with its SHA-256

The demo writes only files it wrote before, as ``demo-files.json`` records them
(see ``_files.py``): a file of the user's at any of these paths (their own
``templates.txt``, a model in ``model/``, an image in ``coloured_digits/images/``)
is never overwritten or deleted, with or without ``force``; the run refuses
before any work instead. New files are written aside and moved in.

The model is reused when ``model/demo.json`` records the same recipe (benchmark
arguments, caption design, model configuration, training arguments and seed);
anything else retrains it, so a reused model is always the one the arguments
describe, and a model trained for one design never serves another.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from sklearn.utils import Bunch

from ..comparison import (
    DEBIAS_MODES,
    PAPER_MODES,
    compare_methods,
    debias_methods,
    selection_methods,
    single_template_methods,
    write_report_html,
)
from ._captions import CAPTION_TEMPLATES
from ._concepts import coloured_digits_concepts
from ._design import caption_sources, design_captions, design_record, pool_sources
from ._digits import DIGIT_NAMES, benchmark_settings
from ._files import WrittenFiles
from ._layout import CACHE, MODEL, check_output_folder, place_benchmark, place_model, place_results, recorded_model
from ._report import demo_lead, demo_notes
from ._training import tiny_clip_config, train_tiny_clip

__all__ = ["run_demo"]

K_VALUES = (1, 3, 5, 10, 20)
LOGGER = logging.getLogger(__name__)


def _trained_model(files, recipe, digits, sources, log, verbose, num_threads):
    """The model for ``recipe``: the one the demo trained in ``model/`` if it was trained so, else a new one."""
    folder = files.folder / MODEL
    model = f"local-dir:{folder.resolve()}"
    stored = recorded_model(files)
    if stored is not None and stored.get("recipe") == recipe:
        log(f"reusing the tiny CLIP in {folder} (trained with the same recipe, design and seed)")
        return model, stored["summary"], True
    train = digits.split == "train"
    log(f"training a tiny CLIP on {int(train.sum())} captioned images (a few minutes on 2 CPU cores)")
    colour_names = np.asarray(digits.colour_names)[digits.colour[train]]
    captions = design_captions(digits.target[train], colour_names, sources, recipe["design"]["name"])
    staging = files.staging()
    try:
        _, summary = train_tiny_clip(
            digits.data[train],
            captions,
            staging,
            model_cfg=recipe["model_cfg"],
            num_threads=num_threads,
            verbose=verbose,
            log=log,
            **recipe["training"],
        )
        log(str(summary))
        summary_text = str(summary)
        place_model(files, staging, {"recipe": recipe, "summary": summary_text})
    finally:
        files.discard(staging)
    return model, summary_text, False


def _write_report(folder, output, rows, digits, class_names, design, seed, started):
    """report.html in ``folder`` (the staging folder): the same comparison as one self-contained page, with the failing digits."""
    test = digits.split == "test"
    return write_report_html(
        folder / "report.html",
        rows,
        title=f"coloured digits, caption design '{design}' (test split, seed {seed})",
        model=f"tiny CLIP trained here ({output / 'model'})",
        images={
            "sources": list(digits.data[test]),
            "labels": digits.target[test],
            "groups": np.asarray(digits.group_names, dtype=object)[digits.groups[test]],
            "label_names": class_names,
        },
        run={
            "command": f"skclip-sage demo --output {output} --design {design} --seed {seed}",
            "templates": list(CAPTION_TEMPLATES),
            "timings": {"the demo up to the report": time.perf_counter() - started},
        },
    )


def _check_k_values(k_values):
    """Each K must fit the pool of 20 caption templates, as the classifier requires."""
    n_templates = len(CAPTION_TEMPLATES)
    bad = [
        k for k in k_values if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_templates
    ]
    if not len(k_values) or bad:
        raise ValueError(
            f"k_values must be integers between 1 and {n_templates} (the demo's caption templates); got {list(k_values)}."
        )


def run_demo(
    output="results",
    *,
    design="sources",
    seed=0,
    epochs=60,
    n_train=1500,
    n_test=None,
    n_colours=2,
    majority_fraction=0.8,
    model_cfg=None,
    batch_size=128,
    max_lr=1e-3,
    k_values=K_VALUES,
    modes=None,
    debias_modes=DEBIAS_MODES,
    plot=True,
    num_threads="auto",
    force=False,
    verbose=True,
    log=None,
):
    """Write the coloured-digits benchmark, train (or reuse) a tiny CLIP, and compare the methods on it.

    Parameters
    ----------
    output : path-like, default="results"
        Folder for the benchmark, the model, the caches and the results.
    design : {"sources", "uniform"}, default="sources"
        The caption design (see :func:`caption_sources`): two caption sources
        with different colour leakage, or the control, every template for every
        training image.
    seed : int, default=0
        Non-negative; seeds the benchmark, the caption sources, the training and the random
        selection modes.
    epochs : int, default=60
        Training epochs.
    n_train : int, default=1500
        Training digits (see :func:`write_coloured_digits`).
    n_test : int, default=None
        Test digits, each drawn in every colour; None: every digit left.
    n_colours : int, default=2
        Stroke colours (digit ``d``'s own colour is colour ``d % n_colours``).
    majority_fraction : float, default=0.8
        Share of each digit's training images drawn in its own colour.
    model_cfg : dict, default=None
        open_clip configuration; default :func:`tiny_clip_config` ``()``.
    batch_size : int, default=128
        Training batch size.
    max_lr : float, default=1e-3
        Peak of the one-cycle learning rate.
    k_values : sequence of int, default=(1, 3, 5, 10, 20)
        Values of K for the modes that use it, each between 1 and 20 (the pool
        has 20 templates; a larger K is refused, as the classifier refuses it).
    modes : sequence of str, default=None
        Selection modes to compare, as :func:`~skclip_sage.comparison.selection_methods`;
        None takes the comparison's default (``PAPER_MODES``), so a mode added there
        appears here too. ``single`` becomes one row per template of the pool
        (:func:`~skclip_sage.comparison.single_template_methods`), grouped by
        caption source.
    debias_modes : sequence of str, default=DEBIAS_MODES
        Debiasing rows, as :func:`~skclip_sage.comparison.debias_methods`, with the
        texts of :func:`coloured_digits_concepts`; TIE* fits on the training split.
    plot : bool, default=True
        Also write ``results.png`` and ``report.html`` (:func:`~skclip_sage.comparison.write_report_html`;
        both need matplotlib, the ``[plot]`` extra).
    num_threads : "auto", int or None, default="auto"
        torch threads while training (see :func:`train_tiny_clip`); not part of
        the recipe, so a model trained with another thread count is reused.
    force : bool, default=False
        Also replace files the demo wrote that were changed since (an edited
        ``templates.txt``, say). Files the demo did not write (as ``demo-files.json``
        records) are never overwritten or deleted, with or without ``force``.
    verbose : bool, default=True
        Progress bars on stderr (when it is a terminal) while training and embedding.
    log : callable, default=None
        Called with each line of progress (e.g. ``print``); None stays silent.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``model`` (the ``"local-dir:..."`` string), ``templates`` (the path of
        ``templates.txt``), ``design``, ``caption_sources`` (``"A"`` or ``"B"`` per
        training image), ``model_reused`` (bool), ``training`` (the one-line
        training summary), ``training_accuracy`` (zero-shot ensemble accuracy on
        the training split, percent), ``rows`` (from
        :func:`~skclip_sage.comparison.compare_methods`, with ``subsets`` holding
        the ``"majority groups"`` and ``"minority groups"`` accuracy), ``written``
        (the result files), ``removed`` (result files of an earlier demo run that
        this one did not write, e.g. ``results.png`` under ``plot=False``, deleted;
        each is also passed to ``log``), ``benchmark`` (the :func:`load_coloured_digits`
        bunch) and ``seconds``.

    Raises
    ------
    DemoFilesError
        A file the run would write is there and the demo did not write it (or
        changed since it did, without ``force``); raised before any work.
    NotADirectoryError
        ``output`` is a file.
    ValueError
        A K outside 1-20, a negative seed or another bad benchmark argument,
        before any work.
    """
    from .._classifier import SageZeroShotClassifier
    from .._embedder import ClipImageEmbedder

    log = log or (lambda message: None)
    started = time.perf_counter()
    _check_k_values(k_values)
    record = design_record(design)
    model_cfg = tiny_clip_config() if model_cfg is None else model_cfg
    settings = benchmark_settings(
        n_train, n_test, n_colours, majority_fraction, model_cfg["vision_cfg"]["image_size"], seed
    )
    files = WrittenFiles(output, force=force)
    check_output_folder(files)
    output = files.folder
    digits = place_benchmark(files, settings, log)
    log(f"benchmark in {digits.folder}: {digits.DESCR}")
    train, test = digits.split == "train", digits.split == "test"
    sources = caption_sources(
        digits.target[train], digits.colour[train], digits.majority[train], n_colours=n_colours, seed=seed
    )
    templates_file = output / "templates.txt"
    files.write_text("templates.txt", "\n".join(CAPTION_TEMPLATES) + "\n")
    training = {"epochs": int(epochs), "batch_size": int(batch_size), "max_lr": float(max_lr), "seed": int(seed)}
    recipe = {"benchmark": digits.settings, "design": record, "model_cfg": model_cfg, "training": training}
    model, summary, reused = _trained_model(files, recipe, digits, sources, log, verbose, num_threads)

    cache_dir = output / CACHE
    files.claim_folder(CACHE)
    embedder = ClipImageEmbedder(model, pretrained=None, device="cpu", cache_dir=cache_dir, verbose=verbose)
    X_train = embedder.fit(digits.data[train]).transform(digits.data[train])
    X_test = embedder.transform(digits.data[test])
    class_names = dict(enumerate(DIGIT_NAMES))
    shared = {"pretrained": None, "device": "cpu", "cache_dir": cache_dir}
    templates = list(CAPTION_TEMPLATES)
    ensemble = SageZeroShotClassifier(
        model, templates=templates, class_names=class_names, selection="ensemble", **shared
    )
    training_accuracy = 100 * float(
        np.mean(ensemble.fit(X_train, digits.target[train]).predict(X_train) == digits.target[train])
    )
    log(f"zero-shot ensemble accuracy on the training split: {training_accuracy:.1f}%")

    modes = PAPER_MODES if modes is None else modes
    template_sources = pool_sources(design)
    methods = []
    if "single" in modes:
        methods += single_template_methods(
            model, class_names=class_names, templates=templates, template_sources=template_sources, **shared
        )
    methods += selection_methods(
        model,
        class_names=class_names,
        templates=templates,
        modes=[mode for mode in modes if mode != "single"],
        k_values=k_values,
        random_state=seed,
        **shared,
    )
    if debias_modes:
        concepts = coloured_digits_concepts(digits.colour_names)
        methods += debias_methods(
            model, class_names=class_names, concepts=concepts, templates=templates, modes=debias_modes, **shared
        )
    majority = digits.majority[test]
    rows = compare_methods(
        methods,
        X_test,
        digits.target[test],
        groups=digits.groups[test],
        group_names=digits.group_names,
        average="plain",
        X_train=X_train,
        y_train=digits.target[train],
        subsets={"majority groups": majority, "minority groups": ~majority},
        template_sources=template_sources,
        keep_predictions=plot,  # the failures of report.html
        log=log,
    )
    written, removed = place_results(
        files,
        rows,
        title=f"coloured digits, caption design '{design}' (test split, seed {seed})",
        model=f"tiny CLIP trained here ({output / 'model'})",
        dataset="coloured_digits",
        average="plain",
        lead=demo_lead(rows),
        notes=demo_notes(rows, digits, sources, design, summary, training_accuracy, model_cfg, output),
        plot=plot,
        extra_writers=[lambda folder: _write_report(folder, output, rows, digits, class_names, design, seed, started)]
        if plot
        else [],
    )
    for path in removed:
        LOGGER.debug("removed %s: written by an earlier demo run, not by this one", path)  # the CLI warns
    log("wrote " + ", ".join(str(path) for path in written))
    return Bunch(
        model=model,
        templates=str(templates_file),
        design=design,
        caption_sources=sources,
        model_reused=reused,
        training=summary,
        training_accuracy=training_accuracy,
        rows=rows,
        written=written,
        removed=removed,
        benchmark=digits,
        seconds=time.perf_counter() - started,
    )
