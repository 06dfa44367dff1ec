"""Embedding-level simulation of multimodal spurious bias (the mechanism SAGE targets).

Two unit directions span the signal: ``core`` (what the class is: the bird) and
``spurious`` (what merely co-occurs with it: the background). Images carry both;
class prompts carry the core concept and, depending on the template, "leak" the
spurious concept associated with their class. A minority image (a waterbird on land)
then gets opposite votes from its core and spurious features, and the template
decides which one wins. No outcome is hard-coded: accuracies come from running the
real classifier on these embeddings.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ._checks import (
    check_count,
    check_names,
    check_non_negative,
    infer_n_templates,
    per_template,
    signed_leakage,
    unit_vector,
)
from ._concepts import simulated_concepts
from ._encoder import SimulatedTextEncoder

__all__ = ["make_spurious_bias"]


def make_spurious_bias(
    n_samples=2000,
    *,
    n_templates=None,
    core_weights=0.3,
    leakage=0.0,
    core_strength=1.0,
    spurious_strength=0.75,
    group_proportions=(0.4, 0.1, 0.1, 0.4),
    noise=0.1,
    template_style=1.0,
    text_noise=0.05,
    embedding_dim=64,
    core_direction=None,
    spurious_direction=None,
    class_names=("landbird", "waterbird"),
    attribute_names=("land", "water"),
    n_train_samples=0,
    seed=None,
):
    """Simulate image and prompt embeddings with a spurious concept leaking into prompts.

    Labels ``y`` and spurious attributes ``a`` are in {0, 1}; ``group = 2 * y + a``
    as on Waterbirds, so groups 0 and 3 are the majority (attribute matches class)
    and groups 1 and 2 the minority. With ``±`` meaning ``2 * y - 1`` (or
    ``2 * a - 1``) and ``normalize`` scaling to unit length:

    - image: ``normalize(core_strength * ±y * core + spurious_strength * ±a *
      spurious + noise * N(0, I))``;
    - prompt of template ``t`` for class ``c``: ``normalize(template_style *
      style[t] + core_weights[t] * ±c * core + leakage[t, c] * spurious +
      text_noise * N(0, I / embedding_dim))``, where ``style[t]`` is a random unit
      direction orthogonal to the signal, shared by the classes of template ``t``.

    For a minority image, template ``t`` votes for the right class when its core
    term ``core_weights[t] * core_strength`` beats its spurious term
    ``|leakage[t]| * spurious_strength``; its separation grows with both, whatever
    the sign, which is the weakness SAGE's separation score has.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of images.
    n_templates : int, default=None
        Size of the template pool; inferred from array-valued ``core_weights`` or
        ``leakage``, else 80.
    core_weights : float or array-like of shape (n_templates,), default=0.3
        How strongly each template's prompt carries its class's core concept.
    leakage : float or array-like of shape (n_templates,) or (n_templates, 2), default=0.0
        How much of the spurious concept each template leaks into its class prompts.
        A value ``l`` per template puts ``-l * spurious`` into the class-0 prompt and
        ``+l * spurious`` into the class-1 prompt (each class leaks the attribute it
        co-occurs with); an ``(n_templates, 2)`` array gives each prompt's signed
        coefficient on the spurious direction.
    core_strength : float, default=1.0
        Weight of the core direction in images.
    spurious_strength : float, default=0.75
        Weight of the spurious direction in images.
    group_proportions : array-like of shape (4,), default=(0.4, 0.1, 0.1, 0.4)
        Share of each group (class-0/attribute-0, class-0/attribute-1,
        class-1/attribute-0, class-1/attribute-1); normalised to sum to 1. Counts
        are rounded, not sampled, so group sizes do not vary with the seed.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to every coordinate of an
        image before normalisation. Its components along the core and spurious
        directions make each image's core and spurious strengths vary.
    template_style : float, default=1.0
        Weight of each template's own style direction, common to its classes; with
        small ``core_weights`` it makes class prompts similar, as CLIP's are.
    text_noise : float, default=0.05
        Scale of independent noise in every prompt embedding.
    embedding_dim : int, default=64
        Width ``D`` of all embeddings; at least 3.
    core_direction, spurious_direction : array-like of shape (embedding_dim,), default=None
        The two signal directions; drawn at random when None. The spurious
        direction is made orthogonal to the core one.
    class_names : sequence of 2 str, default=("landbird", "waterbird")
        Class names put into the templates.
    attribute_names : sequence of 2 str, default=("land", "water")
        Names of the spurious attribute's values, used in ``group_names`` and in
        the concept texts.
    n_train_samples : int, default=0
        Also draw this many independent "training-split" images (same groups in
        the same proportions, their own random stream), for methods that fit on
        unlabelled training images (TIE*).
    seed : int or None, default=None
        Seeds every random draw. The prompts and the images use independent
        streams, so changing ``n_samples`` keeps the same text embeddings.

    Returns
    -------
    simulation : sklearn.utils.Bunch
        data : ndarray of shape (n_samples, embedding_dim), float32
            Unit-norm image embeddings, groups shuffled.
        target : ndarray of shape (n_samples,)
            Class labels, 0 or 1.
        spurious_attribute : ndarray of shape (n_samples,)
            Attribute of each image, 0 or 1.
        groups : ndarray of shape (n_samples,)
            ``2 * target + spurious_attribute``.
        target_names, class_names : list of str
            The class names (one list, under the loaders' and the estimator's name).
        group_names : list of str
            ``"<class>_<attribute>"`` for groups 0 to 3.
        templates : list of str
            The simulated template pool, each with one ``{}``.
        encoder : SimulatedTextEncoder
            Pass as ``model=`` to :class:`~skclip_sage.SageZeroShotClassifier`
            and to the :mod:`skclip_sage.debias` estimators: it also embeds the
            concept texts.
        concepts : sklearn.utils.Bunch
            Texts for the debiasing methods, embedded along the signal directions
            (``harmful``/``helpful`` pairs along spurious/core, one
            ``spurious_prompts`` entry per attribute value, ``orthogonal_prompts``
            and class x attribute ``pairs``): the fields of
            :class:`~skclip_sage.debias.ConceptPreset`.
        train_data, train_target, train_groups : ndarray
            The ``n_train_samples`` training images, labels and groups (empty
            when ``n_train_samples=0``).
        text_embeddings : ndarray of shape (n_templates, 2, embedding_dim), float32
            Unit-norm prompt embeddings (what ``encoder`` returns).
        core_weights : ndarray of shape (n_templates,)
            Core-concept weight of each template.
        leakage : ndarray of shape (n_templates, 2)
            Signed spurious coefficient of each prompt.
        core_direction, spurious_direction : ndarray of shape (embedding_dim,)
            The two unit signal directions.
        DESCR : str
            A summary of the parameters.

    See Also
    --------
    make_spurious_benchmark : Named regimes where SAGE helps or hurts.

    Examples
    --------
    >>> from skclip_sage import SageZeroShotClassifier
    >>> from skclip_sage.metrics import worst_group_accuracy
    >>> simulation = make_spurious_bias(400, n_templates=4, leakage=[0.0, 0.1, 0.5, 0.6], seed=0)
    >>> simulation.data.shape, simulation.group_names[2]
    ((400, 64), 'waterbird_land')
    >>> clf = SageZeroShotClassifier(simulation.encoder, templates=simulation.templates,
    ...                              class_names=simulation.class_names, device="cpu")
    >>> y_pred = clf.fit(simulation.data, simulation.target).predict(simulation.data)
    >>> float(worst_group_accuracy(simulation.target, y_pred, groups=simulation.groups)) > 0.5
    True
    """
    n_samples = check_count("n_samples", n_samples, minimum=1)
    n_train_samples = check_count("n_train_samples", n_train_samples, minimum=0)
    embedding_dim = check_count("embedding_dim", embedding_dim, minimum=3)
    n_templates = infer_n_templates(n_templates, core_weights, leakage)
    core_weights = per_template("core_weights", core_weights, n_templates)
    leakage = signed_leakage(leakage, n_templates)
    for name, value in [
        ("core_strength", core_strength),
        ("spurious_strength", spurious_strength),
        ("noise", noise),
        ("template_style", template_style),
        ("text_noise", text_noise),
    ]:
        check_non_negative(name, value)
    class_names = check_names("class_names", class_names)
    attribute_names = check_names("attribute_names", attribute_names)

    # Children 0-2 keep their streams whatever is added after them (3 is the regimes' pool).
    text_stream, image_stream, direction_stream, _, concept_stream, train_stream = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(6)
    )
    core, spurious = _signal_directions(core_direction, spurious_direction, embedding_dim, direction_stream)
    templates = [f"a photo of a {{}} (simulated template {index})." for index in range(n_templates)]
    bank = _prompt_embeddings(core, spurious, core_weights, leakage, template_style, text_noise, text_stream)

    draw = (core, spurious, core_strength, spurious_strength, noise, group_proportions)
    images, target, attribute, groups = _draw_images(n_samples, *draw, image_stream)
    train_images, train_target, _, train_groups = _draw_images(n_train_samples, *draw, train_stream)
    concepts, concept_embeddings = simulated_concepts(
        core, spurious, list(class_names), list(attribute_names), text_noise, concept_stream
    )
    return Bunch(
        data=images.astype(np.float32),
        target=target,
        spurious_attribute=attribute,
        groups=groups,
        target_names=list(class_names),
        class_names=list(class_names),
        group_names=[f"{name}_{value}" for name in class_names for value in attribute_names],
        templates=templates,
        encoder=SimulatedTextEncoder(templates, class_names, bank, extra_embeddings=concept_embeddings),
        concepts=concepts,
        train_data=train_images,
        train_target=train_target,
        train_groups=train_groups,
        text_embeddings=bank,
        core_weights=core_weights,
        leakage=leakage,
        core_direction=core,
        spurious_direction=spurious,
        DESCR=(
            f"Simulated spurious bias: {n_samples} images, {n_templates} templates, D={embedding_dim}; "
            f"images core {core_strength:g}, spurious {spurious_strength:g}, noise {noise:g}; prompts: "
            f"mean core weight {core_weights.mean():.3g}, mean |leakage| {np.abs(leakage).mean():.3g}."
        ),
    )


def _draw_images(n_samples, core, spurious, core_strength, spurious_strength, noise, proportions, rng):
    """Unit image embeddings of ``n_samples`` images in shuffled groups, with labels and attributes."""
    groups = _balanced_groups(n_samples, proportions, rng) if n_samples else np.zeros(0, dtype=int)
    target, attribute = groups // 2, groups % 2
    images = (
        core_strength * (2 * target - 1)[:, None] * core
        + spurious_strength * (2 * attribute - 1)[:, None] * spurious
        + noise * rng.standard_normal((n_samples, len(core)))
    )
    images /= np.maximum(np.linalg.norm(images, axis=1, keepdims=True), 1e-12)
    return images.astype(np.float32), target, attribute, groups


def _prompt_embeddings(core, spurious, core_weights, leakage, template_style, text_noise, rng):
    n_templates, dim = len(core_weights), len(core)
    style = rng.standard_normal((n_templates, dim))
    # Style is what a template says about every class alike ("a sketch of ..."): it
    # must not favour a class, so it is kept orthogonal to both signal directions.
    style -= np.outer(style @ core, core) + np.outer(style @ spurious, spurious)
    style /= np.linalg.norm(style, axis=1, keepdims=True)
    class_sign = np.array([-1.0, 1.0])
    prompts = (
        template_style * style[:, None, :]
        + (core_weights[:, None] * class_sign)[:, :, None] * core
        + leakage[:, :, None] * spurious
        + text_noise * rng.standard_normal((n_templates, 2, dim)) / np.sqrt(dim)
    )
    norms = np.linalg.norm(prompts, axis=2, keepdims=True)
    if np.any(norms < 1e-12):
        raise ValueError(
            "make_spurious_bias: some prompt embeddings are zero; give template_style, core_weights, "
            "leakage or text_noise a positive value."
        )
    return (prompts / norms).astype(np.float32)


def _signal_directions(core, spurious, dim, rng):
    if core is None or spurious is None:
        # QR of a Gaussian matrix gives a uniformly random orthonormal pair.
        random_pair, _ = np.linalg.qr(rng.standard_normal((dim, 2)))
        core = random_pair[:, 0] if core is None else core
        spurious = random_pair[:, 1] if spurious is None else spurious
    core = unit_vector("core_direction", core, dim)
    spurious = unit_vector("spurious_direction", spurious, dim)
    # Only the part of the spurious concept the core one does not explain counts.
    spurious = spurious - (spurious @ core) * core
    if np.linalg.norm(spurious) < 1e-6:
        raise ValueError("make_spurious_bias: spurious_direction must not be parallel to core_direction.")
    return core, spurious / np.linalg.norm(spurious)


def _balanced_groups(n_samples, proportions, rng):
    proportions = np.asarray(proportions, dtype=float)
    if (
        proportions.shape != (4,)
        or not np.all(np.isfinite(proportions))
        or np.any(proportions < 0)
        or proportions.sum() == 0
    ):
        raise ValueError(
            "make_spurious_bias: group_proportions needs 4 finite, non-negative numbers with a positive sum "
            f"(class-0/attribute-0, class-0/attribute-1, class-1/attribute-0, class-1/attribute-1); "
            f"got {proportions.tolist()}."
        )
    shares = proportions / proportions.sum() * n_samples
    counts = np.floor(shares).astype(int)
    # Largest remainders first, so the counts add up to n_samples exactly.
    counts[np.argsort(counts - shares, kind="stable")[: n_samples - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(4), counts))
