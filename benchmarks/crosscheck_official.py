"""Cross-check AutoCLIP, ZPE, PerceptionCLIP, WaffleCLIP and SAGE against their official code.

``python benchmarks/crosscheck_official.py --repos DIR [--methods autoclip zpe ...]``

``DIR`` holds the official repositories, extracted (``git archive``) under these names:

- ``autoclip/`` — boschresearch/autoclip (``auto_clip_simulated.py``; AGPL-3.0)
- ``uncertainty-baselines/`` — google/uncertainty-baselines (ZPE's results notebook;
  needs jax, e.g. ``pip install --target SCRATCH jax`` and ``--jax-path SCRATCH``)
- ``perceptionCLIP/`` — umd-huang-lab/perceptionCLIP (``src/``)
- ``WaffleCLIP/`` — ExplainableML/WaffleCLIP (``waffle_tools.py``, ``word_list.pkl``)
- ``spurious_vlm/`` — wenqian-ye/spurious_vlm (``save_methods.py``, ``utils/``)

The official functions are imported from there and run unmodified on the same float32
arrays as ours; only what they need for data or model loading, unused here, is stubbed
(the stubs are named where they are set). Nothing of the official code is copied into
this repository. Prints the markdown rows of benchmarks/README.md's cross-check tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np

from skclip_sage.prompts import waffle_templates
from skclip_sage.selection import (
    autoclip_scores,
    perception_log_probabilities,
    score_embeddings,
    zpe_keep,
    zpe_template_scores,
    zpe_weights,
)

METHODS = ("autoclip", "zpe", "perception", "waffle", "sage")


def unit(values):
    return values / np.linalg.norm(values, axis=-1, keepdims=True)


def near_class_problem(n, n_templates, n_classes, seed, width=64, spread=0.3, dtype=np.float32):
    """Similarities (n, T, C) of random images to text prompts scattered around a class direction."""
    rng = np.random.default_rng(seed)
    images = unit(rng.normal(size=(n, width)))
    bank = unit(rng.normal(size=(1, n_classes, width)) + spread * rng.normal(size=(n_templates, n_classes, width)))
    return np.einsum("nd,tcd->ntc", images.astype(dtype), bank.astype(dtype)).astype(dtype)


def row(method, case, agree, compared, difference, note=""):
    share = f"{agree}/{compared} ({100 * agree / max(compared, 1):.1f} %)" if compared else "n/a"
    shown = "n/a" if difference is None else f"{difference:.1e}"
    print(f"| {method} | {case} | {share} | {shown} | {note} |", flush=True)


def stub(name, **attributes):
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module
    return module


@contextlib.contextmanager
def working_directory(path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def check_autoclip(repos: Path) -> None:
    stub("seaborn")  # imported by the simulation script for its plots only
    sys.path.insert(0, str(repos / "autoclip"))
    import auto_clip_simulated as released
    from scipy.optimize import bisect

    steps = {}

    def traced_bisect(f, a, b, **options):
        steps["step"] = bisect(f, a, b, **options)
        return steps["step"]

    released.bisect = traced_bisect  # the released search itself, its result recorded

    def case(label, similarities, beta=0.85):
        n, n_templates, n_classes = similarities.shape
        official = np.full((n, n_classes), np.nan)
        for i in range(n):
            cosines = np.ascontiguousarray(similarities[i].T)[None, None]  # one image: (1, 1, C, T)
            with contextlib.suppress(ValueError):  # the released search raises where it cannot bracket
                official[i] = released.autoclip_aggregation(cosines, 1, 1, n_templates, beta)[0, 0]
        ours = autoclip_scores(similarities, beta)
        ok = ~np.isnan(official).any(axis=1)
        note = f"official raises on {int((~ok).sum())}/{n} rows" if (~ok).any() else ""
        if not ok.any():
            return row("AutoCLIP", f"{label} (n={n})", 0, 0, None, note)
        difference = np.abs(official[ok] - ours[ok]).max(axis=1)
        note = f"rows > 1e-6: {int((difference > 1e-6).sum())}" + (f"; {note}" if note else "")
        agree = int((official[ok].argmax(axis=1) == ours[ok].argmax(axis=1)).sum())
        row("AutoCLIP", f"{label} (n={n})", agree, int(ok.sum()), difference.max(), note)

    issue = np.array([[[0.3212600335132916, 0.45000313650541557], [0.2234016061135815, 0.31045864190715855]]])
    case("issue 21's case: 2 templates x 2 classes", issue)
    case("random, T=80, C=2, float32", near_class_problem(3000, 80, 2, seed=1))
    case("random, T=80, C=100, float32", near_class_problem(1000, 80, 100, seed=2))
    case("random, T=7, C=5, float64", near_class_problem(2000, 7, 5, seed=3, dtype=np.float64))
    case("two templates, two classes, float32", near_class_problem(3000, 2, 2, seed=4))
    case("beta = 0.5, T=20, C=10", near_class_problem(2000, 20, 10, seed=5), 0.5)
    case("beta = 0.95, T=12, C=3", near_class_problem(2000, 12, 3, seed=6), 0.95)
    case("beta = 0.1 (sharp weights), T=17, C=3", near_class_problem(1000, 17, 3, seed=30), 0.1)
    case("beta = 0.3, T=80, C=2", near_class_problem(1000, 80, 2, seed=31), 0.3)
    case("beta = 0 (one-hot weights), T=12, C=3", near_class_problem(500, 12, 3, seed=7), 0.0)
    case("one template", near_class_problem(200, 1, 3, seed=8))
    twins = near_class_problem(1000, 20, 3, seed=9)
    case("class twins: class 3 = class 0 bitwise, T=20", np.concatenate([twins, twins[:, :, :1]], axis=2))
    case("template ties: all templates identical", np.repeat(near_class_problem(50, 1, 3, seed=10), 4, axis=1))


def check_zpe(repos: Path, scale=100.0) -> None:
    import functools

    import jax
    import jax.numpy as jnp
    from scipy import stats

    notebook = repos / "uncertainty-baselines/experimental/multimodal"
    notebook = notebook / "Zero_shot_prompt_ensembling_for_text_image_models_results.ipynb"
    cells = {"jax": jax, "jnp": jnp, "np": np, "functools": functools, "stats": stats}
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"])
        if any(
            source.startswith(f"#@title {name}") for name in ("get_logits", "agg_logits", "get_weights", "mad_method")
        ):
            exec(source, cells)  # the notebook's own cell, as it is

    def case(label, n, n_templates, n_classes, seed, threshold=None, reference=0, duplicate=False):
        rng = np.random.default_rng(seed)
        images = unit(rng.normal(size=(n, 64))).astype(np.float32)
        bank = rng.normal(size=(1, n_classes, 64)) + 0.5 * rng.normal(size=(n_templates, n_classes, 64))
        if duplicate:
            bank[1::2] = bank[0::2][: n_templates // 2]
        bank = unit(bank).astype(np.float32)
        generic = unit(rng.normal(size=(reference, 64))).astype(np.float32) if reference else None
        # The notebook scales both encoders' unit outputs by sqrt(exp(logit_scale)).
        logits = np.asarray(cells["get_logits"](bank * np.sqrt(scale), images * np.sqrt(scale)))
        random_logits = (
            np.asarray(cells["get_logits"](bank * np.sqrt(scale), generic * np.sqrt(scale))) if reference else None
        )
        weights = np.asarray(cells["get_weights"](logits, random_logits, "both" if reference else "test", True, 1.0))
        selected = cells["mad_method"](weights[0, :, 0], "NA" if threshold is None else threshold)
        template_scores = zpe_template_scores(images, bank, scale, reference_embeddings=generic)
        kept = zpe_keep(template_scores, threshold)
        if len(selected) == 0 or len(kept) == 0:
            return row("ZPE", label, 0, 0, None, f"official selects {len(selected)}, ours keeps {len(kept)}")
        softmax = np.asarray(jax.nn.softmax(weights, axis=1))
        aggregated = np.asarray(cells["agg_logits"](logits[:, selected, :], softmax[:, selected, :]))
        options = {"logit_scale": scale, "template_weights": zpe_weights(template_scores, kept)}
        ours, _ = score_embeddings(images, bank, selection="zpe", k=1, options=options)
        factor = len(selected) / softmax[0, selected, 0].sum()
        note = (
            f"kept templates equal: {np.array_equal(np.sort(selected), kept)}; max abs template score diff "
            f"{np.abs(template_scores - weights[0, :, 0]).max():.1e}; logit factor K/W = {factor:.1f}"
        )
        agree = int((ours.argmax(axis=1) == aggregated.argmax(axis=1)).sum())
        row("ZPE", f"{label} (n={n})", agree, n, np.abs(ours - aggregated * factor / scale).max(), note)

    case("test mode, weighted, T=80, C=2", 1000, 80, 2, 0)
    case("test mode, weighted, T=80, C=100", 300, 80, 100, 1)
    case("both mode (2,000 reference images), T=40, C=10", 500, 40, 10, 2, reference=2000)
    case("selection tau=0.5, T=80, C=10", 500, 80, 10, 3, threshold=0.5)
    case("selection tau=2.0, T=80, C=10", 500, 80, 10, 4, threshold=2.0)
    case("two templates, two classes", 500, 2, 2, 5)
    case("one template", 200, 1, 3, 6)
    case("template ties: duplicated templates, T=10", 500, 10, 3, 7, duplicate=True)
    case("one template, tau=0.5 (nothing passes)", 100, 1, 3, 8, threshold=0.5)


def check_perception(repos: Path) -> None:
    import torch

    sys.path.insert(0, str(repos / "perceptionCLIP"))
    batches = []
    # Data loading and model loading, unused here (the images are given as embeddings).
    for name in ("src.datasets", "src.templates", "src.zero_shot_inference.utils", "clip"):
        stub(name)
    stub("clip.clip")
    stub("src.datasets.common", get_dataloader=lambda dataset, is_train, args, image_encoder: batches)
    sys.modules["src.datasets.common"].maybe_dictionarize = lambda data: data
    import src.models.modeling as modeling
    import src.zero_shot_inference.perceptionclip_two_step as official

    def case(label, n, n_values, n_classes, temperature, seed, near=False, twin=False):
        rng = np.random.default_rng(seed)
        bank = rng.normal(size=(1, n_classes, 64)) + 0.5 * rng.normal(size=(n_values, n_classes, 64))
        if twin:
            bank[:, -1] = bank[:, 0]
        bank = unit(bank).astype(np.float32)
        images = bank[0, 0][None] + 0.05 * rng.normal(size=(n, 64)) if near else rng.normal(size=(n, 64))
        images = unit(images).astype(np.float32)
        rows = 100.0 * np.ascontiguousarray(bank.transpose(1, 0, 2)).reshape(n_classes * n_values, 64)  # y * Z + z
        head = modeling.ClassificationHead(normalize=True, weights=torch.from_numpy(rows))
        batches[:] = [{"images": torch.from_numpy(images), "labels": torch.zeros(n, dtype=torch.long)}]
        args = argparse.Namespace(
            eval_trainset=False,
            device="cpu",
            eval_group=False,
            infer_mode=0,
            temperature=temperature,
            num_factor_value=n_values,
        )
        seen, argmax = [], torch.Tensor.argmax

        def tracer(self, *positional, **keywords):  # records P(y|x), the tensor classify takes the argmax of
            if self.dim() == 2 and tuple(self.shape) == (n, n_classes):
                seen.append(self.detach().clone())
            return argmax(self, *positional, **keywords)

        torch.Tensor.argmax = tracer
        try:
            with contextlib.redirect_stdout(open(os.devnull, "w")):
                official.classify(torch.nn.Identity(), head, None, args)
        finally:
            torch.Tensor.argmax = argmax
        theirs = seen[-1].numpy()
        ours = np.exp(perception_log_probabilities(np.einsum("nd,zcd->nzc", images, bank), 100.0, temperature))
        finite = np.isfinite(theirs).all(axis=1)
        note = "P(y|x) compared"
        if (~finite).any():
            note = f"official NaN on {int((~finite).sum())}/{n} rows (excluded); ours finite on all: {bool(np.isfinite(ours).all())}"
        if not finite.any():
            return row("PerceptionCLIP", f"{label} (n={n})", 0, 0, None, note)
        agree = int((theirs[finite].argmax(axis=1) == ours[finite].argmax(axis=1)).sum())
        row(
            "PerceptionCLIP",
            f"{label} (n={n})",
            agree,
            int(finite.sum()),
            np.abs(theirs[finite] - ours[finite]).max(),
            note,
        )

    case("12 values, 2 classes, tau=1", 1000, 12, 2, 1.0, 0)
    case("36 values, 2 classes, tau=0.5", 500, 36, 2, 0.5, 1)
    case("2 values, 2 classes, tau=3", 500, 2, 2, 3.0, 2)
    case("one value", 200, 1, 3, 1.0, 3)
    case("many classes: 5 values, 100 classes, tau=1", 300, 5, 100, 1.0, 4)
    case("tau = 10", 300, 12, 2, 10.0, 5)
    case("overflow: images near a prompt, tau=0.5", 100, 12, 2, 0.5, 6, near=True)
    case("class ties: class 2 = class 0 bitwise, C=3", 300, 12, 3, 1.0, 7, twin=True)


def check_waffle(repos: Path, scratch: Path) -> None:
    import torch

    folder = repos / "WaffleCLIP"
    # Model and dataset loading, unused by the prompt generator and the aggregation.
    stub("clip")
    stub("imagenetv2_pytorch", ImageNetV2Dataset=object)
    stub("datasets", _transform=None, CUBDataset=object)
    sys.path.insert(0, str(folder))
    import waffle_tools as official

    def case(label, classes, seed, n_pairs=15):
        descriptors = scratch / "waffle_descriptors.json"
        descriptors.write_text(
            json.dumps({c: ["a long tail.", "has feathers", "typically small, brown"] for c in classes})
        )
        opt = argparse.Namespace(
            descriptor_fname=str(descriptors),
            label_before_text="A photo of a ",
            label_after_text=".",
            pre_descriptor_text="",
            descriptor_separator=", ",
            apply_descriptor_modification=True,
            waffle_count=n_pairs,
            dataset="cub",
            mode="none",
        )
        np.random.seed(seed)  # as base_main.py's seed_everything
        with working_directory(folder):  # it opens word_list.pkl relative to the working directory
            prompts = official.load_gpt_descriptions(opt, mode="waffle")
            words = pickle.loads(Path("word_list.pkl").read_bytes())
        # The characters it takes from the descriptor file's words.
        texts = [x for values in json.loads(descriptors.read_text()).values() for x in values]
        pieces = [x.replace(",", "").replace(".", "") for x in np.unique([w for t in texts for w in t.split(" ")])]
        characters = list(np.unique(list("".join(pieces))))
        templates = waffle_templates(classes, n_pairs=n_pairs, seed=seed, words=words, characters=characters)
        equal = all([t.format(official.wordify(c)) for t in templates] == prompts[c] for c in classes)
        row(
            "WaffleCLIP",
            f"prompts: {label}, seed {seed}",
            int(equal),
            1,
            0.0,
            f"{len(templates)} templates, strings equal: {equal}",
        )
        rng = np.random.default_rng(seed)
        bank = np.stack(
            [
                [np.random.default_rng(abs(hash(t.format(c))) % 2**32).normal(size=64) for c in classes]
                for t in templates
            ]
        )
        bank = unit(bank).astype(np.float32)  # a deterministic stand-in text encoder
        images = unit(rng.normal(size=(300, 64))).astype(np.float32)
        similarities = torch.from_numpy(np.einsum("nd,tcd->nct", images, bank))
        theirs = torch.stack(
            [official.aggregate_similarity(similarities[:, c, :], "mean") for c in range(len(classes))], 1
        )
        ours, _ = score_embeddings(images, bank, selection="score_average", k=1, options={})
        agree = int((theirs.numpy().argmax(axis=1) == ours.argmax(axis=1)).sum())
        row(
            "WaffleCLIP",
            f"scores (mean of cosines = score_average): {label}, seed {seed}",
            agree,
            300,
            np.abs(theirs.numpy() - ours).max(),
        )

    case("2 classes, 15 pairs", ["landbird", "waterbird"], 0)
    case("2 classes, 15 pairs", ["landbird", "waterbird"], 6)
    case("one pair (2 templates), 3 classes", ["cat", "dog", "fox"], 1, n_pairs=1)
    case("multi-word and underscored names", ["red_winged blackbird", "sea gull", "crow"], 2, n_pairs=5)
    case("100 classes, 15 pairs", [f"class{i:03d}" for i in range(100)], 3)


def check_sage(repos: Path) -> None:
    import torch

    sys.path.insert(0, str(repos / "spurious_vlm"))
    bank_rows = {}
    # The text encoder (it needs CUDA and model weights at import): our text bank, row per prompt.
    stub(
        "libs.get_clip_text_emb",
        get_text_embedding=lambda prompts, encoder: np.stack([bank_rows[p] for p in prompts]),
        construct_text_encoder=lambda model, args: None,
    )
    import save_methods
    from utils import templates

    def case(label, n, n_classes, k, seed, duplicate=False, dtype=np.float32):
        rng = np.random.default_rng(seed)
        names, prompts = [f"class{c}" for c in range(n_classes)], templates.imagenet_templates
        bank = rng.normal(size=(1, n_classes, 64)) + 0.4 * rng.normal(size=(len(prompts), n_classes, 64))
        if duplicate:
            bank[1] = bank[0]
        bank = unit(bank).astype(dtype)
        bank_rows.clear()
        bank_rows.update({t.format(c): bank[i, j] for i, t in enumerate(prompts) for j, c in enumerate(names)})
        images = rng.normal(size=(n, 64)).astype(dtype)
        method = save_methods.SAGE.__new__(save_methods.SAGE)  # its __init__ only loads the encoder
        method.classnames, method.templates, method.text_encoder, method.K = names, prompts, None, k
        theirs = method.process_batch(torch.from_numpy(images)).numpy()
        ours, _ = score_embeddings(images, bank, selection="sage", k=k)
        agree = int((theirs.argmax(axis=1) == ours.argmax(axis=1)).sum())
        row("SAGE", f"{label} (n={n})", agree, n, np.abs(theirs - ours).max())

    torch.set_num_threads(1)
    case("T=80, C=2, K=1", 2000, 2, 1, 0)
    case("T=80, C=2, K=5", 2000, 2, 5, 1)
    case("T=80, C=10, K=3", 1000, 10, 3, 2)
    case("T=80, C=100, K=1", 300, 100, 1, 3)
    case("T=80, C=2, K=80 (ensemble)", 1000, 2, 80, 4)
    case("T=80, C=2, K=20, float64", 1000, 2, 20, 5, dtype=np.float64)
    case("template 1 = template 0 bitwise, C=2, K=1", 1000, 2, 1, 6, duplicate=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=Path, required=True, help="folder of the extracted official repositories")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--jax-path", type=Path, default=None, help="a folder holding jax, for ZPE's notebook")
    parser.add_argument("--scratch", type=Path, default=Path("crosscheck_scratch"), help="for a descriptor file")
    args = parser.parse_args()
    if args.jax_path is not None:
        sys.path.append(str(args.jax_path))
    args.scratch.mkdir(parents=True, exist_ok=True)
    print("| Method | Case | Predictions agree | Max abs score difference | Note |")
    print("|---|---|---:|---:|---|")
    checks = {
        "autoclip": lambda: check_autoclip(args.repos),
        "zpe": lambda: check_zpe(args.repos),
        "perception": lambda: check_perception(args.repos),
        "waffle": lambda: check_waffle(args.repos, args.scratch),
        "sage": lambda: check_sage(args.repos),
    }
    for method in args.methods:
        checks[method]()


if __name__ == "__main__":
    main()
