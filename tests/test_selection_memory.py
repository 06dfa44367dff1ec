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


# ------------------------------------------- every mode's output assembly (issue 22, section 3, C = 100)


class TodaysConcatenation:
    """The output assembly before preallocation: chunks kept in a list, concatenated at the end."""

    def __init__(self, n_rows, *, empty_shape, like, integer=False):
        self.parts, self.empty_shape, self.like, self.integer = [], empty_shape, like, integer

    def write(self, start, chunk):
        self.parts.append(chunk)

    def result(self):
        from skclip_sage.selection._arrays import concatenate

        return concatenate(self.parts, empty_shape=self.empty_shape, like=self.like, integer=self.integer)


def todays_softmax(logits, temperature=1.0):
    logits = np.asarray(logits, dtype=np.float64)
    exponentials = np.exp((logits - logits.max(axis=1, keepdims=True)) / temperature)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def use_todays_assembly(monkeypatch):
    """Today's out-of-place division, concatenated chunks and softmax, in place of the new ones."""
    from skclip_sage import _classifier_predict
    from skclip_sage.selection import _arrays

    monkeypatch.setattr(_arrays, "RowWriter", TodaysConcatenation)
    monkeypatch.setattr(_arrays, "divide_rows", lambda values, divisors: values / divisors[:, None])
    monkeypatch.setattr(_classifier_predict, "softmax", todays_softmax)


class RandomTextEncoder:
    identity, logit_scale = "test-memory-random", 100.0

    def __init__(self, width):
        self.embedding_dim = width

    def encode_text(self, texts):
        return np.asarray([np.random.default_rng(list(t.encode())).normal(size=self.embedding_dim) for t in texts])


def fitted(mode, n_classes, width=16, n_templates=6, **params):
    from skclip_sage import SageZeroShotClassifier

    templates = [f"t{index} {{}}" for index in range(n_templates)]
    names = [f"c{index}" for index in range(n_classes)]
    images = np.random.default_rng(1).normal(size=(50, width)).astype(np.float32)
    clf = SageZeroShotClassifier(
        RandomTextEncoder(width), templates=templates, class_names=names, selection=mode, k=2, random_state=0, **params
    )
    return clf.fit(images)


def answers(clf, X):
    return [
        clf.predict_proba(X),
        clf.decision_function(X),
        clf.predict(X),
        clf.class_similarities(X),
        np.asarray(clf.selected_templates(X)),
        *clf.predict_top_k(X, 2),
    ]


@pytest.mark.parametrize("n_classes", [2, 100])
@pytest.mark.parametrize("mode", list(_methods.SELECTION_METHODS))
def test_every_mode_answers_bitwise_as_with_todays_assembly(monkeypatch, mode, n_classes):
    from skclip_sage.selection import _aggregation, _chunks

    # Small chunks, so the output is assembled from many of them (the last one partial).
    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 40_000)
    monkeypatch.setattr(_aggregation, "CHUNK_BYTES", 40_000)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(701, 16)).astype(np.float32)
    X[5] *= 1e-3  # rows of every scale: the scores are divided by the norms
    X[9] = 0.0  # a zero row: uniform scores
    clf = fitted(mode, n_classes)
    with pytest.warns(Warning):  # the zero row is named
        ours = answers(clf, X)
    propagating = fitted(mode, n_classes, on_nan="propagate")
    X_nan = X[10:].copy()
    X_nan[[3, 400]] = np.nan
    with pytest.warns(Warning):
        ours_nan = answers(propagating, X_nan)
    use_todays_assembly(monkeypatch)
    with pytest.warns(Warning):
        today = answers(clf, X)
    with pytest.warns(Warning):
        today_nan = answers(propagating, X_nan)
    for new, old in zip(ours + ours_nan, today + today_nan):
        assert new.dtype == old.dtype
        np.testing.assert_array_equal(new, old)


def test_chunked_scoring_on_torch_is_bitwise_as_with_todays_assembly(monkeypatch):
    torch = pytest.importorskip("torch")
    from skclip_sage.selection import SELECTION_METHODS, _arrays, aggregate_in_chunks, score_in_chunks

    images, bank = problem(1001, n_templates=8, n_classes=5)
    images_t, bank_t = torch.from_numpy(images), torch.from_numpy(bank)
    norms = torch.linalg.vector_norm(images_t, dim=1)
    unit = images_t / norms[:, None]
    aggregate = SELECTION_METHODS["autoclip"].scoring(bank_t, {"autoclip_beta": 0.85}).aggregate

    def run():
        chooser = SELECTION_METHODS["sage"].choose(bank_t, 2, len(unit), None)
        scores, selected = score_in_chunks(unit, bank_t, chooser, chunk_size=97)
        return [
            _arrays.divide_rows(images_t @ bank_t[0].T, norms),
            scores,
            selected,
            aggregate_in_chunks(images_t, bank_t, aggregate, norms=norms, chunk_size=97),
            aggregate_in_chunks(unit, bank_t, aggregate, chunk_size=1001),
        ]

    ours = run()
    use_todays_assembly(monkeypatch)
    today = run()
    for new, old in zip(ours, today):
        assert new.dtype == old.dtype and new.shape == old.shape
        assert torch.equal(new, old)


@pytest.mark.parametrize("mode", ["ensemble", "sage", "autoclip"])
def test_predict_proba_at_c_100_holds_no_n_by_c_arrays_beyond_its_scores(monkeypatch, mode):
    # Before: chunk results concatenated, divided out of place, and a softmax of five
    # float64 temporaries, about 7 (n, C) float32 arrays beyond the output. Now only the
    # (n, C) float32 scores themselves grow with n beside the float64 probabilities.
    from skclip_sage.selection import _aggregation, _chunks

    monkeypatch.setattr(_chunks, "CHUNK_BYTES", 2**20)
    monkeypatch.setattr(_aggregation, "CHUNK_BYTES", 2**20)
    clf = fitted(mode, 100, width=32, n_templates=8)
    rng = np.random.default_rng(3)
    small, large = (rng.normal(size=(n, 32)).astype(np.float32) for n in (2_000, 8_000))
    clf.predict_proba(small)

    def beyond_output(X):
        tracemalloc.start()
        try:
            probabilities = clf.predict_proba(X)
            return tracemalloc.get_traced_memory()[1] - probabilities.nbytes
        finally:
            tracemalloc.stop()

    growth = beyond_output(large) - beyond_output(small)
    float32_arrays = growth / ((8_000 - 2_000) * 100 * 4)
    assert float32_arrays <= 1.5, f"{float32_arrays:.2f} (n, C) float32 arrays grow with n"
