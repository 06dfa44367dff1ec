"""Reproduce the SAGE paper's comparison: selection modes and training-free debiasing methods.

For one dataset and one CLIP model (or one simulator regime), embed the images once,
classify them with every selection mode (``single`` = ZS, ``ensemble``, ``random``, the
paper code's ``random_with_replacement``, ``text``, ``sage``) at K in {1, 3, 5, 10, 20,
80}, with SAGE's training-free relatives (``score_average``, WaffleCLIP's aggregation;
``autoclip``; ``zpe``, fitted on the evaluated images without labels; ``perception``, the
templates as attribute values, and on Waterbirds and CelebA also over the official
attribute presets) and with the debiasing methods (RoboShot, TIE*, Orth-Proj, Orth-Cali, RoboShot +
SAGE, Orth-Cali + SAGE; concept texts from the dataset's preset), and write
``results.md``, ``results.csv`` (Avg, WGA, Gap, HM per row, next to the published
numbers) and ``results.png`` (WGA and Avg against K). The evaluation is the library's
(:mod:`skclip_sage.comparison`). Progress goes to stderr.

Offline, on the simulator::

    python benchmarks/reproduce_paper.py --simulate theory_holds --output results_simulation

On a real dataset folder (see benchmarks/README.md)::

    python benchmarks/reproduce_paper.py --dataset waterbirds --root data/ \\
        --model ViT-B-32 --pretrained laion2b_s34b_b79k --output results/waterbirds_vitb32
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from paper_numbers import published_numbers

from skclip_sage.datasets import DATASET_LOADERS

K_VALUES = (1, 3, 5, 10, 20, 80)
# Signs the results folder, so `skclip-sage demo` and this script never overwrite each other's results.
WRITER = "benchmarks/reproduce_paper.py"
REGIME_NAMES = ("theory_holds", "confidently_wrong", "no_leakage")
# The datasets, their splits, the paper's Avg (SPEC section 2: WILDS's adjusted average on
# Waterbirds, plain accuracy on CelebA, the mean of the group accuracies on PACS and VLCS)
# and their presets all come from the one table, skclip_sage.datasets.DATASET_LOADERS;
# a dataset the paper did not use (a folder) is averaged over groups, the simulator plainly.
DATASETS = tuple(DATASET_LOADERS)


def average_of(dataset):
    """The Avg used for ``dataset`` (a name of the table, or ``"simulation"``)."""
    if dataset == "simulation":
        return "plain"
    return DATASET_LOADERS[dataset].paper_average or "groups"


def log(message):
    """Progress for people; stdout stays free for nothing but results."""
    print(f"[reproduce_paper {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_parser():
    parser = argparse.ArgumentParser(
        description="Compare SAGE with the single-template, ensemble, random and text baselines "
        "(Avg, WGA, Gap, HM against K), on a real dataset or on the spurious-bias simulator.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulate", choices=REGIME_NAMES, help="simulator regime; needs no data or weights")
    source.add_argument("--dataset", choices=DATASETS, help="real dataset read with skclip_sage.datasets")
    parser.add_argument("--root", type=Path, help="dataset folder or its parent (with --dataset)")
    parser.add_argument("--output", type=Path, default=Path("results"), help="folder for results.{md,csv,png}")
    parser.add_argument(
        "--model",
        default="ViT-B-32",
        help="open_clip model name, local-dir:/path, or transformers:org/repo or transformers:/path "
        "(ALIGN: transformers:kakaobrain/align-base, AltCLIP: transformers:BAAI/AltCLIP)",
    )
    parser.add_argument("--pretrained", default="laion2b_s34b_b79k", help="weights tag or checkpoint file")
    parser.add_argument(
        "--paper-model",
        help="the paper's backbone this model is (RN50, ViT-B-32, ViT-L-14, ALIGN or AltCLIP), for the "
        "paper columns when --model is a local-dir: or transformers: folder (default: --model)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="keep weights, text banks and image embeddings here (default: <output>/cache)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default: 64)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader processes decoding images")
    parser.add_argument("--templates", default="openai_imagenet", help="built-in template set for real data")
    parser.add_argument("--split", default="test", help="Waterbirds/CelebA split (default: test)")
    parser.add_argument("--domains", action="store_true", help="--dataset folder: root/domain/class/image")
    parser.add_argument(
        "--skip-unreadable",
        action="store_true",
        help="drop images that cannot be read (listed in the log) instead of stopping",
    )
    parser.add_argument("--k", type=int, nargs="+", default=list(K_VALUES), help="values of K (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the simulator and the random mode")
    parser.add_argument("--n-samples", type=int, default=2000, help="simulated images (default: 2000)")
    parser.add_argument("--n-templates", type=int, default=80, help="simulated templates (default: 80)")
    parser.add_argument("--no-plot", action="store_true", help="skip results.png (no matplotlib needed)")
    parser.add_argument(
        "--force", action="store_true", help="overwrite results.* in --output that another command wrote"
    )
    parser.add_argument(
        "--no-debias", action="store_true", help="only the selection modes (no RoboShot, TIE*, Orth-Proj/Cali rows)"
    )
    parser.add_argument("--lam", type=float, default=1000.0, help="Orth-Cali's calibration weight (default: 1000)")
    parser.add_argument(
        "--tie-fit",
        choices=("train", "evaluation"),
        default="train",
        help="images TIE* estimates its scales on: the unlabelled train split (Waterbirds, CelebA, simulation) "
        "or the evaluated ones; PACS and VLCS have no train split and always use the evaluated images",
    )
    return parser


def simulated_problem(args):
    """Embeddings, labels and groups from the simulator, with its own text encoder."""
    from skclip_sage.synthetic import make_spurious_benchmark

    simulation = make_spurious_benchmark(
        args.simulate,
        args.n_samples,
        n_templates=args.n_templates,
        seed=args.seed,
        n_train_samples=args.n_samples,
    )
    log(f"simulated regime {args.simulate!r}: {args.n_samples} images, {args.n_templates} templates")
    return {
        "dataset": "simulation",
        "title": f"simulation, regime {args.simulate!r} (seed {args.seed})",
        "X": simulation.data,
        "y": simulation.target,
        "groups": simulation.groups,
        "group_names": dict(enumerate(simulation.group_names)),
        "class_names": simulation.class_names,
        "templates": simulation.templates,
        "model": simulation.encoder,
        "model_name": "simulated text encoder",
        "pretrained": None,
        "weights": None,
        "notes": [simulation.DESCR.splitlines()[0]],
        "concepts": simulation.concepts,
        "X_train": simulation.train_data,
        "y_train": simulation.train_target,
    }


def dataset_problem(args):
    """Load a dataset folder and embed its images once (cached on disk)."""
    record = DATASET_LOADERS[args.dataset]
    bunch = record.load(args.root, split=args.split, domains=args.domains)
    log(
        f"{args.dataset}: {len(bunch.data)} images, {len(set(bunch.groups.tolist()))} groups; embedding with "
        f"{args.model} ({args.pretrained}), cache {args.cache_dir}"
    )
    X, y, groups, notes = embed_readable(bunch, args)
    concepts, X_train, y_train = None, None, None
    if not args.no_debias and record.concepts is not None:
        concepts = record.concepts
        if "train" in record.splits and args.tie_fit == "train" and args.split != "train":
            train = record.load(args.root, split="train")
            log(f"TIE* fits on the unlabelled train split: embedding its {len(train.data)} images")
            X_train, y_train, _, _ = embed_readable(train, args)
    present = np.unique(groups)
    weights = None
    if average_of(args.dataset) == "weighted":
        weights = {int(group): int(bunch.train_group_counts[group]) for group in present}
    return {
        "dataset": args.dataset,
        "title": f"{args.dataset} ({args.split} split)" if record.splits else args.dataset,
        "X": X,
        "y": y,
        "groups": groups,
        "group_names": {group: bunch.group_names[group] for group in range(len(bunch.group_names))},
        "class_names": {int(label): bunch.class_prompts[label] for label in np.unique(y)},
        "templates": args.templates,
        "model": args.model,
        "model_name": args.model,
        "pretrained": args.pretrained,
        "weights": weights,
        "notes": notes,
        "concepts": concepts,
        "X_train": X_train,
        "y_train": y_train,
    }


def embed_readable(bunch, args):
    """Embed a dataset's images (cached on disk); drop the unreadable ones, saying so."""
    from skclip_sage import ClipImageEmbedder

    embedder = ClipImageEmbedder(
        args.model,
        pretrained=args.pretrained,
        device=args.device,
        batch_size=args.batch_size,
        num_workers=args.workers,
        cache_dir=args.cache_dir,
        verbose=True,
        on_error="warn" if args.skip_unreadable else "raise",
    )
    started = time.perf_counter()
    X = embedder.fit(bunch.data).transform(bunch.data)
    log(f"embedded {len(X)} images in {time.perf_counter() - started:.1f} s")
    y, groups, notes = np.asarray(bunch.target), np.asarray(bunch.groups), []
    readable = np.isfinite(X).all(axis=1)
    if not readable.all():
        skipped = [path for path, ok in zip(bunch.data, readable) if not ok]
        log(f"skipping {len(skipped)} unreadable images: {skipped[:5]}")
        notes.append(f"{len(skipped)} unreadable images were left out (first: {skipped[0]}).")
        X, y, groups = X[readable], y[readable], groups[readable]
    return X, y, groups, notes


def methods_of(problem, args):
    """The rows to compare: every selection mode at every K, then the debiasing methods."""
    from skclip_sage.comparison import debias_methods, selection_methods

    shared = {"pretrained": problem["pretrained"], "device": args.device, "cache_dir": args.cache_dir}
    methods = selection_methods(
        problem["model"],
        class_names=problem["class_names"],
        templates=problem["templates"],
        k_values=args.k,
        random_state=args.seed,
        **shared,
    )
    methods += perception_preset_methods(problem, shared)
    if problem["concepts"] is None and not args.no_debias:
        problem["notes"].append(
            "No debiasing rows: they need concept texts, and only Waterbirds, CelebA, PACS and VLCS have a preset."
        )
    if problem["concepts"] is not None and not args.no_debias:
        tie_fit = "train" if args.tie_fit == "train" and problem["X_train"] is not None else "evaluation"
        if tie_fit == "evaluation":
            reason = "--tie-fit evaluation" if args.tie_fit == "evaluation" else "no separate training split"
            problem["notes"].append(f"TIE* estimated its scales on the evaluated images ({reason}).")
        methods += debias_methods(
            problem["model"],
            class_names=problem["class_names"],
            templates=problem["templates"],
            concepts=problem["concepts"],
            lam=args.lam,
            tie_fit_on=tie_fit,
            **shared,
        )
    return methods


def perception_preset_methods(problem, shared):
    """PerceptionCLIP with its dataset's contextual attributes instead of the template pool (real data only)."""
    from skclip_sage import SageZeroShotClassifier
    from skclip_sage.comparison import ComparisonMethod
    from skclip_sage.prompts import resolve_templates

    # PerceptionCLIP's own attributes for the datasets its paper evaluates (official presets, from the table).
    record = DATASET_LOADERS.get(problem["dataset"])
    preset = record.perception_templates if record is not None else None
    if preset is None:
        return []
    estimator = SageZeroShotClassifier(
        problem["model"], templates=preset, class_names=problem["class_names"], selection="perception", **shared
    )
    n_values = len(resolve_templates(preset))
    description = f"PerceptionCLIP over the official {problem['dataset']} attributes ({preset}, {n_values} values)"
    return [ComparisonMethod("perception+attributes", estimator, k=n_values, description=description)]


def main(argv=None):
    """Run the comparison; return the process exit status (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.dataset is not None and args.root is None:
        parser.error(f"--dataset {args.dataset} needs --root, the dataset folder or its parent")
    if any(k < 1 for k in args.k):
        parser.error(f"--k values must be >= 1; got {args.k}")
    from skclip_sage.comparison import ResultsOverwriteError, check_results_folder

    try:
        # Before any work: the refusal must not come after the embedding.
        check_results_folder(args.output, WRITER, force=args.force)
    except ResultsOverwriteError as err:
        writer = err.previous_writer or "an unknown command (no results.written-by file)"
        log(
            f"error: {', '.join(err.paths)} were written by {writer}, not by {WRITER}; refusing to overwrite "
            "them. Choose another --output, or pass --force to overwrite them."
        )
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    if args.cache_dir is None and args.dataset is not None:
        args.cache_dir = args.output / "cache"
    try:
        problem = simulated_problem(args) if args.simulate else dataset_problem(args)
    except FileNotFoundError as err:
        # The loaders say which file is expected where and where the dataset comes from.
        log(f"error: {err}")
        return 2
    from skclip_sage.comparison import compare_methods, write_results

    rows = compare_methods(
        methods_of(problem, args),
        problem["X"],
        problem["y"],
        groups=problem["groups"],
        group_names=problem["group_names"],
        average=average_of(problem["dataset"]),
        weights=problem["weights"],
        X_train=problem["X_train"],
        y_train=problem["y_train"],
        log=log,
    )
    paper_model = args.paper_model or problem["model_name"]
    try:
        written = write_results(
            args.output,
            rows,
            title=problem["title"],
            model=problem["model_name"],
            pretrained=problem["pretrained"],
            dataset=problem["dataset"],
            average=average_of(problem["dataset"]),
            notes=problem["notes"],
            paper_numbers=lambda row: published_numbers(problem["dataset"], row["mode"], row["k"], model=paper_model),
            plot=not args.no_plot,
            writer=WRITER,
            force=args.force,
            log=log,
        )
    except ImportError as err:
        log(f"results.png not written: {err}")
        return 1
    log("wrote " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
