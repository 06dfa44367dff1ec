"""AutoCLIP, ZPE, PerceptionCLIP and the score average in the numeric core, against per-image loops.

The references here are written from the papers' formulas, one image at a time in
float64 (AutoCLIP's step size with SciPy's bisect, as the released code searches it).
The cross-checks against the official code itself live outside the repository (they
import AGPL and notebook code); their tables are in benchmarks/README.md.
"""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import bisect

from skclip_sage.selection import (
    aggregate_in_chunks,
    autoclip_scores,
    autoclip_weights,
    perception_log_probabilities,
    score_embeddings,
    zpe_keep,
    zpe_template_scores,
    zpe_weights,
)
from skclip_sage.selection._autoclip_search import replay_bisection


def unit_rows(array):
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def random_problem(n, n_templates, n_classes, width=16, seed=0, dtype=np.float64, spread=1.0):
    rng = np.random.default_rng(seed)
    images = unit_rows(rng.normal(size=(n, width))).astype(dtype)
    shared = rng.normal(size=(1, n_classes, width))
    bank = unit_rows(shared + spread * rng.normal(size=(n_templates, n_classes, width))).astype(dtype)
    return images, bank


def similarities_of(images, bank):
    return np.einsum("nd,tcd->ntc", images, bank)


def softmax(values):
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def reference_autoclip(similarities, beta):
    """One image at a time: the paper's gradient step, the step size by SciPy's bisect on [0, 1e7]."""
    scores = []
    for image in np.asarray(similarities, np.float64):
        S = image.T  # (C, T)
        n_templates = S.shape[1]
        w = np.full(n_templates, 1.0 / n_templates)
        p = softmax(S @ w)
        sbar = p @ S
        gradient = w * (sbar - w @ sbar)
        target = beta * math.log2(n_templates)

        def excess(alpha):
            weights = softmax(alpha * gradient)
            return -(weights * np.log2(weights + 1e-300)).sum() - target

        if n_templates == 1 or beta >= 1 or np.ptp(gradient) == 0:
            alpha = 0.0
        else:
            alpha = bisect(excess, 0.0, 1e7, xtol=1e-2, rtol=1e-2, maxiter=100)
        scores.append(S @ softmax(alpha * gradient))
    return np.array(scores)


def reference_perception(similarities, scale, temperature):
    """Probabilities in float64, straight from the formulas (moderate logits only)."""
    out = []
    for image in np.asarray(similarities, np.float64):
        f = scale * image  # (Z, C)
        p_z = np.exp(f / temperature).sum(axis=1)
        p_z /= p_z.sum()
        p_y_given_z = np.exp(f) / np.exp(f).sum(axis=1, keepdims=True)
        out.append((p_z[:, None] * p_y_given_z).sum(axis=0))
    return np.array(out)


def reference_zpe_scores(images, bank, scale, reference=None):
    logits = scale * similarities_of(images, bank)  # (n, T, C)
    centre = logits.mean(axis=0)
    if reference is not None:
        centre = 0.5 * (centre + (scale * similarities_of(reference, bank)).mean(axis=0))
    return (logits - centre).max(axis=2).mean(axis=0)


# ------------------------------------------------------------------------------ AutoCLIP


@pytest.mark.parametrize("n_templates, n_classes", [(2, 2), (5, 2), (12, 3), (80, 2), (30, 40)])
@pytest.mark.parametrize("beta", [0.85, 0.5, 0.95])
def test_autoclip_matches_the_per_image_bisection(n_templates, n_classes, beta):
    images, bank = random_problem(40, n_templates, n_classes, seed=n_templates + n_classes, spread=0.3)
    similarities = similarities_of(images, bank)

    scores = autoclip_scores(similarities, beta)

    expected = reference_autoclip(similarities, beta)
    # The library follows the released code's float32 arithmetic where its rounding decides
    # (the gradient of near-equal templates), so it agrees with this float64 formula to
    # float32 rounding; test_selection_exactness.py holds it to the released rule itself.
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(scores.argmax(axis=1), expected.argmax(axis=1))


def test_autoclip_weights_reach_the_target_entropy_and_favour_separating_templates():
    images, bank = random_problem(60, 20, 3, seed=3, spread=0.3)
    weights = autoclip_weights(similarities_of(images, bank), beta=0.85)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    entropy = -(weights * np.log2(weights)).sum(axis=1)
    # The released search stops within 1 % of the step size, so the entropy is near, not at, the target.
    np.testing.assert_allclose(entropy, 0.85 * np.log2(20), rtol=0.02)


def test_autoclip_degenerate_rows_get_uniform_weights():
    # One template; all templates identical (a zero gradient); beta = 1: the mean of the similarities.
    images, bank = random_problem(5, 1, 3, seed=1)
    one = similarities_of(images, bank)
    np.testing.assert_allclose(autoclip_scores(one, 0.85), one[:, 0, :])
    tied = np.repeat(one, 4, axis=1)
    np.testing.assert_allclose(autoclip_scores(tied, 0.85), one[:, 0, :], atol=1e-15)
    images, bank = random_problem(5, 6, 3, seed=2)
    similarities = similarities_of(images, bank)
    np.testing.assert_allclose(autoclip_scores(similarities, 1.0), similarities.mean(axis=1), atol=1e-15)


def test_autoclip_with_an_unreachable_entropy_concentrates_on_the_tied_best_templates():
    # Two templates tie for the largest gradient: the entropy cannot fall below 1 bit, above
    # beta * log2(3) = 0.16 bits (the released code raises here); the weights split between them.
    similarities = np.array([[[0.3, 0.1], [0.3, 0.1], [0.2, 0.2]]])
    weights = autoclip_weights(similarities, beta=0.1)
    np.testing.assert_allclose(weights, [[0.5, 0.5, 0.0]], atol=1e-6)


def test_replayed_bisection_is_scipys_midpoint():
    rng = np.random.default_rng(0)
    roots = np.concatenate([10 ** rng.uniform(-3, 6.9, size=200), [0.0]])
    replayed = replay_bisection(roots)
    for root, value in zip(roots[:-1], replayed[:-1]):
        assert value == bisect(lambda x, r=root: r - x, 0.0, 1e7, xtol=1e-2, rtol=1e-2, maxiter=100)
    assert replayed[-1] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_autoclip_on_torch_tensors_equals_numpy(dtype):
    images, bank = random_problem(30, 10, 4, seed=4, dtype=dtype, spread=0.3)
    similarities = similarities_of(images, bank)
    on_torch = autoclip_scores(torch.from_numpy(similarities), 0.85)
    assert isinstance(on_torch, torch.Tensor) and on_torch.dtype == torch.from_numpy(similarities).dtype
    np.testing.assert_allclose(on_torch.numpy(), autoclip_scores(similarities, 0.85), atol=2e-6)


# ------------------------------------------------------------------------------ ZPE


@pytest.mark.parametrize("with_reference", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_zpe_scores_match_the_formula(with_reference, chunk_size):
    images, bank = random_problem(37, 9, 4, seed=5)
    reference = unit_rows(np.random.default_rng(9).normal(size=(11, 16))) if with_reference else None
    scores = zpe_template_scores(images, bank, 100.0, reference_embeddings=reference, chunk_size=chunk_size)
    np.testing.assert_allclose(scores, reference_zpe_scores(images, bank, 100.0, reference), atol=1e-10)


def test_zpe_selection_and_weights_follow_the_median_absolute_deviation():
    scores = np.array([1.0, 1.2, 0.9, 1.1, 5.0, 4.0])
    # median 1.15, MAD 0.2 (|deviations| 0.15 0.05 0.25 0.05 3.85 2.85)
    assert zpe_keep(scores, 2.0).tolist() == [4, 5]
    assert zpe_keep(scores, 100.0).tolist() == []
    weights = zpe_weights(scores, zpe_keep(scores, 2.0))
    np.testing.assert_allclose(weights, [0, 0, 0, 0, np.e / (np.e + 1), 1 / (np.e + 1)])
    # A MAD of zero keeps what lies above the median, as the official division by zero does.
    assert zpe_keep(np.array([1.0, 1.0, 1.0, 2.0]), 0.5).tolist() == [3]
    assert zpe_keep(np.array([3.0]), 0.5).tolist() == []


def test_zpe_without_the_logit_scale_would_weigh_templates_almost_evenly():
    images, bank = random_problem(50, 8, 3, seed=6)
    everything = np.arange(8)
    scaled = zpe_weights(zpe_template_scores(images, bank, 100.0), everything)
    unscaled = zpe_weights(zpe_template_scores(images, bank, 1.0), everything)
    assert np.ptp(unscaled) < 0.02 < np.ptp(scaled)


# ------------------------------------------------------------------------------ PerceptionCLIP


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("n_attributes, n_classes", [(1, 2), (2, 2), (12, 2), (36, 2), (5, 30)])
def test_perception_matches_the_probability_formula(temperature, n_attributes, n_classes):
    images, bank = random_problem(25, n_attributes, n_classes, seed=n_attributes * n_classes, spread=0.5)
    similarities = 0.3 * similarities_of(images, bank)  # CLIP-like cosines: no overflow in the reference
    probabilities = np.exp(perception_log_probabilities(similarities, 100.0, temperature))
    np.testing.assert_allclose(probabilities, reference_perception(similarities, 100.0, temperature), atol=1e-12)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


def test_perception_stays_finite_where_float32_exponentials_overflow():
    # cos 0.95 x 100 / 0.5 = 190: exp overflows float32 (and float64 past 710) in a direct computation.
    similarities = np.array([[[0.95, 0.90], [0.20, 0.99]]], dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        direct = np.exp(np.float32(100) * similarities / np.float32(0.5)).sum(axis=2)
    assert not np.isfinite(direct).all()
    log_probabilities = perception_log_probabilities(similarities, 100.0, 0.5)
    assert np.isfinite(log_probabilities).all()
    np.testing.assert_allclose(np.exp(log_probabilities).sum(), 1.0, rtol=1e-6)


def test_perception_on_torch_equals_numpy():
    images, bank = random_problem(20, 6, 3, seed=8, dtype=np.float32)
    similarities = similarities_of(images, bank)
    on_torch = perception_log_probabilities(torch.from_numpy(similarities), 100.0, 2.0)
    np.testing.assert_allclose(on_torch.numpy(), perception_log_probabilities(similarities, 100.0, 2.0), atol=1e-5)


# ------------------------------------------------------------------------------ through score_embeddings

OPTIONS = {"autoclip_beta": 0.85, "perception_temperature": 1.0, "logit_scale": 100.0}


@pytest.mark.parametrize("selection", ["score_average", "autoclip", "perception", "zpe"])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_score_embeddings_aggregations_match_their_formulas_for_rows_of_any_scale(selection, kind):
    images, bank = random_problem(23, 7, 3, seed=11, dtype=np.float32, spread=0.5)
    similarities = similarities_of(images.astype(np.float64), bank.astype(np.float64))
    weights = zpe_weights(zpe_template_scores(images, bank, 100.0), np.arange(7))
    expected = {
        "score_average": similarities.mean(axis=1),
        "autoclip": reference_autoclip(similarities, 0.85),
        "perception": np.log(reference_perception(similarities, 100.0, 1.0)) / 100.0,
        "zpe": np.einsum("t,ntc->nc", weights, similarities),
    }[selection]
    scaled = images * np.linspace(0.01, 1e3, len(images), dtype=np.float32)[:, None]
    options = {**OPTIONS, "template_weights": weights}
    if kind == "torch":
        # The CUDA path's code on CPU tensors: the core functions take tensors as they are.
        from skclip_sage.selection import SELECTION_METHODS
        from skclip_sage.selection._aggregation import aggregate_in_chunks as chunked

        scoring = SELECTION_METHODS[selection].scoring(torch.from_numpy(bank), options)
        tensor = torch.from_numpy(images)
        scores = (
            (tensor @ scoring.head.T)
            if scoring.head is not None
            else chunked(tensor, torch.from_numpy(bank), scoring.aggregate)
        )
        scores = scores.numpy()
    else:
        scores, selected = score_embeddings(scaled, bank, selection=selection, k=1, options=options)
        assert selected.shape == (23, 7) and not selected.flags.writeable
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, expected, atol=3e-6)


@pytest.mark.parametrize("chunk_size", [1, 4, 1000])
def test_aggregations_do_not_depend_on_the_chunk_size(chunk_size):
    images, bank = random_problem(19, 9, 5, seed=12)
    whole = aggregate_in_chunks(images, bank, lambda s: autoclip_scores(s, 0.85))
    chunked = aggregate_in_chunks(images, bank, lambda s: autoclip_scores(s, 0.85), chunk_size=chunk_size)
    # Rows are computed on their own; only the BLAS path of a one-row product may differ by an ulp.
    np.testing.assert_allclose(whole, chunked, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(whole.argmax(axis=1), chunked.argmax(axis=1))


def test_aggregating_scorers_never_hold_the_whole_similarity_tensor(monkeypatch):
    # The chunk loop hands the aggregator at most chunk_size rows at a time.
    images, bank = random_problem(50, 8, 4, seed=13)
    sizes = []

    def aggregate(similarities):
        sizes.append(similarities.shape[0])
        return similarities.mean(axis=1)

    aggregate_in_chunks(images, bank, aggregate, chunk_size=16)
    assert sizes == [16, 16, 16, 2]
    from skclip_sage.selection import _aggregation

    monkeypatch.setattr(_aggregation, "CHUNK_BYTES", 8 * 4 * 8 * 4 * 10)  # room for 10 images
    sizes.clear()
    aggregate_in_chunks(images, bank, aggregate)
    assert max(sizes) == 10


def test_zero_rows_get_uniform_probabilities_under_every_aggregation():
    images, bank = random_problem(4, 5, 3, seed=14, dtype=np.float32)
    images[2] = 0
    weights = np.full(5, 0.2)
    for selection in ("score_average", "autoclip", "perception", "zpe"):
        with pytest.warns(UserWarning, match="zero norm"):
            scores, _ = score_embeddings(
                images, bank, selection=selection, k=1, options={**OPTIONS, "template_weights": weights}
            )
        assert np.isfinite(scores).all()
        np.testing.assert_allclose(scores[2], scores[2][0])
