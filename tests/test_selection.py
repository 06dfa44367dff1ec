"""SAGE selection math (skclip_sage.selection._sage) against an obviously correct per-image loop."""

import numpy as np
import pytest
import torch

from skclip_sage.selection import _chunks  # issue 22: the chunking left SAGE's module
from skclip_sage.selection._sage import (
    class_gram_matrices,
    duplicate_template_map,
    fixed_prototypes,
    l2_normalize,
    sage_scores,
    template_separation,
    template_similarities,
    top_k_templates,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def unit_rows(array):
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def random_problem(n, n_templates, n_classes, width=16, seed=0):
    """Unit image embeddings (n, D) and a unit text bank (T, C, D), float64."""
    rng = np.random.default_rng(seed)
    images = unit_rows(rng.normal(size=(n, width)))
    bank = unit_rows(rng.normal(size=(n_templates, n_classes, width)))
    return images, bank


def reference_sage(images, bank, k):
    """SPEC section 1, one image and one template at a time, in float64."""
    images, bank = np.asarray(images, np.float64), np.asarray(bank, np.float64)
    n_templates, n_classes, _ = bank.shape
    all_scores, all_selected = [], []
    for image in images:
        similarity = [[float(image @ bank[t, c]) for c in range(n_classes)] for t in range(n_templates)]
        separation = [max(row) - min(row) for row in similarity]
        # Largest separation first; equal separations: lowest template index first.
        chosen = sorted(range(n_templates), key=lambda t: (-separation[t], t))[:k]
        scores = []
        for c in range(n_classes):
            prototype = np.mean([bank[t, c] for t in chosen], axis=0)
            prototype = prototype / np.linalg.norm(prototype)
            scores.append(float(image @ prototype))
        all_scores.append(scores)
        all_selected.append(chosen)
    return np.array(all_scores), np.array(all_selected)


def as_kind(array, kind, dtype):
    array = np.asarray(array, dtype=dtype)
    return torch.from_numpy(array) if kind == "torch" else array


def to_host(array):
    return array.numpy() if isinstance(array, torch.Tensor) else array


TOLERANCE = {np.float32: 2e-5, np.float64: 1e-12}

# (n, T, C, K): K = 1 (argmax), K <= 8 (argmax rounds), K > 8 (stable sort), K * K <= T
# (Gram block gather), K * K > T (template mask), K = T (the full ensemble).
SHAPES = [
    (1, 1, 2, 1),
    (7, 3, 2, 1),
    (7, 3, 2, 2),
    (7, 3, 2, 3),
    (25, 20, 2, 1),
    (25, 20, 3, 2),
    (25, 20, 3, 4),
    (25, 20, 5, 5),
    (25, 20, 4, 8),
    (25, 20, 3, 12),
    (25, 20, 2, 20),
    (12, 80, 7, 1),
    (12, 80, 7, 9),
]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, n_templates, n_classes, k", SHAPES)
def test_sage_scores_match_the_per_image_loop(n, n_templates, n_classes, k, dtype, kind):
    images, bank = random_problem(n, n_templates, n_classes, seed=n * 1000 + n_templates * 10 + k)
    images, bank = images.astype(dtype), bank.astype(dtype)
    expected_scores, expected_selected = reference_sage(images, bank, k)

    scores, selected = sage_scores(as_kind(images, kind, dtype), as_kind(bank, kind, dtype), k=k)

    assert type(scores) is type(selected) is (torch.Tensor if kind == "torch" else np.ndarray)
    assert to_host(scores).dtype == dtype and scores.shape == (n, n_classes) and selected.shape == (n, k)
    np.testing.assert_array_equal(to_host(selected), expected_selected)
    np.testing.assert_allclose(to_host(scores), expected_scores, rtol=0, atol=TOLERANCE[dtype])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 1000])
@pytest.mark.parametrize("k", [1, 3, 11])
def test_chunk_size_does_not_change_the_result(chunk_size, k, kind):
    images, bank = random_problem(23, 15, 4, seed=k)
    expected_scores, expected_selected = reference_sage(images, bank, k)
    whole_scores, whole_selected = sage_scores(as_kind(images, kind, np.float64), as_kind(bank, kind, np.float64), k=k)

    scores, selected = sage_scores(
        as_kind(images, kind, np.float64), as_kind(bank, kind, np.float64), k=k, chunk_size=chunk_size
    )

    np.testing.assert_array_equal(to_host(selected), expected_selected)
    np.testing.assert_allclose(to_host(scores), expected_scores, atol=1e-12)
    # Every image's row is computed on its own, so chunking changes no bit.
    np.testing.assert_array_equal(to_host(selected), to_host(whole_selected))
    np.testing.assert_allclose(to_host(scores), to_host(whole_scores), rtol=0, atol=1e-15)


def test_default_chunk_size_bounds_memory_and_keeps_results(monkeypatch):
    images, bank = random_problem(40, 10, 3, seed=5)
    expected_scores, expected_selected = sage_scores(images, bank, k=2, chunk_size=40)
    # Shrink the budget so the default chunking has to split 40 images into several chunks.
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 3 * 10 * 3 * 8 * 6)
    calls = []
    original = _chunks.template_similarities

    def spy(chunk, *args, **kwargs):
        calls.append(len(chunk))
        return original(chunk, *args, **kwargs)

    monkeypatch.setattr(_chunks, "template_similarities", spy)
    scores, selected = sage_scores(images, bank, k=2)
    assert calls == [6] * 6 + [4]
    np.testing.assert_array_equal(selected, expected_selected)
    np.testing.assert_allclose(scores, expected_scores, rtol=0, atol=1e-15)


def test_hand_computed_three_templates_two_classes_two_dimensions():
    # s[t] for v = (0.8, 0.6):  t0: (0.8, 0.6) sep 0.2;  t1: (1.0, 0.96) sep 0.04;  t2: (0.8, 0.96) sep 0.16.
    bank = np.array(
        [
            [[1.0, 0.0], [0.0, 1.0]],
            [[0.8, 0.6], [0.6, 0.8]],
            [[1.0, 0.0], [0.6, 0.8]],
        ]
    )
    image = np.array([[0.8, 0.6]])
    np.testing.assert_allclose(template_similarities(image, bank)[0], [[0.8, 0.6], [1.0, 0.96], [0.8, 0.96]])
    np.testing.assert_allclose(template_separation(template_similarities(image, bank)), [[0.2, 0.04, 0.16]])

    scores, selected = sage_scores(image, bank, k=1)
    assert selected.tolist() == [[0]]
    np.testing.assert_allclose(scores, [[0.8, 0.6]])  # template 0 alone: landbird wins

    scores, selected = sage_scores(image, bank, k=2)
    assert selected.tolist() == [[0, 2]]
    # class 0: normalize((1, 0) + (1, 0)) = (1, 0); class 1: normalize((0, 1) + (0.6, 0.8)) = (0.6, 1.8) / sqrt(3.6)
    np.testing.assert_allclose(scores, [[0.8, (0.8 * 0.6 + 0.6 * 1.8) / np.sqrt(3.6)]])
    assert scores.argmax() == 1  # two templates flip the prediction

    scores, selected = sage_scores(image, bank, k=3)
    assert selected.tolist() == [[0, 2, 1]]
    # class 0: (2.8, 0.6) / sqrt(8.2); class 1: (1.2, 2.6) / sqrt(8.2)
    np.testing.assert_allclose(scores, [[2.6 / np.sqrt(8.2), 2.52 / np.sqrt(8.2)]])


@pytest.mark.parametrize("k", [1, 4, 9, 30])
def test_k_equal_to_the_pool_is_the_prompt_ensemble(k):
    images, bank = random_problem(11, k, 3, seed=k)
    scores, selected = sage_scores(images, bank, k=k)
    ensemble = images @ fixed_prototypes(bank, np.arange(k)).T
    np.testing.assert_allclose(scores, ensemble, rtol=0, atol=1e-13)
    assert all(sorted(row) == list(range(k)) for row in selected.tolist())


def duplicated_bank(kind, dtype):
    """Templates 1, 4 and 6 are one and the same, and the best separated for every image."""
    rng = np.random.default_rng(3)
    width = 16
    # Weak templates: every class prompt is close to one shared vector.
    bank = unit_rows(rng.normal(size=(8, 1, width)) + rng.normal(size=(8, 3, width)) * 0.05)
    strong = unit_rows(np.eye(3, width) * 5 + rng.normal(size=(3, width)) * 0.01)
    for index in (1, 4, 6):
        bank[index] = strong
    images = unit_rows(np.eye(3, width)[rng.integers(0, 3, size=30)] + rng.normal(size=(30, width)) * 0.1)
    return as_kind(images, kind, dtype), as_kind(bank, kind, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_duplicated_templates_tie_to_the_lowest_index_on_numpy_and_torch(k, dtype):
    results = {}
    for kind in ("numpy", "torch"):
        images, bank = duplicated_bank(kind, dtype)
        _, selected = sage_scores(images, bank, k=k)
        results[kind] = to_host(selected)
    np.testing.assert_array_equal(results["numpy"], results["torch"])
    assert (results["numpy"][:, : min(k, 3)] == [1, 4, 6][: min(k, 3)]).all()


def test_duplicate_template_map():
    bank = np.zeros((5, 2, 3))
    bank[:, 0, 0] = [1, 2, 1, 3, 2]
    np.testing.assert_array_equal(duplicate_template_map(bank), [0, 1, 0, 3, 1])
    assert duplicate_template_map(np.arange(12.0).reshape(2, 2, 3)) is None
    np.testing.assert_array_equal(duplicate_template_map(torch.from_numpy(bank)), [0, 1, 0, 3, 1])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("k", [1, 2, 5, 9, 12])
def test_top_k_breaks_ties_by_lowest_index(k, kind):
    separation = np.array([[0.5, 0.2, 0.5, 0.5, 0.1, 0.5, 0.2, 0.2, 0.5, 0.3, 0.5, 0.5]])
    expected = sorted(range(12), key=lambda t: (-separation[0, t], t))[:k]
    values = torch.from_numpy(separation) if kind == "torch" else separation.copy()
    before = to_host(values).copy()
    assert to_host(top_k_templates(values, k)).tolist() == [expected]
    np.testing.assert_array_equal(to_host(values), before)  # the input is not modified


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_l2_normalize_leaves_zero_rows_at_zero(kind):
    vectors = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    unit, is_zero = l2_normalize(as_kind(vectors, kind, np.float64))
    np.testing.assert_allclose(to_host(unit), [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])
    assert to_host(is_zero).tolist() == [False, True, False]


def test_class_gram_matrices():
    _, bank = random_problem(1, 6, 3, seed=9)
    gram = class_gram_matrices(bank)
    assert gram.shape == (3, 6, 6)
    for c in range(3):
        np.testing.assert_allclose(gram[c], bank[:, c] @ bank[:, c].T, atol=1e-14)


def test_precomputed_gram_gives_the_same_scores():
    images, bank = random_problem(9, 10, 3, seed=2)
    scores, selected = sage_scores(images, bank, k=3)
    again, selected_again = sage_scores(images, bank, k=3, gram=class_gram_matrices(bank))
    np.testing.assert_array_equal(again, scores)
    np.testing.assert_array_equal(selected_again, selected)


def test_same_input_gives_bitwise_equal_output():
    images, bank = random_problem(50, 20, 4, seed=1)
    images, bank = images.astype(np.float32), bank.astype(np.float32)
    first = sage_scores(images, bank, k=3)
    second = sage_scores(images.copy(), bank.copy(), k=3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_inputs_are_not_modified():
    images, bank = random_problem(10, 9, 3, seed=4)
    images_before, bank_before = images.copy(), bank.copy()
    sage_scores(images, bank, k=4)
    np.testing.assert_array_equal(images, images_before)
    np.testing.assert_array_equal(bank, bank_before)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("k", [1, 3, 9])
def test_cuda_matches_cpu(k):
    images, bank = random_problem(64, 20, 5, seed=k)
    images, bank = images.astype(np.float32), bank.astype(np.float32)
    cpu_scores, cpu_selected = sage_scores(images, bank, k=k)
    scores, selected = sage_scores(torch.from_numpy(images).cuda(), torch.from_numpy(bank).cuda(), k=k)
    assert scores.device.type == "cuda"
    np.testing.assert_array_equal(selected.cpu().numpy(), cpu_selected)
    np.testing.assert_allclose(scores.cpu().numpy(), cpu_scores, atol=1e-5)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("k", [1, 2, 5])
def test_duplicated_templates_tie_identically_on_cuda(k):
    images, bank = duplicated_bank("numpy", np.float32)
    _, cpu_selected = sage_scores(images, bank, k=k)
    _, selected = sage_scores(torch.from_numpy(images).cuda(), torch.from_numpy(bank).cuda(), k=k)
    np.testing.assert_array_equal(selected.cpu().numpy(), cpu_selected)


def test_the_selection_table_is_what_every_reader_sees():
    from skclip_sage import SageZeroShotClassifier
    from skclip_sage.selection import SELECTION_METHODS, SELECTIONS, SELECTIONS_USING_K, describe_selections

    assert SELECTIONS == tuple(SELECTION_METHODS)
    assert SELECTIONS_USING_K == tuple(name for name, method in SELECTION_METHODS.items() if method.uses_k)
    assert {name for name, method in SELECTION_METHODS.items() if not method.per_image} == {
        "single",
        "ensemble",
        "text",
        "score_average",
        "autoclip",
        "zpe",
        "perception",
    }
    assert {name for name, method in SELECTION_METHODS.items() if method.random} == {
        "random",
        "random_with_replacement",
    }
    constraint = SageZeroShotClassifier._parameter_constraints["selection"][0]
    assert set(constraint.options) == set(SELECTIONS)
    help_text = describe_selections()
    assert all(f"{name}: " in help_text for name in SELECTIONS)


def test_the_command_line_seeds_every_random_selection_of_the_table():
    from skclip_sage.cli._estimators import resolve_seed

    assert isinstance(resolve_seed(None, ["random_with_replacement"]), int)
    assert resolve_seed(None, ["sage", "ensemble"]) is None
    assert resolve_seed(7, ["random"]) == 7
