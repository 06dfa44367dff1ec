"""Overflow-free row norms in one pass (skclip_sage.selection._norms) and l2_normalize built on them."""

import warnings

import numpy as np
import pytest
import torch

from skclip_sage.selection import l2_normalize, row_scaling, score_embeddings


def rows(dtype=np.float32, n=6, width=512):
    return np.random.default_rng(0).normal(size=(n, width)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e20, 1e-25, 3e30])
def test_rows_of_any_finite_scale_normalise_to_the_same_unit_vectors(dtype, scale):
    X = rows(dtype)
    reference = X / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    scaled = X * dtype(scale)
    if not np.isfinite(scaled).all() or not (scaled != 0).any(axis=1).all():
        pytest.skip("scale outside this dtype's range")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        unit, is_zero = l2_normalize(scaled)
    assert unit.dtype == dtype and not is_zero.any()
    np.testing.assert_allclose(unit, reference, atol=1e-6)


def test_the_naive_norm_overflows_where_ours_does_not():
    X = rows() * np.float32(1e20)
    with np.errstate(over="ignore"):
        assert np.isinf(np.linalg.norm(X, axis=1)).all()
    np.testing.assert_allclose(np.linalg.norm(l2_normalize(X)[0], axis=1), 1.0, rtol=1e-6)


def test_zero_and_non_finite_rows_are_reported_not_hidden():
    X = rows(n=5)
    X[1] = 0.0
    X[2, 7] = np.nan
    X[3, 0] = -np.inf
    X[4] *= np.float32(1e20)
    scaling = row_scaling(X)
    assert scaling.non_finite.tolist() == [2, 3]
    assert scaling.norms[1] == 0.0 and np.isnan(scaling.norms[[2, 3]]).all()
    unit, is_zero = l2_normalize(X)
    assert is_zero.tolist() == [False, True, False, False, False]
    assert (unit[1] == 0).all() and np.isnan(unit[2]).all() and np.isfinite(unit[[0, 4]]).all()


def test_the_input_is_never_written_and_copied_only_when_a_row_needs_rescaling():
    X = rows()
    assert row_scaling(X).rows is X  # the common case: no copy at all
    X[0] *= np.float32(1e20)
    before = X.copy()
    scaling = row_scaling(X)
    assert scaling.rows is not X
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(scaling.rows[1:], X[1:])


def test_higher_dimensional_and_integer_inputs():
    bank = rows(n=12).reshape(3, 4, 512) * np.float32(1e20)
    unit, is_zero = l2_normalize(bank)
    assert unit.shape == (3, 4, 512) and is_zero.shape == (3, 4)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=-1), 1.0, rtol=1e-6)
    unit, _ = l2_normalize(np.array([[3, 4]], dtype=np.int64))
    assert unit.tolist() == [[0.6, 0.8]]


def test_torch_tensors_follow_the_same_rules():
    X = rows(n=4)
    X[1] = 0.0
    X[2] *= np.float32(1e20)
    X[3, 5] = np.nan
    unit, is_zero = l2_normalize(torch.as_tensor(X))
    expected, expected_zero = l2_normalize(X)
    assert isinstance(unit, torch.Tensor)
    np.testing.assert_allclose(unit.numpy()[:3], expected[:3], atol=1e-6)
    assert is_zero.tolist() == expected_zero.tolist() and torch.isnan(unit[3]).all()
    assert row_scaling(torch.as_tensor(X)).non_finite.tolist() == [3]


@pytest.mark.parametrize("selection", ["sage", "ensemble", "random"])
def test_score_embeddings_gives_cosines_for_rows_of_any_scale(selection):
    generator = np.random.default_rng(1)
    bank = generator.normal(size=(4, 3, 512)).astype(np.float32)
    bank /= np.linalg.norm(bank, axis=-1, keepdims=True)
    X = rows(n=8)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    options = {"selection": selection, "k": 2, "random_state": 0}
    expected, chosen = score_embeddings(unit, bank, **options)
    for scale in (1.0, 7.0, 1e20, 1e-25):
        scores, selected = score_embeddings(X * np.float32(scale), bank, **options)
        np.testing.assert_allclose(scores, expected, atol=1e-6)
        np.testing.assert_array_equal(selected, chosen)
    bad = X.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity in 1 row\(s\) \(\[5\]\); score only finite rows"):
        score_embeddings(bad, bank, **options)
