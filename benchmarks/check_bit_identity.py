"""Are the predictions of every selection mode bit-identical between two versions of the package?

Issue 22 asks that a redesign leave the predictions, probabilities and selected
templates of every mode bit-identical on the demo's model and images. This
script records them in one version and compares two recordings:

1. ``record``: from a demo output folder (``DIR/model``, the trained tiny CLIP as
   a ``local-dir:`` folder, and ``DIR/coloured_digits``, its benchmark), embed the
   training and test images with a fresh cache folder, build the demo's rows
   exactly as the demo does (``single_template_methods`` for every template,
   ``selection_methods`` over the comparison's ``PAPER_MODES`` and the demo's K
   values, ``debias_methods`` with the demo's concepts), plus WaffleCLIP (its
   random-descriptor templates with the score average), fit each like
   ``compare_methods`` (on the test images, TIE* on the training ones) and save,
   per row, ``predict``, ``predict_proba``, ``decision_function`` and
   ``selected_templates`` on the test images and the fitted
   ``selected_templates_`` / ``template_weights_`` where the row has them, to one
   ``.npz``; then the same for a few options beyond the demo's defaults (ZPE's
   threshold and reference, AutoCLIP's beta, PerceptionCLIP's temperature,
   ``pool_by``/``pool_size``, ``temperature``). The embeddings are saved too. A
   second embedding of the test images, and a second pass over every row, with
   the memory caches cleared (so they read the cache folder), must give the same
   bits as the first, or the recording fails.
2. ``compare A.npz B.npz``: every array of A against B, bit for bit (the same
   dtype, shape and bytes, so even -0.0 against 0.0 counts), one line per row of
   the comparison: mode, K, arrays compared, max |A - B| (NaN against NaN counts
   0), identical or not; exit status 1 on a difference outside the modes named by
   ``--expect-differences`` or on an array that only one recording holds.

Only APIs that the package had before issue 22 are used (string modes, flat
parameters), so one script records both versions. Run it with the version to
record first on the path, in a fresh process per version::

    PYTHONPATH=/tmp/base python benchmarks/check_bit_identity.py record DEMO /tmp/base.npz
    PYTHONPATH=$PWD python benchmarks/check_bit_identity.py record DEMO /tmp/new.npz
    python benchmarks/check_bit_identity.py compare /tmp/base.npz /tmp/new.npz --expect-differences autoclip

``--embeddings FILE`` (a recording) classifies that recording's embeddings
instead of embedding again, to separate the image side from the rest.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

FITTED_OUTPUTS = ("selected_templates_", "template_weights_")
WAFFLE_PAIRS = 15


def _demo_rows(model, digits, cache_dir):
    """The demo's comparison rows (as ``run_demo`` builds them), then WaffleCLIP's."""
    from skclip_sage import SageZeroShotClassifier
    from skclip_sage.comparison import PAPER_MODES, debias_methods, selection_methods, single_template_methods
    from skclip_sage.demo import CAPTION_TEMPLATES, DIGIT_NAMES, coloured_digits_concepts, pool_sources
    from skclip_sage.demo._run import K_VALUES
    from skclip_sage.prompts import waffle_templates

    seed = digits.settings["seed"]
    class_names = dict(enumerate(DIGIT_NAMES))
    shared = {"pretrained": None, "device": "cpu", "cache_dir": cache_dir}
    templates = list(CAPTION_TEMPLATES)
    rows = []
    for method in single_template_methods(
        model, class_names=class_names, templates=templates, template_sources=pool_sources("sources"), **shared
    ):
        rows.append((f"single #{method.template}", method.k, method.estimator, method.fit_on))
    for method in selection_methods(
        model,
        class_names=class_names,
        templates=templates,
        modes=[mode for mode in PAPER_MODES if mode != "single"],
        k_values=K_VALUES,
        random_state=seed,
        **shared,
    ):
        rows.append((method.name, method.k, method.estimator, method.fit_on))
    concepts = coloured_digits_concepts(digits.colour_names)
    for method in debias_methods(model, class_names=class_names, concepts=concepts, templates=templates, **shared):
        rows.append((method.name, method.k, method.estimator, method.fit_on))
    waffle = waffle_templates(list(DIGIT_NAMES), WAFFLE_PAIRS, seed=seed)
    estimator = SageZeroShotClassifier(
        model, templates=waffle, class_names=class_names, selection="score_average", **shared
    )
    rows.append(("waffle (score_average)", len(waffle), estimator, "evaluation"))
    return rows, list(PAPER_MODES), list(K_VALUES)


def _option_rows(model, X_train, cache_dir):
    """Rows beyond the demo's defaults, through the flat parameters both versions accept (deprecated after issue 22)."""
    from skclip_sage import SageZeroShotClassifier
    from skclip_sage.demo import CAPTION_TEMPLATES, DIGIT_NAMES

    options = [
        ("zpe zpe_threshold=0", 1, {"selection": "zpe", "zpe_threshold": 0.0}),
        ("zpe zpe_threshold=0 k=3", 3, {"selection": "zpe", "zpe_threshold": 0.0, "k": 3}),
        ("zpe zpe_reference=X_train", 1, {"selection": "zpe", "zpe_reference": X_train}),
        ("autoclip autoclip_beta=0.5", 20, {"selection": "autoclip", "autoclip_beta": 0.5}),
        ("perception perception_temperature=2", 20, {"selection": "perception", "perception_temperature": 2.0}),
        ("sage pool_by=text pool_size=10", 3, {"selection": "sage", "k": 3, "pool_size": 10, "pool_by": "text"}),
        ("sage pool_by=zpe pool_size=10", 3, {"selection": "sage", "k": 3, "pool_size": 10, "pool_by": "zpe"}),
        ("random pool_by=zpe pool_size=10", 3, {"selection": "random", "k": 3, "pool_size": 10, "pool_by": "zpe"}),
        ("ensemble temperature=0.05", 20, {"selection": "ensemble", "temperature": 0.05}),
    ]
    shared = {"pretrained": None, "device": "cpu", "cache_dir": cache_dir, "random_state": 0}
    class_names = dict(enumerate(DIGIT_NAMES))
    return [
        (
            name,
            k,
            SageZeroShotClassifier(model, templates=list(CAPTION_TEMPLATES), class_names=class_names, **shared, **kw),
            "evaluation",
        )
        for name, k, kw in options
    ]


def _embed(model, paths, cache_dir):
    from skclip_sage import ClipImageEmbedder

    embedder = ClipImageEmbedder(model, pretrained=None, device="cpu", cache_dir=cache_dir, verbose=False)
    return embedder.fit(paths).transform(paths)


def _outputs(fitted, X):
    """What a fitted row says about X: predictions, probabilities, scores, templates, fitted templates."""
    classifier, X_final = fitted, X
    if hasattr(fitted, "steps"):  # a debiasing pipeline: the classifier sees the transformed images
        classifier, X_final = fitted.steps[-1][1], fitted[:-1].transform(X)
    found = {
        "predict": fitted.predict(X),
        "predict_proba": fitted.predict_proba(X),
        "decision_function": fitted.decision_function(X),
        "selected_templates": np.asarray(classifier.selected_templates(X_final)),
    }
    for name in FITTED_OUTPUTS:
        value = getattr(classifier, name, None)
        if value is not None:
            found[name] = np.asarray(value)
    return found


def record(args):
    """Embed, fit and save every row's outputs to ``args.output``."""
    import skclip_sage
    from skclip_sage.demo import load_coloured_digits
    from skclip_sage.io import clear_memory_caches
    from skclip_sage.prompts import clear_text_bank_cache

    demo = Path(args.demo).resolve()
    model = f"local-dir:{demo / 'model'}"
    digits = load_coloured_digits(demo / "coloured_digits")
    train, test = digits.split == "train", digits.split == "test"
    y_test, y_train = digits.target[test], digits.target[train]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bit-identity-cache-") as cache:
        cache_dir = Path(cache)
        saved = {}
        if args.embeddings:
            given = np.load(args.embeddings)
            X_train, X_test = given["embeddings|X_train"], given["embeddings|X_test"]
        else:
            X_train = _embed(model, digits.data[train], cache_dir)
            X_test = _embed(model, digits.data[test], cache_dir)
            clear_memory_caches()
            warm = _embed(model, digits.data[test], cache_dir)  # read back from cache_dir
            if not _identical(warm, X_test):
                raise AssertionError("the test embeddings read back from cache_dir differ from the computed ones")
        saved["embeddings|X_train"], saved["embeddings|X_test"] = X_train, X_test
        rows, modes, k_values = _demo_rows(model, digits, cache_dir)
        rows += _option_rows(model, X_train, cache_dir)
        cold = _run_rows(rows, X_train, y_train, X_test, y_test)
        saved.update(cold)
        # Once more with the text banks read back from cache_dir: the same bits as computed.
        clear_memory_caches()
        clear_text_bank_cache()
        warm = _run_rows(rows, X_train, y_train, X_test, y_test)
        apart = [key for key in cold if not _identical(cold[key], warm[key])]
        if apart:
            raise AssertionError(f"outputs with the text banks read back from cache_dir differ: {apart}")
        cached_files = sum(1 for path in cache_dir.rglob("*.npy"))
    meta = {
        "package": str(Path(skclip_sage.__file__).parent),
        "demo": str(demo),
        "modes": modes,
        "k_values": k_values,
        "rows": len(rows),
        "warm_equals_cold": True,
        "cache_entries": cached_files,
        "test_images": int(test.sum()),
        "embeddings_from": args.embeddings or "computed",
        "seconds": round(time.perf_counter() - started, 1),
    }
    np.savez(args.output, meta=np.asarray(json.dumps(meta)), **saved)
    print(json.dumps(meta))


def _run_rows(rows, X_train, y_train, X_test, y_test):
    """Fit every row as ``compare_methods`` does (TIE* on the training split) and collect its outputs."""
    from sklearn.base import clone

    found = {}
    for name, k, estimator, fit_on in rows:
        fit_X, fit_y = (X_train, y_train) if fit_on == "train" else (X_test, y_test)
        with warnings.catch_warnings():
            # the flat parameters are deprecated after issue 22 (FutureWarning), on purpose here
            warnings.simplefilter("ignore", FutureWarning)
            fitted = clone(estimator).fit(fit_X, fit_y)
        for output, value in _outputs(fitted, X_test).items():
            found[f"{name}|{k}|{output}"] = value
    return found


def _max_abs_diff(a, b):
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf" or a.shape != b.shape:
        return float("nan") if a.shape != b.shape else float(np.any(a != b))
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    both_nan = np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))
    return float(np.max(np.where(both_nan, 0.0, diff), initial=0.0))


def _identical(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        # bit for bit: equal bytes, so -0.0 != 0.0 and NaN payloads count
        return a.tobytes() == b.tobytes()
    return np.array_equal(a, b)


def compare(args):
    """Print one line per row: arrays compared, max |A - B|, identical or not; exit 1 on an unexpected difference."""
    first, second = np.load(args.first), np.load(args.second)
    for label, recording in (("A", first), ("B", second)):
        print(f"{label}: {json.loads(str(recording['meta']))}")
    keys_a = [key for key in first.files if key != "meta"]
    keys_b = set(second.files) - {"meta"}
    missing = sorted((set(keys_a) - keys_b) | (keys_b - set(keys_a)))
    rows, details = {}, []
    for key in keys_a:
        if key not in keys_b:
            continue
        parts = key.split("|")
        name, k, output = parts if len(parts) == 3 else (parts[0], "-", parts[1])
        a, b = first[key], second[key]
        row = rows.setdefault((name, k), {"outputs": [], "max": 0.0, "identical": True, "differing": []})
        row["outputs"].append(output)
        row["max"] = max(row["max"], _max_abs_diff(a, b))
        if not _identical(a, b):
            row["identical"] = False
            row["differing"].append(output)
            rows_apart = int(np.sum(np.any((a != b).reshape(len(a), -1), axis=1))) if a.shape == b.shape else -1
            details.append(
                f"{name} K={k} {output}: max |A - B| {_max_abs_diff(a, b):.3g}, {rows_apart} of {len(a)} rows differ"
            )
    print()
    print("| mode | K | arrays compared | max abs diff | identical |")
    print("|---|---:|---|---:|---|")
    unexpected = []
    for (name, k), row in rows.items():
        mode = name.split(" ")[0]
        verdict = "yes" if row["identical"] else "no (" + ", ".join(row["differing"]) + ")"
        if not row["identical"]:
            if mode in args.expect_differences:
                verdict += ", expected"
            else:
                unexpected.append(f"{name} K={k}")
        print(f"| {name} | {k} | {', '.join(row['outputs'])} | {row['max']:.3g} | {verdict} |")
    if details:
        print("\ndiffering arrays:")
        print("\n".join(f"- {line}" for line in details))
    for key in missing:
        print(f"only in one recording: {key}")
    n_arrays = sum(len(row["outputs"]) for row in rows.values())
    print(f"\n{len(rows)} rows, {n_arrays} arrays; unexpected differences: {unexpected or 'none'}")
    return 1 if unexpected or missing else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    recorder = commands.add_parser("record", help="record the outputs of the version on the path")
    recorder.add_argument("demo", help="a demo output folder (holding model/ and coloured_digits/)")
    recorder.add_argument("output", help="the .npz to write")
    recorder.add_argument("--embeddings", help="a recording whose embeddings to classify instead of embedding")
    recorder.set_defaults(run=record)
    comparer = commands.add_parser("compare", help="compare two recordings bit for bit")
    comparer.add_argument("first")
    comparer.add_argument("second")
    comparer.add_argument(
        "--expect-differences", nargs="*", default=[], metavar="MODE", help="modes that may differ by design"
    )
    comparer.set_defaults(run=compare)
    args = parser.parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
