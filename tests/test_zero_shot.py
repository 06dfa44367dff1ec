"""skclip_sage.zero_shot: one call from images and labels to HF-pipeline-shaped answers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from skclip_sage import zero_shot
from skclip_sage.encoders import encoder_load_count
from skclip_sage.exceptions import SkippedImagesWarning, UnreadableImagesError

transformers = pytest.importorskip("transformers")

HYPOTHESIS = "This is a photo of {}."  # the pipeline's default hypothesis_template
LABELS = ["cat", "dog", "bird", "tree"]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """``"transformers:<folder>"`` of the tiny random CLIP, with the Hub offline."""
    import huggingface_hub.constants
    from hf_fixtures import save_tiny

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    yield f"transformers:{save_tiny('clip', tmp_path_factory.mktemp('zero_shot_clip'))}"
    monkeypatch.undo()


def pictures(folder, count=3):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        pixels = np.random.default_rng(index).integers(0, 255, size=(30 + 5 * index, 40, 3), dtype=np.uint8)
        paths.append(str(folder / f"image_{index}.png"))
        Image.fromarray(pixels).save(paths[-1])
    return paths


def pipeline_answer(model, image):
    pipe = transformers.pipeline("zero-shot-image-classification", model=model.split(":", 1)[1], device="cpu")
    return pipe(image, candidate_labels=LABELS, hypothesis_template=HYPOTHESIS)


def assert_same_answer(ours, theirs):
    assert [item["label"] for item in ours] == [item["label"] for item in theirs]
    np.testing.assert_allclose([item["score"] for item in ours], [item["score"] for item in theirs], atol=1e-5)
    assert all(set(item) == {"label", "score"} and isinstance(item["score"], float) for item in ours)


def test_one_image_gives_the_labels_and_scores_of_the_transformers_pipeline(tiny_clip, tmp_path):
    path = pictures(tmp_path, count=1)[0]
    ours = zero_shot(path, LABELS, model=tiny_clip, templates=[HYPOTHESIS], selection="single", device="cpu")
    assert_same_answer(ours, pipeline_answer(tiny_clip, Image.open(path)))
    scores = [item["score"] for item in ours]
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0)


def test_a_list_gives_one_answer_per_image_as_the_pipeline(tiny_clip, tmp_path):
    paths = pictures(tmp_path)
    ours = zero_shot(paths, LABELS, model=tiny_clip, templates=[HYPOTHESIS], selection="single", device="cpu")
    theirs = pipeline_answer(tiny_clip, [Image.open(path) for path in paths])
    assert len(ours) == len(theirs) == len(paths)
    for mine, reference in zip(ours, theirs):
        assert_same_answer(mine, reference)


def test_each_kind_of_single_image_and_any_iterable(tiny_clip, tmp_path):
    path = pictures(tmp_path, count=1)[0]
    expected = zero_shot(path, LABELS, model=tiny_clip, device="cpu")
    pixels = np.asarray(Image.open(path))
    for image in (Image.open(path), open(path, "rb").read(), pixels, tmp_path / "image_0.png"):
        answer = zero_shot(image, LABELS, model=tiny_clip, device="cpu", jpeg_draft=False)
        assert [item["label"] for item in answer] == [item["label"] for item in expected]
        np.testing.assert_allclose([i["score"] for i in answer], [i["score"] for i in expected], atol=1e-5)
    several = zero_shot((p for p in [path, path]), LABELS, model=tiny_clip, device="cpu", top_k=2)
    assert len(several) == 2 and all(len(answer) == 2 for answer in several)
    assert [item["label"] for item in several[1]] == [item["label"] for item in expected[:2]]


def test_ties_follow_the_order_of_the_candidate_labels(hash_encoder_with_images):
    # Two labels with the same text embedding score the same for every image.
    answer = zero_shot(
        np.zeros((4, 4, 3), np.uint8), ["twin b", "twin a", "other"], model=hash_encoder_with_images, templates=["{}"]
    )
    assert [item["label"] for item in answer[:2]] == ["twin b", "twin a"]
    assert answer[0]["score"] == answer[1]["score"]


@pytest.fixture
def hash_encoder_with_images():
    class TwinEncoder:
        """Texts starting with "twin" embed alike; images embed as a fixed mix."""

        identity, embedding_dim, logit_scale = "twin-encoder", 2, 10.0

        def preprocess(self, image):
            import torch

            return torch.ones(2)

        def encode_images(self, pixels):
            import torch

            return pixels * torch.tensor([1.0, 0.5])

        def encode_text(self, texts):
            return np.array([[1.0, 0.0] if t.startswith("twin") else [0.0, 1.0] for t in texts])

    return TwinEncoder()


def test_a_second_call_with_new_labels_reuses_the_model_and_the_image_embeddings(tiny_clip, tmp_path, caplog):
    paths = pictures(tmp_path)
    zero_shot(paths, LABELS, model=tiny_clip, device="cpu")
    loads = encoder_load_count()
    with caplog.at_level("INFO", logger="skclip_sage"):
        zero_shot(paths, ["car", "plane"], model=tiny_clip, device="cpu")
    assert encoder_load_count() == loads
    messages = [record.getMessage() for record in caplog.records]
    assert any("3 from memory, 0 from cache_dir, 0 through the model" in message for message in messages), messages
    assert any("encoded a text bank" in message for message in messages), messages


def test_unreadable_images_follow_on_error_and_are_named(tiny_clip, tmp_path):
    paths = pictures(tmp_path, count=2)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(UnreadableImagesError, match="broken.jpg"):
        zero_shot([paths[0], str(broken)], LABELS, model=tiny_clip, device="cpu")
    with pytest.warns(SkippedImagesWarning, match="broken.jpg"):
        answers = zero_shot([paths[0], str(broken), paths[1]], LABELS, model=tiny_clip, device="cpu", on_error="warn")
    assert answers[1] == [] and len(answers[0]) == len(answers[2]) == len(LABELS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = zero_shot(paths[0], LABELS, model=tiny_clip, device="cpu")
    assert [item["label"] for item in answers[0]] == [item["label"] for item in alone]


def test_bad_arguments_say_what_to_pass(tiny_clip):
    with pytest.raises(ValueError, match="Wrap it in a list"):
        zero_shot("a.jpg", "cat,dog", model=tiny_clip)
    with pytest.raises(ValueError, match="more than once"):
        zero_shot("a.jpg", ["cat", "cat"], model=tiny_clip)
    with pytest.raises(TypeError, match="unexpected options \\['colour'\\]"):
        zero_shot("a.jpg", LABELS, model=tiny_clip, colour="red")
    with pytest.raises(TypeError, match="class_names"):
        zero_shot("a.jpg", LABELS, model=tiny_clip, class_names=["x", "y"])
    with pytest.raises(ValueError, match="top_k"):
        zero_shot("a.jpg", LABELS, model=tiny_clip, top_k=0)
