"""The fast paths of skclip_sage.selection._sage and _arrays, each against its plain spelling.

The speed-ups (two-class separation, running extremes over class slabs, packed-key
top-k, flat-index fills, pair-gathered Gram norms, mask products) must give the
same templates as the obvious code, bit for bit where the obvious code is exact.
"""

import numpy as np
import pytest
import torch

from skclip_sage.selection import _arrays as arrays
from skclip_sage.selection._sage import (
    class_gram_matrices,
    duplicate_template_map,
    gram_tables,
    prototype_scores,
    sage_scores,
    template_separation,
    template_similarities,
    top_k_templates,
)
from skclip_sage.selection._top_k import _top_k_by_argmax_rounds, _top_k_by_packed_keys


def _plain_top_k(values, k):
    """Largest first, ties by lowest index: a stable sort of the negated values."""
    return np.argsort(-np.asarray(values, dtype=np.float64), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("n_classes", [2, 3, 7])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_separation_equals_max_minus_min_bitwise(n_classes, kind):
    rng = np.random.default_rng(n_classes)
    images = rng.normal(size=(11, 16)).astype(np.float32)
    bank = rng.normal(size=(9, n_classes, 16)).astype(np.float32)
    if kind == "torch":
        images, bank = torch.from_numpy(images), torch.from_numpy(bank)
    similarities = template_similarities(images, bank)
    expected = arrays.to_numpy(similarities).max(axis=-1) - arrays.to_numpy(similarities).min(axis=-1)
    np.testing.assert_array_equal(arrays.to_numpy(template_separation(similarities)), expected)


def test_separation_of_a_plain_template_major_array():
    similarities = np.random.default_rng(0).normal(size=(5, 4, 3))
    np.testing.assert_array_equal(template_separation(similarities), np.ptp(similarities, axis=-1))


def test_separation_does_not_modify_its_input():
    similarities = np.random.default_rng(1).normal(size=(4, 6, 5)).astype(np.float32)
    before = similarities.copy()
    template_separation(similarities)
    np.testing.assert_array_equal(similarities, before)


@pytest.mark.parametrize("k", [1, 2, 5, 9, 20, 40])
def test_packed_keys_match_a_stable_sort_with_many_ties(k):
    rng = np.random.default_rng(k)
    values = rng.integers(0, 5, size=(200, 40)).astype(np.float32) / 4  # many exact ties
    np.testing.assert_array_equal(_top_k_by_packed_keys(values, k), _plain_top_k(values, k))
    np.testing.assert_array_equal(_top_k_by_argmax_rounds(values, k), _plain_top_k(values, k))
    np.testing.assert_array_equal(top_k_templates(values, k), _plain_top_k(values, k))


def test_packed_keys_order_negative_values_zeros_and_infinities():
    values = np.array([[-1.5, 0.0, -0.0, 2.0, -np.inf, np.inf, 1e-40, -1e-40, 3.0, 3.0]], dtype=np.float32)
    # -0.0 ties with +0.0 (lowest index first), as argmax and a stable sort see them.
    assert _top_k_by_packed_keys(values, 10)[0].tolist() == [5, 8, 9, 3, 6, 1, 2, 7, 0, 4]
    np.testing.assert_array_equal(_top_k_by_packed_keys(values, 10), _plain_top_k(values, 10))


@pytest.mark.parametrize("n_templates", [2, 3, 64, 65, 300])
def test_packed_keys_for_template_counts_around_powers_of_two(n_templates):
    values = np.random.default_rng(n_templates).random((30, n_templates)).astype(np.float32)
    values[:, -1] = values[:, 0]  # a tie between the first and the last template
    k = n_templates
    np.testing.assert_array_equal(_top_k_by_packed_keys(values, k), _plain_top_k(values, k))


def test_top_k_float64_and_torch_agree_with_packed_keys():
    values = np.random.default_rng(3).integers(0, 4, size=(50, 30)).astype(np.float32)
    expected = _plain_top_k(values, 12)
    np.testing.assert_array_equal(top_k_templates(values.astype(np.float64), 12), expected)
    np.testing.assert_array_equal(top_k_templates(torch.from_numpy(values), 12).numpy(), expected)


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_fill_along_axis_matches_put_along_axis(layout):
    values = np.arange(40, dtype=np.float32).reshape(5, 8)
    if layout == "strided":
        values = np.asfortranarray(values)
    indices = np.array([[0, 3], [7, 1], [2, 2], [5, 6], [4, 0]])
    expected = values.copy()
    np.put_along_axis(expected, indices, -1.0, axis=1)
    arrays.fill_along_axis(values, indices, -1.0, axis=-1)
    np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_count_rows_counts_repeats(kind):
    convert = torch.from_numpy if kind == "torch" else np.asarray
    like = convert(np.zeros(1, np.float32))
    mask = arrays.count_rows(convert(np.array([[2, 0], [1, 3], [3, 3]])), 4, like=like)
    np.testing.assert_array_equal(arrays.to_numpy(mask), [[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 0, 2]])
    assert arrays.to_numpy(mask).dtype == np.float32


@pytest.mark.parametrize("repeats", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 9])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_prototype_scores_equal_the_direct_prototypes(k, kind, repeats):
    # Both norm routes (pairs for k*k <= T, mask products above) against explicit prototypes;
    # with repeats, a template drawn twice weighs twice (the mean of the drawn embeddings).
    rng = np.random.default_rng(k)
    n, n_templates, n_classes, width = 13, 20, 4, 24
    images = rng.normal(size=(n, width))
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    bank = rng.normal(size=(n_templates, n_classes, width))
    bank /= np.linalg.norm(bank, axis=-1, keepdims=True)
    selected = np.stack([rng.permutation(n_templates)[:k] for _ in range(n)])
    if repeats and k > 1:
        selected[:, -1] = selected[:, 0]
        selected[0] = selected[0, 0]  # one row of a single template k times
    expected = np.empty((n, n_classes))
    for row in range(n):
        prototypes = bank[selected[row]].sum(axis=0)
        prototypes /= np.linalg.norm(prototypes, axis=-1, keepdims=True)
        expected[row] = prototypes @ images[row]
    convert = torch.from_numpy if kind == "torch" else np.asarray
    gram = class_gram_matrices(convert(bank))
    scores = prototype_scores(
        template_similarities(convert(images), convert(bank)), convert(selected), gram, tables=gram_tables(gram)
    )
    np.testing.assert_allclose(arrays.to_numpy(scores), expected, atol=1e-12)


def test_gram_tables_layouts():
    gram = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    tables = gram_tables(gram)
    assert tables.pairs.shape == (2, 9) and tables.rows.shape == (3, 6)
    for c in range(2):
        for t in range(3):
            for u in range(3):
                assert tables.pairs[c, t * 3 + u] == gram[c, t, u] == tables.rows[t, c * 3 + u]


def test_duplicate_map_compares_bits_and_keeps_first_copies():
    bank = np.random.default_rng(0).normal(size=(6, 3, 4)).astype(np.float32)
    bank[4] = bank[1]
    bank[5] = bank[1]
    bank[3] = bank[0]
    bank[3, 0, 0] = np.nextafter(bank[0, 0, 0], np.float32(np.inf))  # one ulp apart: not a duplicate
    np.testing.assert_array_equal(duplicate_template_map(bank), [0, 1, 2, 3, 1, 1])


@pytest.mark.parametrize("n_classes", [2, 5])
@pytest.mark.parametrize("k", [1, 4, 12])
def test_float32_scores_equal_float64_selection_on_separated_data(n_classes, k):
    # Guard for the whole fast pipeline in float32: same templates as in float64 when the
    # separations are far apart, and scores within float32 rounding.
    rng = np.random.default_rng(n_classes * 100 + k)
    images = rng.normal(size=(64, 32))
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    bank = rng.normal(size=(30, n_classes, 32))
    bank /= np.linalg.norm(bank, axis=-1, keepdims=True)
    scores64, selected64 = sage_scores(images, bank, k)
    scores32, selected32 = sage_scores(images.astype(np.float32), bank.astype(np.float32), k)
    separation = template_separation(template_similarities(images, bank))
    ordered = np.sort(separation, axis=1)[:, ::-1]
    clear = ordered[:, k - 1] - ordered[:, k] > 1e-5 if k < 30 else np.ones(len(images), bool)
    np.testing.assert_array_equal(selected32[clear], selected64[clear])
    np.testing.assert_allclose(scores32[clear], scores64[clear], atol=2e-6)
