"""Selection baselines (skclip_sage.selection._baselines) and every mode of _scoring.score_embeddings."""

import warnings

import numpy as np
import pytest
import torch

from skclip_sage.exceptions import ZeroNormEmbeddingWarning
from skclip_sage.selection._baselines import (
    random_chooser,
    random_template_indices,
    text_selected_templates,
    worst_class_pair_similarity,
)
from skclip_sage.selection._sage import score_in_chunks
from skclip_sage.selection._scoring import score_embeddings, softmax


def unit_rows(array):
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def random_problem(n, n_templates, n_classes, width=12, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    images = unit_rows(rng.normal(size=(n, width))).astype(dtype)
    bank = unit_rows(rng.normal(size=(n_templates, n_classes, width))).astype(dtype)
    return images, bank


def reference_fixed(images, bank, templates):
    """Every image scored against normalize(mean of the chosen templates' unit vectors)."""
    scores = np.empty((len(images), bank.shape[1]))
    for i, image in enumerate(np.asarray(images, np.float64)):
        for c in range(bank.shape[1]):
            prototype = np.mean([np.asarray(bank[t, c], np.float64) for t in templates], axis=0)
            scores[i, c] = image @ (prototype / np.linalg.norm(prototype))
    return scores


def reference_per_image(images, bank, selected):
    return np.array([reference_fixed(image[None], bank, chosen)[0] for image, chosen in zip(images, selected)])


# ---------------------------------------------------------------- random selection


def test_random_indices_are_seeded_and_without_replacement():
    first = random_template_indices(200, 9, 4, np.random.default_rng(0))
    again = random_template_indices(200, 9, 4, np.random.default_rng(0))
    other = random_template_indices(200, 9, 4, np.random.default_rng(1))
    assert first.shape == (200, 4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert all(len(set(row)) == 4 for row in first.tolist())
    assert first.min() >= 0 and first.max() <= 8
    # Every template is drawn: the draw is not stuck on a few indices.
    assert set(first.ravel().tolist()) == set(range(9))


def test_random_indices_with_k_equal_to_the_pool_are_permutations():
    indices = random_template_indices(50, 6, 6, np.random.RandomState(3))
    assert all(sorted(row) == list(range(6)) for row in indices.tolist())


@pytest.mark.parametrize("chunk_size", [1, 4, 100])
def test_random_scores_match_the_reference_for_the_drawn_templates(chunk_size):
    images, bank = random_problem(17, 10, 3, seed=1)
    indices = random_template_indices(17, 10, 3, np.random.default_rng(7))
    scores, selected = score_in_chunks(images, bank, random_chooser(indices), chunk_size=chunk_size)
    np.testing.assert_array_equal(selected, indices)
    np.testing.assert_allclose(scores, reference_per_image(images, bank, indices), atol=1e-12)


def test_random_chooser_with_torch_tensors():
    images, bank = random_problem(9, 10, 3, seed=1)
    indices = random_template_indices(9, 10, 4, np.random.default_rng(7))
    scores, selected = score_in_chunks(
        torch.from_numpy(images), torch.from_numpy(bank), random_chooser(indices), chunk_size=4
    )
    assert isinstance(scores, torch.Tensor)
    np.testing.assert_array_equal(selected.numpy(), indices)
    np.testing.assert_allclose(scores.numpy(), reference_per_image(images, bank, indices), atol=1e-12)


def test_random_mode_is_reproducible_and_leaves_global_random_states_alone():
    images, bank = random_problem(40, 12, 3, seed=2)
    np.random.seed(123)
    torch.manual_seed(123)
    numpy_state = np.random.get_state()
    torch_state = torch.get_rng_state()

    first = score_embeddings(images, bank, selection="random", k=3, random_state=0)
    second = score_embeddings(images, bank, selection="random", k=3, random_state=0)
    other = score_embeddings(images, bank, selection="random", k=3, random_state=1)
    unseeded = score_embeddings(images, bank, selection="random", k=3, random_state=None)

    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])
    assert unseeded[1].shape == (40, 3)
    assert all(len(set(row)) == 3 for row in first[1].tolist())
    np.testing.assert_allclose(first[0], reference_per_image(images, bank, first[1]), atol=1e-12)
    # Neither library's global generator was consumed or reseeded.
    saved = np.random.get_state()
    assert saved[0] == numpy_state[0] and np.array_equal(saved[1], numpy_state[1]) and saved[2:] == numpy_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_random_mode_with_a_generator_object_advances_only_that_generator():
    images, bank = random_problem(10, 8, 2, seed=3)
    generator = np.random.default_rng(5)
    first = score_embeddings(images, bank, selection="random", k=2, random_state=generator)[1]
    second = score_embeddings(images, bank, selection="random", k=2, random_state=generator)[1]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, random_template_indices(10, 8, 2, np.random.default_rng(5)))


# ---------------------------------------------------------------- fixed selections


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_single_and_ensemble_match_the_reference(dtype):
    images, bank = random_problem(13, 7, 4, seed=4, dtype=dtype)
    tolerance = 2e-6 if dtype == np.float32 else 1e-12
    for selection, templates in [("single", [0]), ("ensemble", list(range(7))), ("text", [5, 2])]:
        scores, selected = score_embeddings(images, bank, selection=selection, k=1, fixed_templates=np.array(templates))
        assert scores.dtype == dtype
        np.testing.assert_allclose(scores, reference_fixed(images, bank, templates), atol=tolerance)
        np.testing.assert_array_equal(selected, np.tile(templates, (13, 1)))


@pytest.mark.parametrize(
    ("selection", "expected"), [("single", [0]), ("ensemble", [0, 1, 2, 3]), ("text", "text_selected")]
)
def test_fixed_selections_choose_their_templates_from_the_table(selection, expected):
    images, bank = random_problem(3, 4, 2)
    expected = text_selected_templates(bank, 2).tolist() if expected == "text_selected" else expected
    scores, selected = score_embeddings(images, bank, selection=selection, k=2)
    np.testing.assert_array_equal(selected, np.tile(expected, (3, 1)))
    np.testing.assert_allclose(scores, reference_fixed(images, bank, expected), atol=1e-12)


def test_unknown_selection_names_the_choices():
    images, bank = random_problem(3, 4, 2)
    with pytest.raises(ValueError, match="is not a selection method; choose one of .*'random_with_replacement'"):
        score_embeddings(images, bank, selection="best", k=1)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_random_with_replacement_is_the_reference_codes_baseline(kind):
    # The paper's code: K independent draws per image, prototype = normalize(mean of the drawn
    # embeddings), so a template drawn twice weighs twice.
    images, bank = random_problem(40, 3, 2, seed=2)
    scores, selected = score_embeddings(images, bank, selection="random_with_replacement", k=3, random_state=7)
    assert selected.shape == (40, 3) and selected.max() < 3
    assert any(len(set(row)) < 3 for row in selected.tolist())  # some rows repeat a template
    expected = np.stack([reference_fixed(image[None], bank, row)[0] for image, row in zip(images, selected)])
    np.testing.assert_allclose(scores, expected, atol=1e-12)
    # k == n_templates is not the ensemble when draws repeat.
    ensemble, _ = score_embeddings(images, bank, selection="ensemble", k=1)
    assert not np.allclose(scores, ensemble)
    again, _ = score_embeddings(images, bank, selection="random_with_replacement", k=3, random_state=7)
    np.testing.assert_array_equal(again, scores)
    legacy, _ = score_embeddings(
        images, bank, selection="random_with_replacement", k=3, random_state=np.random.RandomState(0)
    )
    assert legacy.shape == (40, 2)


@pytest.mark.parametrize("selection", ["sage", "random"])
def test_k_equal_to_the_pool_is_exactly_the_ensemble(selection):
    images, bank = random_problem(21, 9, 3, seed=5, dtype=np.float32)
    scores, _ = score_embeddings(images, bank, selection=selection, k=9, random_state=0)
    ensemble, _ = score_embeddings(images, bank, selection="ensemble", k=1, fixed_templates=np.arange(9))
    np.testing.assert_array_equal(scores, ensemble)


@pytest.mark.parametrize("selection", ["sage", "random", "ensemble"])
def test_zero_norm_rows_get_uniform_scores_and_one_warning(selection):
    images, bank = random_problem(6, 5, 3, seed=6)
    images[[1, 4]] = 0.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores, _ = score_embeddings(
            images, bank, selection=selection, k=2, fixed_templates=np.arange(5), random_state=0
        )
    relevant = [w for w in caught if issubclass(w.category, ZeroNormEmbeddingWarning)]
    assert len(relevant) == 1 and "[1, 4]" in str(relevant[0].message)
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(scores[[1, 4]], 0.0)
    np.testing.assert_allclose(softmax(scores * 100)[[1, 4]], 1 / 3)


def test_softmax_is_stable_and_normalised():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0], [-800.0, -800.0, -801.0]])
    proba = softmax(logits)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[1], 1 / 3)


# ---------------------------------------------------------------- text (class-name-only) selection


def test_worst_class_pair_similarity_on_a_hand_built_bank():
    s = np.sqrt(0.5)
    bank = np.array(
        [
            # classes 0 and 1 nearly the same (cos 0.96), class 2 orthogonal to both
            [[1.0, 0.0, 0.0], [0.96, 0.28, 0.0], [0.0, 0.0, 1.0]],
            # every pair at cos 0.5
            [[1.0, 0.0, 0.0], [0.5, np.sqrt(0.75), 0.0], [0.5, 0.5 / np.sqrt(3), np.sqrt(2 / 3)]],
            # every pair orthogonal
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            # classes 1 and 2 at cos 0.5 (45 degrees from the same axis twice)
            [[1.0, 0.0, 0.0], [0.0, s, s], [0.0, s, -s]],
        ]
    )
    np.testing.assert_allclose(worst_class_pair_similarity(bank), [0.96, 0.5, 0.0, 0.0], atol=1e-12)
    # Best (least confusable) first; templates 2 and 3 tie at 0, so 2 (lower index) first.
    assert text_selected_templates(bank, 4).tolist() == [2, 3, 1, 0]
    assert text_selected_templates(bank, 1).tolist() == [2]
    assert text_selected_templates(torch.from_numpy(bank), 2).tolist() == [2, 3]


def test_text_selection_of_duplicated_templates_keeps_the_lowest_index():
    _, bank = random_problem(1, 6, 3, seed=8)
    bank[4] = bank[1]
    order = text_selected_templates(bank, 6).tolist()
    assert sorted(order) == list(range(6))
    assert order.index(1) == order.index(4) - 1  # the copies stay adjacent, lowest first


def test_text_selection_with_two_classes_is_the_class_cosine():
    _, bank = random_problem(1, 5, 2, seed=9)
    cosines = np.einsum("td,td->t", bank[:, 0], bank[:, 1])
    np.testing.assert_allclose(worst_class_pair_similarity(bank), cosines, atol=1e-12)
    assert text_selected_templates(bank, 5).tolist() == np.argsort(cosines, kind="stable").tolist()
