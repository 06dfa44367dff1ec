"""Working memory of the selection core stays flat in the number of images (issue 22, section 3).

Peaks are measured with ``tracemalloc`` (allocations NumPy reports), never with timings.
"""

import tracemalloc

import numpy as np
import pytest

from skclip_sage.selection import _baselines, _methods, random_template_indices, score_embeddings


def todays_random_indices(n_images, n_templates, k, rng):
    """The draw before chunking: one (n, T) array of keys, argsorted."""
    return np.argsort(rng.random((n_images, n_templates)), axis=1)[:, :k]


def problem(n, n_templates=20, n_classes=3, width=16, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(n, width)).astype(np.float32)
    bank = rng.normal(size=(n_templates, n_classes, width))
    return images, (bank / np.linalg.norm(bank, axis=2, keepdims=True)).astype(np.float32)


KEY_BYTES = 4 * 2**20  # the default block of random keys


@pytest.mark.parametrize("key_bytes", [8 * 20 * 7, 8 * 20 * 1000, KEY_BYTES])
@pytest.mark.parametrize("make_rng", [np.random.default_rng, np.random.RandomState], ids=["Generator", "RandomState"])
def test_random_draws_in_blocks_are_todays_draws(monkeypatch, key_bytes, make_rng):
    monkeypatch.setattr(_baselines, "RANDOM_KEY_BYTES", key_bytes, raising=False)
    for n_images, k in [(0, 1), (1, 3), (6, 1), (1001, 5), (5000, 20)]:
        drawn = random_template_indices(n_images, 20, k, make_rng(3))
        np.testing.assert_array_equal(drawn, todays_random_indices(n_images, 20, k, make_rng(3)))
        assert drawn.shape == (n_images, k)


def test_random_selection_predicts_bitwise_as_today(monkeypatch):
    images, bank = problem(3001)
    monkeypatch.setattr(_baselines, "RANDOM_KEY_BYTES", 8 * 20 * 64, raising=False)  # blocks of 64 rows
    ours = score_embeddings(images, bank, selection="random", k=3, random_state=11)
    monkeypatch.setattr(_methods, "random_template_indices", todays_random_indices)
    today = score_embeddings(images, bank, selection="random", k=3, random_state=11)
    np.testing.assert_array_equal(ours[0], today[0])
    np.testing.assert_array_equal(ours[1], today[1])


def peak_bytes(function):
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_random_draws_hold_no_n_by_t_keys():
    # 50,000 images x 80 templates: the keys alone were 32 MB (and their argsort 32 MB more).
    n_images, n_templates = 50_000, 80
    peak = peak_bytes(lambda: random_template_indices(n_images, n_templates, 1, np.random.default_rng(0)))
    output = n_images * 1 * np.dtype(np.intp).itemsize
    assert peak - output <= 3 * KEY_BYTES, f"peak {peak / 2**20:.1f} MiB"


def test_perception_holds_at_most_four_copies_of_its_chunk():
    # log P(y | x, z) and the mixture are formed in place: 6 copies of the (n, Z, C) chunk
    # before, 4 now (the logits and the log-sum-exp's two temporaries, beside the input).
    from skclip_sage.selection import perception_log_probabilities

    similarities = np.random.default_rng(0).uniform(-0.3, 0.95, size=(1000, 40, 50)).astype(np.float32)
    perception_log_probabilities(similarities, 100.0, 0.5)
    peak = peak_bytes(lambda: perception_log_probabilities(similarities, 100.0, 0.5))
    assert peak <= 4.5 * similarities.nbytes, f"{peak / similarities.nbytes:.2f} copies"
