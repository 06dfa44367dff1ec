"""The spurious-bias simulator: its outputs, its mechanism, and the regimes' directional effects.

Every classifier here is the real SageZeroShotClassifier with the simulation's encoder as
``model=``; device="cpu" keeps torch from being imported, so the file runs in seconds.
"""

import copy
import pickle

import numpy as np
import pytest

from skclip_sage import SageZeroShotClassifier
from skclip_sage.encoders._protocol import TEXT_METHODS, missing_members
from skclip_sage.metrics import group_accuracies, worst_group_accuracy
from skclip_sage.synthetic import REGIMES, SimulatedTextEncoder, make_spurious_benchmark, make_spurious_bias

SEEDS = range(5)
N_SAMPLES = 400  # 40 images in each minority group with the default proportions


def classify(simulation, selection="sage", k=1, templates=None):
    clf = SageZeroShotClassifier(
        simulation.encoder,
        templates=templates or simulation.templates,
        class_names=simulation.class_names,
        selection=selection,
        k=k,
        random_state=0,
        device="cpu",
    )
    return clf.fit(simulation.data, simulation.target)


def wga(simulation, selection, k=1):
    y_pred = classify(simulation, selection, k).predict(simulation.data)
    return worst_group_accuracy(simulation.target, y_pred, groups=simulation.groups)


def test_outputs_have_documented_shapes_and_meaning():
    simulation = make_spurious_bias(1000, n_templates=6, embedding_dim=16, seed=0)
    assert simulation.data.shape == (1000, 16) and simulation.data.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(simulation.data, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(simulation.groups, 2 * simulation.target + simulation.spurious_attribute)
    # Counts are rounded from the proportions, not sampled.
    assert np.bincount(simulation.groups).tolist() == [400, 100, 100, 400]
    assert simulation.group_names == ["landbird_land", "landbird_water", "waterbird_land", "waterbird_water"]
    assert simulation.text_embeddings.shape == (6, 2, 16) and len(simulation.templates) == 6
    assert simulation.leakage.shape == (6, 2)
    assert abs(simulation.core_direction @ simulation.spurious_direction) < 1e-9


def test_group_counts_add_up_for_uneven_proportions():
    simulation = make_spurious_bias(7, n_templates=2, group_proportions=(3, 1, 1, 3), seed=0)
    assert np.bincount(simulation.groups, minlength=4).sum() == 7


def test_same_seed_same_simulation_and_images_do_not_change_the_prompts():
    first, second = (make_spurious_bias(50, n_templates=3, leakage=0.2, seed=3) for _ in range(2))
    np.testing.assert_array_equal(first.data, second.data)
    assert first.encoder.identity == second.encoder.identity
    assert make_spurious_bias(50, n_templates=3, seed=4).encoder.identity != first.encoder.identity
    # Prompts and images use independent streams: more images, same text bank.
    larger = make_spurious_bias(80, n_templates=3, leakage=0.2, seed=3)
    np.testing.assert_array_equal(larger.text_embeddings, first.text_embeddings)


def test_encoder_plugs_into_the_real_classifier():
    simulation = make_spurious_bias(60, n_templates=4, leakage=[0.0, 0.1, 0.2, 0.3], seed=1)
    assert missing_members(simulation.encoder, TEXT_METHODS) == []
    clf = classify(simulation, selection="ensemble")
    np.testing.assert_allclose(clf.text_embeddings_, simulation.text_embeddings, atol=1e-6)
    # A subset of the templates works; a foreign prompt names the fix.
    classify(simulation, templates=simulation.templates[:2])
    with pytest.raises(ValueError, match="templates=simulation.templates"):
        classify(simulation, templates=["a drawing of a {}."])


def test_encoder_survives_pickle_and_deepcopy():
    simulation = make_spurious_bias(20, n_templates=2, seed=0)
    prompts = [simulation.templates[1].format("waterbird")]
    for copied in (pickle.loads(pickle.dumps(simulation.encoder)), copy.deepcopy(simulation.encoder)):
        np.testing.assert_array_equal(copied.encode_text(prompts), simulation.encoder.encode_text(prompts))
        assert copied.identity == simulation.encoder.identity


def test_encoder_rejects_a_bank_of_the_wrong_shape():
    with pytest.raises(ValueError, match="n_templates, n_classes"):
        SimulatedTextEncoder(["a {}."], ["cat", "dog"], np.zeros((2, 2, 3)))


@pytest.mark.parametrize("leakage, correct", [(0.3, True), (0.5, False)])
def test_a_template_votes_by_core_or_spurious_term_whichever_is_larger(leakage, correct):
    # Without noise the vote on a minority image is the sign of
    # core_weight * core_strength - leakage * spurious_strength = 0.3 - 0.75 * leakage.
    simulation = make_spurious_bias(
        200,
        core_weights=[0.3],
        leakage=[leakage],
        noise=0.0,
        text_noise=0.0,
        seed=0,
    )
    y_pred = classify(simulation).predict(simulation.data)
    table = group_accuracies(simulation.target, y_pred, groups=simulation.groups)
    assert table.accuracy[[0, 3]].tolist() == [1.0, 1.0]  # majority: both terms agree
    assert table.accuracy[[1, 2]].tolist() == ([1.0, 1.0] if correct else [0.0, 0.0])


# The margins below: with 40 images per minority group, one seed's WGA has a standard
# error of about 8 points and the mean over 5 seeds about 3.5. Measured means (seeds
# 0-4, 400 images): theory_holds SAGE 84 vs ensemble 18; confidently_wrong SAGE 18 vs
# ensemble 100. Requiring 30 points leaves room for many standard errors, yet fails if
# SAGE chose templates no better than chance (which would give a difference near 0).
DIRECTIONAL_MARGIN = 0.30


def _mean_wga(regime, selection):
    return np.mean([wga(make_spurious_benchmark(regime, N_SAMPLES, seed=seed), selection) for seed in SEEDS])


def test_theory_holds_sage_beats_the_ensemble_on_worst_group_accuracy():
    assert _mean_wga("theory_holds", "sage") - _mean_wga("theory_holds", "ensemble") >= DIRECTIONAL_MARGIN


def test_confidently_wrong_sage_falls_below_the_ensemble():
    assert _mean_wga("confidently_wrong", "ensemble") - _mean_wga("confidently_wrong", "sage") >= DIRECTIONAL_MARGIN


def test_no_leakage_every_mode_is_accurate():
    simulation = make_spurious_benchmark("no_leakage", N_SAMPLES, seed=0)
    for selection in ("sage", "ensemble", "single", "random", "text"):
        assert wga(simulation, selection) >= 0.95


@pytest.mark.parametrize("regime, leaky_share", [("theory_holds", (0.0, 0.3)), ("confidently_wrong", (0.6, 1.0))])
def test_sage_errors_come_from_choosing_background_dominated_templates(regime, leaky_share):
    # A template misleads on minority images when its leakage angle exceeds
    # 90 - atan(0.75 / 1) ~ 53 degrees (see skclip_sage/synthetic/_regimes.py).
    simulation = make_spurious_benchmark(regime, N_SAMPLES, seed=0)
    minority = np.isin(simulation.groups, [1, 2])
    chosen = classify(simulation).selected_templates(simulation.data[minority])[:, 0]
    share = np.mean(simulation.leakage_angle[chosen] > 53.13)
    assert leaky_share[0] <= share <= leaky_share[1]
    if regime == "confidently_wrong":
        # Confidently wrong only on the minority: the same templates are right on the majority.
        y_pred = classify(simulation).predict(simulation.data)
        table = group_accuracies(simulation.target, y_pred, groups=simulation.groups)
        assert table.accuracy[[0, 3]].min() >= 0.95


def test_regimes_are_documented_and_checked():
    assert set(REGIMES) == {"theory_holds", "confidently_wrong", "no_leakage"}
    with pytest.raises(ValueError, match="regime must be one of"):
        make_spurious_benchmark("unknown")
    with pytest.raises(ValueError, match="cannot be overridden"):
        make_spurious_benchmark("theory_holds", leakage=0.1)
    simulation = make_spurious_benchmark("confidently_wrong", 40, n_templates=20, seed=0, noise=0.0)
    assert simulation.regime == "confidently_wrong" and "confidently_wrong" in simulation.DESCR
    assert (simulation.leakage_angle > 53.13).sum() == 1  # 5% of 20 templates


def test_given_directions_are_used():
    core = np.zeros(8)
    core[0] = 2.0
    spurious = np.ones(8)
    simulation = make_spurious_bias(
        10, n_templates=2, embedding_dim=8, core_direction=core, spurious_direction=spurious, seed=0
    )
    np.testing.assert_allclose(simulation.core_direction, np.eye(8)[0])
    assert abs(simulation.spurious_direction[0]) < 1e-12


@pytest.mark.parametrize(
    "parameters, message",
    [
        ({"group_proportions": (1, 1, 1)}, "group_proportions"),
        ({"group_proportions": (0, 0, 0, 0)}, "group_proportions"),
        ({"embedding_dim": 2}, "embedding_dim"),
        ({"n_samples": 0}, "n_samples"),
        ({"core_weights": [0.1, 0.2], "leakage": [0.1, 0.2, 0.3]}, "disagree"),
        ({"n_templates": 2, "leakage": [0.1, 0.2, 0.3]}, "leakage"),
        ({"leakage": np.zeros((3, 3))}, "2-D leakage"),
        ({"core_weights": -1.0}, "core_weights"),
        ({"noise": float("nan")}, "noise"),
        ({"class_names": ("bird", "bird")}, "class_names"),
        ({"core_direction": np.ones(64), "spurious_direction": np.ones(64)}, "parallel"),
        ({"core_direction": np.ones(3)}, "core_direction"),
        ({"template_style": 0.0, "core_weights": 0.0, "text_noise": 0.0}, "zero"),
    ],
)
def test_bad_parameters_are_named(parameters, message):
    with pytest.raises(ValueError, match=message):
        make_spurious_bias(**{"n_samples": 10, **parameters})


def _mean_wga_of_rows(regime):
    """Mean WGA of every comparison row over the seeds, TIE* fitted on the simulated train split."""
    from skclip_sage.comparison import compare_methods, debias_methods, selection_methods

    table = {}
    for seed in SEEDS:
        simulation = make_spurious_benchmark(regime, N_SAMPLES, seed=seed, n_train_samples=N_SAMPLES)
        shared = {"class_names": simulation.class_names, "templates": simulation.templates, "device": "cpu"}
        methods = selection_methods(
            simulation.encoder, modes=("single", "ensemble", "sage"), k_values=(1,), **shared
        ) + debias_methods(simulation.encoder, concepts=simulation.concepts, **shared)
        rows = compare_methods(
            methods,
            simulation.data,
            simulation.target,
            groups=simulation.groups,
            X_train=simulation.train_data,
            y_train=simulation.train_target,
        )
        for row in rows:
            table.setdefault(row["mode"], []).append(row["WGA"] / 100)
    return {mode: np.mean(values) for mode, values in table.items()}


def test_theory_holds_debiasing_rows_beat_zero_shot_and_stack_with_sage():
    wga_of = _mean_wga_of_rows("theory_holds")
    # The concept texts point (noisily) along the background direction, so removing it helps most.
    for mode in ("roboshot", "orth_cali", "tie*"):
        assert wga_of[mode] - wga_of["single"] >= 0.2, mode
    for mode in ("roboshot+sage", "orth_cali+sage"):
        assert wga_of[mode] >= wga_of["sage"], mode
    assert wga_of["sage"] - wga_of["ensemble"] >= DIRECTIONAL_MARGIN


def test_confidently_wrong_debiasing_undoes_sages_failure():
    wga_of = _mean_wga_of_rows("confidently_wrong")
    assert wga_of["ensemble"] - wga_of["sage"] >= DIRECTIONAL_MARGIN
    # With the background removed, the vivid templates no longer separate minority images wrongly.
    for mode in ("roboshot+sage", "orth_cali+sage"):
        assert wga_of[mode] - wga_of["sage"] >= DIRECTIONAL_MARGIN, mode


def test_no_leakage_every_row_is_accurate():
    assert min(_mean_wga_of_rows("no_leakage").values()) >= 0.95


def test_concept_texts_are_embedded_along_the_signal_directions():
    simulation = make_spurious_bias(200, n_templates=4, n_train_samples=60, seed=3)
    concepts, encoder = simulation.concepts, simulation.encoder
    assert concepts.spurious_prompts == ["a photo with a land background", "a photo with a water background"]
    land, water = encoder.encode_text(concepts.spurious_prompts)
    # The water prompt lies further along +spurious than the land one, and no further along core than that.
    spurious_gap = (water - land) @ simulation.spurious_direction
    assert spurious_gap > 0.5 and abs((water - land) @ simulation.core_direction) < spurious_gap
    positive, negative = encoder.encode_text(list(concepts.helpful[0]))
    assert (positive - negative) @ simulation.core_direction > 0.5
    assert all(len(pair) == 2 for pair in concepts.pairs + concepts.harmful)
    # The training split is independent of the evaluated images, in the same proportions.
    assert simulation.train_data.shape == (60, 64) and np.bincount(simulation.train_groups).tolist() == [24, 6, 6, 24]
    assert not np.allclose(simulation.train_data[:10], simulation.data[:10])
    assert make_spurious_bias(200, n_templates=4, seed=3).train_data.shape == (0, 64)
    # The images do not depend on whether a training split is drawn.
    np.testing.assert_array_equal(make_spurious_bias(200, n_templates=4, seed=3).data, simulation.data)


def test_encoder_extra_texts_are_checked():
    bank = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    with pytest.raises(ValueError, match="repeat prompts"):
        SimulatedTextEncoder(["a {}."], ["cat", "dog"], bank, extra_embeddings={"a cat.": [1.0, 0.0]})
    with pytest.raises(ValueError, match="must be 2 wide"):
        SimulatedTextEncoder(["a {}."], ["cat", "dog"], bank, extra_embeddings={"x": [1.0, 0.0, 0.0]})
