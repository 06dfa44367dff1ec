"""skclip_sage.debias: RoboShot, TIE* and Orth-Proj/Orth-Cali against their closed forms."""

import pickle
import warnings

import numpy as np
import pytest
from fakes import WordSumEncoder, dropout_text_encoder
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skclip_sage import SageZeroShotClassifier
from skclip_sage.debias import CONCEPT_PRESETS, OrthogonalCalibration, RoboShotProjection, SpuriousTranslation
from skclip_sage.encoders import encoder_load_count
from skclip_sage.exceptions import RankDeficientConceptsWarning

WIDTH = 8


class TableEncoder:
    """Each text maps to a fixed random (not unit) vector, drawn once per encoder."""

    logit_scale = 100.0

    def __init__(self, texts, width=WIDTH, seed=0):
        rng = np.random.default_rng(seed)
        self.vectors = {text: rng.normal(size=width) * rng.uniform(0.5, 2.0) for text in texts}
        self.embedding_dim = width
        self.identity = f"table-{seed}-{width}-{'|'.join(texts)}"

    def encode_text(self, texts):
        return np.stack([self.vectors[text] for text in texts]).astype(np.float32)

    def unit(self, text):
        vector = self.vectors[text].astype(np.float32).astype(np.float64)
        return vector / np.linalg.norm(vector)


def unit_rows(array):
    return array / np.linalg.norm(array, axis=-1, keepdims=True)


def images(n=30, width=WIDTH, seed=1):
    return unit_rows(np.random.default_rng(seed).normal(size=(n, width)))


HARMFUL = [("water", "land"), ("ocean", "forest")]
HELPFUL = [("webbed feet", "talons")]


def reference_roboshot(X, encoder, harmful, helpful):
    """The reference loop: QR of the differences, then column by column, renormalising each time."""
    x = unit_rows(X)
    for pairs, sign in ((harmful, -1.0), (helpful, 1.0)):
        differences = np.stack([encoder.unit(a) - encoder.unit(b) for a, b in pairs])
        basis, _ = np.linalg.qr(differences.T)
        for column in basis.T:
            x = unit_rows(x + sign * np.outer(x @ column, column))
    return x


def test_roboshot_equals_the_reference_loop():
    encoder = TableEncoder([text for pair in HARMFUL + HELPFUL for text in pair])
    X = images()
    robo = RoboShotProjection(encoder, harmful=HARMFUL, helpful=HELPFUL).fit(X)
    transformed = robo.transform(X)
    assert transformed.dtype == np.float32 and transformed.shape == X.shape
    np.testing.assert_allclose(transformed, reference_roboshot(X, encoder, HARMFUL, HELPFUL), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(transformed, axis=1), 1.0, atol=1e-6)
    # The harmful span is gone: nothing of the output lies along a harmful direction after rejection.
    rejected = RoboShotProjection(encoder, harmful=HARMFUL).fit(X).transform(X)
    np.testing.assert_allclose(rejected @ robo.harmful_directions_.T, 0.0, atol=1e-6)
    assert robo.harmful_directions_.shape == (2, WIDTH) and robo.helpful_directions_.shape == (1, WIDTH)


def test_roboshot_drops_null_directions_of_dependent_pairs_with_a_warning():
    texts = ["water", "land", "sky"]
    encoder = TableEncoder(texts)
    all_pairs = [("water", "land"), ("water", "sky"), ("land", "sky")]  # 3 pairs of 3 texts: rank 2
    with pytest.warns(RankDeficientConceptsWarning, match="3 harmful pairs span only 2 direction"):
        robo = RoboShotProjection(encoder, harmful=all_pairs).fit(images())
    assert robo.harmful_directions_.shape == (2, WIDTH)
    # The kept span is the span of the two independent pairs: same output as giving just those.
    independent = RoboShotProjection(encoder, harmful=all_pairs[:2]).fit(images())
    np.testing.assert_allclose(robo.transform(images()), independent.transform(images()), atol=1e-6)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "needs at least one harmful or helpful pair"),
        ({"harmful": [("water", "")]}, r"harmful\[0\]\[1\] is empty"),
        ({"harmful": [("water", "water")]}, "pairs 'water' with itself"),
        ({"harmful": [("water", "land"), ("land", "water")]}, "repeats the pair"),
        ({"harmful": [("water", "land", "sky")]}, "must be a pair"),
        ({"harmful": "water"}, "must be an instance of .list."),
        ({"harmful": [("water", "land")], "concepts": "waterbirds"}, "either concepts='waterbirds' or"),
    ],
)
def test_roboshot_refuses_bad_texts_before_loading_any_model(parameters, message):
    with pytest.raises(ValueError, match=message):
        RoboShotProjection("no-such-model", **parameters).fit(images())


def test_width_mismatch_names_the_model():
    encoder = TableEncoder(["water", "land"], width=6)
    with pytest.raises(ValueError, match="X has 8 features, but RoboShotProjection is expecting 6"):
        RoboShotProjection(encoder, harmful=[("water", "land")]).fit(images())


def test_spurious_translation_is_tie_star():
    prompts = ["a photo with a land background", "a photo with a water background"]
    encoder = TableEncoder(prompts)
    X_train, X_test = images(40, seed=2), images(25, seed=3)
    tie = SpuriousTranslation(encoder, spurious_prompts=prompts).fit(X_train)
    V = np.stack([encoder.unit(text) for text in prompts])
    attribute_train = np.argmax(X_train @ V.T, axis=1)
    scales = [np.mean((X_train @ V[a])[attribute_train == a]) for a in range(2)]
    np.testing.assert_allclose(tie.scales_, scales, atol=1e-6)
    assert tie.attribute_counts_.tolist() == np.bincount(attribute_train, minlength=2).tolist()
    attribute_test = np.argmax(X_test @ V.T, axis=1)
    expected = unit_rows(X_test - np.asarray(scales)[attribute_test, None] * V[attribute_test])
    np.testing.assert_allclose(tie.transform(X_test), expected, atol=1e-6)


def test_spurious_translation_validates_its_prompts():
    with pytest.raises(ValueError, match="needs spurious_prompts"):
        SpuriousTranslation("no-such-model").fit(images())
    with pytest.raises(ValueError, match="at least 2 text"):
        SpuriousTranslation("no-such-model", spurious_prompts=["land"]).fit(images())
    with pytest.raises(ValueError, match="repeats 'land'"):
        SpuriousTranslation("no-such-model", spurious_prompts=["land", "land"]).fit(images())


@pytest.mark.parametrize("lam", [0.0, 1000.0])
def test_orthogonal_calibration_closed_form(lam):
    spurious = ["land", "water", "forest"]
    pairs = [("a landbird on land", "a landbird on water"), ("a waterbird on land", "a waterbird on water")]
    encoder = TableEncoder(spurious + [text for pair in pairs for text in pair])
    orth = OrthogonalCalibration(spurious_prompts=spurious, pairs=pairs, lam=lam).fit_texts(encoder)
    E = np.stack([encoder.unit(text) for text in spurious])
    P0 = np.eye(WIDTH) - E.T @ np.linalg.inv(E @ E.T) @ E
    differences = np.stack([encoder.unit(a) - encoder.unit(b) for a, b in pairs])
    M = differences.T @ differences / len(pairs)
    P = P0 @ np.linalg.inv(lam * M + np.eye(WIDTH))
    np.testing.assert_allclose(orth.projection_, P, atol=1e-6)  # texts come back as float32
    bank = unit_rows(np.random.default_rng(4).normal(size=(3, 2, WIDTH)))
    debiased = orth.transform(bank)
    assert debiased.shape == bank.shape and debiased.dtype == np.float32
    np.testing.assert_allclose(debiased, unit_rows(bank @ P.T), atol=1e-6)
    # Every output is orthogonal to the spurious span (P0 is applied last).
    np.testing.assert_allclose(debiased @ E.T, 0.0, atol=1e-6)


def test_orthogonal_calibration_needs_fitting_and_the_same_width():
    orth = OrthogonalCalibration(spurious_prompts=["land"])
    with pytest.raises(Exception, match="not fitted yet"):
        orth.transform(np.ones((1, WIDTH)))
    orth.fit_texts(TableEncoder(["land"]))
    with pytest.raises(ValueError, match="fitted on 8-wide text embeddings"):
        orth.transform(np.ones((1, 5)))
    with pytest.raises(ValueError, match="needs spurious_prompts"):
        OrthogonalCalibration().fit_texts(TableEncoder(["land"]))


def test_text_debias_transforms_the_whole_bank_before_selection():
    encoder = WordSumEncoder(16, identity="debias-bank")
    orth = OrthogonalCalibration(spurious_prompts=["water", "land"], pairs=[("cat on water", "cat on land")], lam=10.0)
    plain = SageZeroShotClassifier(encoder, templates="simple", class_names=["cat", "dog"], device="cpu").fit()
    debiased = clone(plain).set_params(text_debias=orth, pool_size=3).fit()
    fitted = debiased.text_debias_
    assert not hasattr(orth, "projection_")  # the parameter is cloned, never fitted in place
    expected_bank = unit_rows(plain.text_embeddings_.astype(np.float64) @ fitted.projection_.T)
    # pool_size ran on the debiased bank: its kept templates are those of the debiased bank.
    from skclip_sage.selection import text_selected_templates

    kept = text_selected_templates(expected_bank.astype(np.float32), 3)
    np.testing.assert_allclose(debiased.text_embeddings_, expected_bank[kept], atol=1e-6)
    refit = debiased.set_params(text_debias=None, pool_size=None).fit()
    assert not hasattr(refit, "text_debias_")


def test_grid_search_over_text_debias_and_k():
    encoder = WordSumEncoder(16, identity="debias-grid")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 16)), np.arange(24) % 2
    orth = OrthogonalCalibration(spurious_prompts=["water"])
    search = GridSearchCV(
        SageZeroShotClassifier(encoder, templates="simple", class_names=["cat", "dog"], device="cpu"),
        {"text_debias": [None, orth], "k": [1, 3]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert {str(params["text_debias"]) for params in search.cv_results_["params"]} == {"None", str(orth)}


def test_pipeline_loads_the_model_once_and_pickles_without_torch(tiny_model):
    from skclip_sage.encoders import clear_encoder_cache, load_encoder

    width = load_encoder(tiny_model, device="cpu").embedding_dim
    clear_encoder_cache()
    X, y = images(12, width=width, seed=5), np.arange(12) % 2
    before = encoder_load_count()
    pipe = make_pipeline(
        RoboShotProjection(tiny_model, harmful=[("water", "land")], device="cpu"),
        SpuriousTranslation(tiny_model, spurious_prompts=["land", "water"], device="cpu"),
        SageZeroShotClassifier(tiny_model, templates="simple", class_names=["landbird", "waterbird"], device="cpu"),
    ).fit(X, y)
    assert encoder_load_count() == before + 1  # three estimators, one model load
    payload = pickle.dumps(pipe)
    assert b"torch" not in payload
    np.testing.assert_array_equal(pickle.loads(payload).predict(X), pipe.predict(X))


def test_set_output_pandas_keeps_the_column_names():
    pandas = pytest.importorskip("pandas")
    encoder = TableEncoder(["water", "land"])
    frame = pandas.DataFrame(images(), columns=[f"dim{i}" for i in range(WIDTH)])
    robo = RoboShotProjection(encoder, harmful=[("water", "land")]).set_output(transform="pandas")
    out = robo.fit_transform(frame)
    assert list(out.columns) == list(frame.columns) and out.dtypes.unique().tolist() == [np.float32]


@pytest.mark.parametrize("preset", sorted(CONCEPT_PRESETS))
def test_presets_are_full_rank_and_fit_every_method(preset):
    encoder = WordSumEncoder(64, identity="presets")
    X = images(20, width=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficientConceptsWarning)
        robo = RoboShotProjection(encoder, concepts=preset).fit(X)
        OrthogonalCalibration(concepts=preset).fit_texts(encoder)
    tie = SpuriousTranslation(encoder, concepts=preset).fit(X)
    values = CONCEPT_PRESETS[preset]
    assert robo.harmful_directions_.shape[0] == len(values.harmful)
    assert tie.prompt_embeddings_.shape == (len(values.spurious_prompts), 64)
    with pytest.raises(ValueError, match="is not a preset|must be a str among"):
        RoboShotProjection(encoder, concepts="imagenet").fit(X)


def test_an_image_inside_the_rejected_span_becomes_a_zero_row_not_noise():
    encoder = TableEncoder(["water", "land"])
    robo = RoboShotProjection(encoder, harmful=[("water", "land")]).fit(images())
    inside = robo.harmful_directions_[:1] * 3.0  # any length, exactly along the rejected direction
    out = robo.transform(np.vstack([inside, images(2)]))
    np.testing.assert_array_equal(out[0], 0.0)
    np.testing.assert_allclose(np.linalg.norm(out[1:], axis=1), 1.0, atol=1e-6)


def test_classifier_with_text_debias_pickles_without_torch():
    encoder = WordSumEncoder(16, identity="debias-pickle")
    orth = OrthogonalCalibration(spurious_prompts=["water"], pairs=[("cat on water", "cat on land")])
    clf = SageZeroShotClassifier(
        encoder, templates="simple", class_names=["cat", "dog"], text_debias=orth, device="cpu"
    ).fit()
    X = images(10, width=16)
    payload = pickle.dumps(clf)
    assert b"torch" not in payload
    np.testing.assert_array_equal(pickle.loads(payload).predict_proba(X), clf.predict_proba(X))


def test_an_injected_torch_module_encodes_the_concepts_in_eval_mode():
    # The text bank puts a torch module in eval mode for every estimator that encodes through it.
    module = dropout_text_encoder(WIDTH)
    X = images()
    directions = [RoboShotProjection(module, harmful=HARMFUL).fit(X).harmful_directions_ for _ in range(2)]
    assert module.training  # the caller's object, handed back as it came
    np.testing.assert_array_equal(directions[0], directions[1])
    reference = RoboShotProjection(WordSumEncoder(WIDTH), harmful=HARMFUL).fit(X).harmful_directions_
    np.testing.assert_allclose(np.abs(directions[0]), np.abs(reference), atol=1e-6)
