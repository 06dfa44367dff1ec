"""Choose template pool, selection mode and K by cross-validated worst-group accuracy.

The classifier works on precomputed image embeddings, here from the spurious-bias
simulator (regime ``"theory_holds"``), so the search runs in seconds and offline.
With real data, replace the simulation by ``ClipImageEmbedder(...).fit_transform(paths)``
and a model name.

Two kinds of groups travel through scikit-learn's metadata routing:

- ``groups``: the photo site of each image, for the group-aware CV splitter, so that
  images of one site never appear in both the fitting and the scoring fold;
- ``eval_groups``: the robustness groups (class x background), for the worst-group
  scorer. ``make_group_scorer(groups_param="eval_groups")`` asks for them by that name.

Run it with ``python examples/grid_search_worst_group.py``.
"""

import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from skclip_sage import SageZeroShotClassifier
from skclip_sage.metrics import make_group_scorer
from skclip_sage.synthetic import make_spurious_benchmark

N_SITES = 30


def run_grid_search(n_samples=1200, seed=0):
    """Fit the grid search; return it and the names of the template pools."""
    simulation = make_spurious_benchmark("theory_holds", n_samples, seed=seed)
    pools = {
        "all 80 templates": simulation.templates,
        "first 40 templates": simulation.templates[:40],
    }
    # Each image was taken at one of N_SITES sites (independent of its class and group).
    sites = np.random.default_rng(seed).integers(0, N_SITES, n_samples)
    param_grid = [
        {"templates": list(pools.values()), "selection": ["single", "ensemble"]},
        {"templates": list(pools.values()), "selection": ["random", "text", "sage"], "k": [1, 5, 20]},
    ]
    classifier = SageZeroShotClassifier(
        simulation.encoder,
        templates=simulation.templates,
        class_names=simulation.class_names,
        random_state=seed,
        device="cpu",
    )
    search = GridSearchCV(
        classifier,
        param_grid,
        scoring=make_group_scorer("worst_group_accuracy", groups_param="eval_groups"),
        # Stratified by class, grouped by site: every fold sees both classes, no site is split.
        cv=StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=seed),
        # A scoring error should stop the search, not turn into a NaN score.
        error_score="raise",
    )
    with sklearn.config_context(enable_metadata_routing=True):
        search.fit(simulation.data, simulation.target, groups=sites, eval_groups=simulation.groups)
    return search, pools


def describe(params, pools):
    """A short label for one candidate: pool name, selection and K."""
    pool = next(name for name, templates in pools.items() if templates == params["templates"])
    k = f", k={params['k']}" if "k" in params else ""
    return f"{params['selection']}{k} on {pool}"


def main():
    """Print the candidates ranked by mean worst-group accuracy; return the search."""
    search, pools = run_grid_search()
    results = search.cv_results_
    print("rank  mean WGA  (std)   candidate")
    for index in np.argsort(results["rank_test_score"], kind="stable"):
        print(
            f"{results['rank_test_score'][index]:>4}  {results['mean_test_score'][index]:8.3f}  "
            f"({results['std_test_score'][index]:.3f})  {describe(results['params'][index], pools)}"
        )
    print(f"best: {describe(search.best_params_, pools)} with worst-group accuracy {search.best_score_:.3f}")
    return search


if __name__ == "__main__":
    main()
