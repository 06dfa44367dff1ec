"""Named simulation regimes: template pools under which SAGE helps, hurts, or changes nothing.

Every regime shares the images (core strength 1, spurious strength 0.75, noise 0.2:
the bird is more visible than the background, but not by much) and differs only in
how the spurious concept is spread over the templates. Each template gets a
class-content strength ``m`` and a leakage angle ``theta``: its prompts carry
``m * cos(theta)`` of the core concept and ``m * sin(theta)`` of the spurious one.
For a minority image the template votes correctly while ``theta`` stays below
``90 - atan(0.75) ~ 53`` degrees; its separation grows with ``m * |cos(theta + 37)|``,
large for clean templates *and* for strongly leaking ones.
"""

from __future__ import annotations

import numpy as np

from ._simulator import make_spurious_bias

__all__ = ["REGIMES", "make_spurious_benchmark"]

# Image side shared by every regime; see the module docstring.
SHARED_IMAGE_PARAMETERS = {"core_strength": 1.0, "spurious_strength": 0.75, "noise": 0.2}
# Class-content strength of an ordinary template: with template_style=1 the two class
# prompts of a template have cosine ~0.83, the order of CLIP's "a photo of a landbird"
# versus "a photo of a waterbird".
ORDINARY_STRENGTH = (0.25, 0.35)

REGIMES = {
    "theory_holds": (
        "Most templates leak the background strongly (theta 55-80 degrees), so the "
        "ensemble and a typical single template call minority images by their "
        "background; 15% are clean (theta 0-20). All templates have similar strength, "
        "so on a minority image the clean ones separate the classes most: SAGE's "
        "premise, and SAGE (k=1) beats the ensemble on worst-group accuracy."
    ),
    "confidently_wrong": (
        "Most templates are nearly clean (theta 0-25 degrees), so the ensemble is "
        "robust; 5% are vivid and background-dominated (theta 75-85, three times the "
        "strength, like 'a photo of a {} in its natural habitat'). On a minority image "
        "those give the largest separation, with the wrong sign: SAGE (k=1) picks "
        "them and is confidently wrong, far below the ensemble (SPEC's known weakness)."
    ),
    "no_leakage": (
        "Control: no template leaks (theta 0); every selection mode is about equally accurate on every group."
    ),
}


def make_spurious_benchmark(
    regime="theory_holds", n_samples=2000, *, n_templates=80, embedding_dim=64, seed=None, **parameters
):
    """Simulate one of the named regimes of multimodal spurious bias.

    Parameters
    ----------
    regime : {"theory_holds", "confidently_wrong", "no_leakage"}, default="theory_holds"
        Which template pool to draw; see ``REGIMES`` for each one's description.
    n_samples : int, default=2000
        Number of images (groups in proportions 0.4, 0.1, 0.1, 0.4 by default).
    n_templates : int, default=80
        Size of the template pool (80 like OpenAI's ImageNet templates).
    embedding_dim : int, default=64
        Width of the embeddings.
    seed : int or None, default=None
        Seeds the template pool, the prompts and the images.
    **parameters : dict
        Other keyword arguments of :func:`make_spurious_bias` (e.g. ``noise``,
        ``spurious_strength``, ``group_proportions``), overriding the regime's
        image settings. The template pool (``core_weights``, ``leakage``) is the
        regime itself and cannot be overridden here.

    Returns
    -------
    simulation : sklearn.utils.Bunch
        As :func:`make_spurious_bias`, plus ``regime`` (the name) and
        ``leakage_angle`` (ndarray of shape (n_templates,), degrees).

    See Also
    --------
    make_spurious_bias : The simulator with every parameter exposed.

    Examples
    --------
    >>> from skclip_sage import SageZeroShotClassifier
    >>> from skclip_sage.metrics import worst_group_accuracy
    >>> simulation = make_spurious_benchmark("theory_holds", 1000, seed=0)
    >>> def wga(selection):
    ...     clf = SageZeroShotClassifier(simulation.encoder, templates=simulation.templates,
    ...                                  class_names=simulation.class_names, selection=selection,
    ...                                  device="cpu")
    ...     y_pred = clf.fit(simulation.data, simulation.target).predict(simulation.data)
    ...     return worst_group_accuracy(simulation.target, y_pred, groups=simulation.groups)
    >>> bool(wga("sage") > wga("ensemble"))
    True
    """
    if regime not in REGIMES:
        raise ValueError(f"regime must be one of {sorted(REGIMES)}; got {regime!r} instead.")
    fixed = sorted({"core_weights", "leakage", "n_templates"} & set(parameters))
    if fixed:
        raise ValueError(
            f"make_spurious_benchmark: {fixed} define the regime's template pool and cannot be "
            "overridden; call make_spurious_bias to choose them yourself."
        )
    if seed is None:
        # Draw the seed once so that the pool and the images come from one reproducible root.
        seed = int(np.random.SeedSequence().entropy)
    pool_stream = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    strength, angle = _template_pool(regime, n_templates, pool_stream)
    radians = np.radians(angle)
    simulation = make_spurious_bias(
        n_samples,
        core_weights=strength * np.cos(radians),
        leakage=strength * np.sin(radians),
        embedding_dim=embedding_dim,
        seed=seed,
        **{**SHARED_IMAGE_PARAMETERS, **parameters},
    )
    simulation.regime = regime
    simulation.leakage_angle = angle
    simulation.DESCR = f"Regime {regime!r}: {REGIMES[regime]}\n{simulation.DESCR}"
    return simulation


def _template_pool(regime, n_templates, rng):
    """Class-content strength and leakage angle (degrees) of each template, shuffled."""
    if not isinstance(n_templates, (int, np.integer)) or n_templates < 1:
        raise ValueError(f"make_spurious_benchmark: n_templates must be an integer >= 1; got {n_templates!r}.")
    strength = rng.uniform(*ORDINARY_STRENGTH, n_templates)
    if regime == "theory_holds":
        n_clean = max(1, round(0.15 * n_templates))
        angle = np.concatenate([rng.uniform(0, 20, n_clean), rng.uniform(55, 80, n_templates - n_clean)])
    elif regime == "confidently_wrong":
        n_dominant = max(1, round(0.05 * n_templates))
        angle = np.concatenate([rng.uniform(75, 85, n_dominant), rng.uniform(0, 25, n_templates - n_dominant)])
        # Three times an ordinary template's strength: vivid enough that its
        # separation beats the cleanest template's on a minority image.
        strength[:n_dominant] = 1.0
    else:
        angle = np.zeros(n_templates)
    # Shuffled so that no mode can profit from the pool's order ("single" uses template 0).
    order = rng.permutation(n_templates)
    return strength[order], angle[order]
