"""The transformers backend (skclip_sage.encoders._transformers): tiny random CLIP, SigLIP, ALIGN and
AltCLIP models loaded through the real ``transformers:`` path, offline, cross-checked against
transformers itself."""

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hf_fixtures import FAMILIES, build_tiny_hf_models
from PIL import Image

from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier
from skclip_sage.encoders import (
    TextImageEncoder,
    TransformersEncoder,
    clear_encoder_cache,
    encoder_load_count,
    load_encoder,
    sigmoid_scores,
)
from skclip_sage.exceptions import ModelLoadError, SkippedImagesWarning

transformers = pytest.importorskip("transformers")

TEXTS = ["a photo of a cat.", "itap of a Dog", "a drawing of the small landbird on a tree."]
CLASSES = ["cat", "dog", "bird"]


@pytest.fixture(scope="session")
def tiny_hf_models(tmp_path_factory):
    """``{family: "transformers:<folder>"}``: tiny random CLIP, SigLIP, ALIGN and AltCLIP, offline."""
    return build_tiny_hf_models(tmp_path_factory)


def folder_of(model):
    return Path(model[len("transformers:") :])


def reference(model):
    """The model, tokenizer and image processor loaded by transformers directly."""
    folder = folder_of(model)
    network = transformers.AutoModel.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    processor = transformers.AutoImageProcessor.from_pretrained(folder)
    return network, tokenizer, processor


def features(output):
    tensor = output if isinstance(output, torch.Tensor) else output.pooler_output
    return torch.nn.functional.normalize(tensor, dim=-1).numpy()


def reference_text(model, family, texts):
    network, tokenizer, _ = reference(model)
    padding = "max_length" if family == "siglip" else True
    with torch.no_grad():
        return features(network.get_text_features(**tokenizer(texts, padding=padding, return_tensors="pt")))


def pictures(folder, count=5):
    """Small photo-like JPEGs of different sizes (the processors resize and crop them)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        generator = np.random.default_rng(index)
        pixels = generator.integers(0, 255, size=(30 + 7 * index, 45 - 3 * index, 3), dtype=np.uint8)
        path = folder / f"image_{index}.jpg"
        Image.fromarray(pixels).save(path, quality=95)
        paths.append(str(path))
    return paths


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_loads_offline_once_and_is_an_encoder(tiny_hf_models, family):
    model = tiny_hf_models[family]
    loads = encoder_load_count()
    encoder = load_encoder(model, device="cpu")
    assert isinstance(encoder, TransformersEncoder) and isinstance(encoder, TextImageEncoder)
    assert load_encoder(model, pretrained="ignored-for-transformers", device="cpu") is encoder
    assert encoder_load_count() <= loads + 1
    assert not encoder.model.training
    assert encoder.identity.startswith(f"{model}|") and len(encoder.identity) > len(model) + 8
    texts = encoder.encode_text(TEXTS)
    assert texts.dtype == np.float32 and texts.shape == (3, encoder.embedding_dim)
    assert len({tuple(row.round(4)) for row in texts}) == 3  # a broken tiny model embeds all texts alike


def test_the_logit_scale_of_each_family(tiny_hf_models):
    clip, siglip, align, altclip = (load_encoder(tiny_hf_models[name], device="cpu") for name in FAMILIES)
    assert clip.logit_scale == pytest.approx(float(clip.model.logit_scale.detach().exp()))
    assert altclip.logit_scale == pytest.approx(float(altclip.model.logit_scale.detach().exp()))
    assert align.logit_scale == pytest.approx(1 / 0.05, rel=1e-5)  # 1 / temperature
    assert siglip.logit_scale == pytest.approx(10.0, rel=1e-5) and siglip.logit_bias == pytest.approx(-2.5)
    assert clip.logit_bias is None and align.logit_bias is None
    clf = SageZeroShotClassifier(tiny_hf_models["align"], templates="simple", device="cpu").fit(np.eye(3, 16), CLASSES)
    assert clf.logit_scale_ == pytest.approx(20.0, rel=1e-5)


def test_another_precision_shares_the_loaded_weights(tiny_hf_models):
    fp32 = load_encoder(tiny_hf_models["siglip"], device="cpu")
    loads = encoder_load_count()
    bf16 = load_encoder(tiny_hf_models["siglip"], device="cpu", precision="bf16")
    assert encoder_load_count() == loads and bf16.model is fp32.model and bf16.precision == "bf16"
    assert bf16.logit_bias == fp32.logit_bias
    np.testing.assert_allclose(bf16.encode_text(TEXTS), fp32.encode_text(TEXTS), atol=0.15)
    assert fp32.encode_text(TEXTS).dtype == bf16.encode_text(TEXTS).dtype == np.float32


def test_the_identity_follows_the_folder_contents(tiny_hf_models, tmp_path):
    copy = shutil.copytree(folder_of(tiny_hf_models["clip"]), tmp_path / "clip")
    first = load_encoder(f"transformers:{copy}", device="cpu")
    config = json.loads((copy / "config.json").read_text())
    config["projection_dim"] = 24  # same value, rewritten: the file changed
    (copy / "config.json").write_text(json.dumps(config, indent=1))
    os.utime(copy / "config.json", ns=(1, 1))
    clear_encoder_cache()
    second = load_encoder(f"transformers:{copy}", device="cpu")
    assert first.identity != second.identity
    assert first.identity.split("|")[0] == second.identity.split("|")[0] == f"transformers:{copy.resolve()}"


def test_a_hub_id_resolves_through_the_offline_cache_with_its_revision(tiny_hf_models, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "models--someone--tiny-clip" / "snapshots" / commit
    shutil.copytree(folder_of(tiny_hf_models["clip"]), snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text(commit)
    encoder = load_encoder("transformers:someone/tiny-clip", device="cpu", cache_dir=str(tmp_path / "hub"))
    assert encoder.identity == f"transformers:someone/tiny-clip@{commit}"
    pinned = load_encoder(f"transformers:someone/tiny-clip@{commit}", device="cpu", cache_dir=str(tmp_path / "hub"))
    np.testing.assert_array_equal(pinned.encode_text(TEXTS), encoder.encode_text(TEXTS))
    local = load_encoder(tiny_hf_models["clip"], device="cpu")
    np.testing.assert_allclose(encoder.encode_text(TEXTS), local.encode_text(TEXTS), atol=1e-6)


def test_an_unknown_hub_id_offline_names_the_model_and_the_recipe(tiny_hf_models, tmp_path):
    with pytest.raises(ModelLoadError) as caught:
        load_encoder("transformers:nobody/no-such-clip", device="cpu", cache_dir=str(tmp_path))
    message = str(caught.value)
    assert "model='transformers:nobody/no-such-clip'" in message
    assert "save_pretrained(folder)" in message and "transformers:/path/to/folder" in message
    assert "HF_HUB_OFFLINE=1" in message


def test_a_missing_folder_names_it_and_the_recipe(tmp_path):
    with pytest.raises(ModelLoadError, match=r"folder '.*nowhere' does not exist\. To use it offline.*save_pretrained"):
        load_encoder(f"transformers:{tmp_path / 'nowhere'}", device="cpu")
    with pytest.raises(ModelLoadError, match="names no model"):
        load_encoder("transformers:", device="cpu")


def test_a_folder_without_weights_is_refused_not_randomly_initialised(tiny_hf_models, tmp_path):
    copy = shutil.copytree(folder_of(tiny_hf_models["clip"]), tmp_path / "clip")
    (copy / "model.safetensors").unlink()
    loads = encoder_load_count()
    with pytest.raises(ModelLoadError) as caught:
        load_encoder(f"transformers:{copy}", device="cpu")
    message = str(caught.value)
    assert repr(str(copy)) in message and "has a config but no weights" in message
    assert "model.safetensors" in message and "pytorch_model.bin" in message
    assert encoder_load_count() == loads


def test_a_safe_bin_checkpoint_loads_and_a_malicious_one_is_refused(tiny_hf_models, tmp_path):
    from test_encoders import Payload

    source = load_encoder(tiny_hf_models["clip"], device="cpu")
    copy = shutil.copytree(folder_of(tiny_hf_models["clip"]), tmp_path / "clip")
    (copy / "model.safetensors").unlink()
    torch.save(source.model.state_dict(), copy / "pytorch_model.bin")
    from_bin = load_encoder(f"transformers:{copy}", device="cpu")
    np.testing.assert_allclose(from_bin.encode_text(TEXTS), source.encode_text(TEXTS), atol=1e-6)

    marker = tmp_path / "pwned"
    torch.save({"weights": Payload(marker)}, copy / "pytorch_model.bin")
    clear_encoder_cache()
    with pytest.raises(ModelLoadError, match="(?s)cannot be loaded safely.*never falls back to unsafe pickle loading"):
        load_encoder(f"transformers:{copy}", device="cpu")
    assert not marker.exists()


def test_an_unsupported_model_type_and_remote_code_are_refused(tiny_hf_models, tmp_path):
    copy = shutil.copytree(folder_of(tiny_hf_models["clip"]), tmp_path / "clip")
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "model_type": "blip"}))
    with pytest.raises(ModelLoadError, match=r"is a 'blip' model; the transformers backend loads 'clip', 'altclip'"):
        load_encoder(f"transformers:{copy}", device="cpu")
    # A config asking for its own code: transformers is never told to trust it.
    marker = tmp_path / "ran"
    (copy / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (copy / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "modeling_evil.EvilModel"}}))
    try:
        load_encoder(f"transformers:{copy}", device="cpu")
    except ModelLoadError:
        pass
    assert not marker.exists()


def test_without_transformers_the_error_names_the_extra(tiny_hf_models, monkeypatch, tmp_path):
    copy = shutil.copytree(folder_of(tiny_hf_models["clip"]), tmp_path / "clip")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r'requires \'transformers\'.*pip install "skclip-sage\[transformers\]"'):
        load_encoder(f"transformers:{copy}", device="cpu")


def test_transformers_is_imported_only_inside_encoders():
    root = Path(__file__).parents[1] / "skclip_sage"
    importers = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "import transformers" in path.read_text() or "from transformers" in path.read_text()
    )
    assert all(name.startswith("encoders/") for name in importers), importers
    # open_clip itself imports transformers when it is installed, so this runs without open_clip.
    code = (
        "import sys, skclip_sage, skclip_sage.cli, skclip_sage.encoders, skclip_sage.metrics;"
        "from skclip_sage.encoders import TransformersEncoder, sigmoid_scores, load_encoder, PAPER_BACKBONES;"
        "assert 'transformers' not in sys.modules, 'transformers imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ---------------------------------------------------------------- embeddings equal transformers' own


@pytest.mark.parametrize("family", FAMILIES)
def test_text_embeddings_equal_the_normalised_get_text_features(tiny_hf_models, family):
    model = tiny_hf_models[family]
    clf = SageZeroShotClassifier(model, templates=["a photo of a {}.", "itap of the {}"], device="cpu")
    clf.fit(np.eye(3, load_encoder(model, device="cpu").embedding_dim), CLASSES)
    for index, template in enumerate(clf.templates_):
        expected = reference_text(model, family, [template.format(name) for name in clf.class_names_])
        np.testing.assert_allclose(clf.text_embeddings_[index], expected, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_image_embeddings_equal_the_normalised_get_image_features(tiny_hf_models, family, tmp_path):
    model = tiny_hf_models[family]
    paths = pictures(tmp_path)
    network, _, processor = reference(model)
    with torch.no_grad():
        pixels = processor(images=[Image.open(path).convert("RGB") for path in paths], return_tensors="pt")
        expected = features(network.get_image_features(pixel_values=pixels["pixel_values"]))
    embedded = ClipImageEmbedder(model, device="cpu", batch_size=2).fit_transform(paths)
    np.testing.assert_allclose(embedded, expected, atol=1e-4)


def test_siglip_pads_to_max_length_as_trained_and_the_others_are_padding_invariant(tiny_hf_models):
    siglip = load_encoder(tiny_hf_models["siglip"], device="cpu")
    network, tokenizer, _ = reference(tiny_hf_models["siglip"])
    with torch.no_grad():
        longest = features(network.get_text_features(**tokenizer(TEXTS, padding=True, return_tensors="pt")))
    ours = siglip.encode_text(TEXTS)
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    assert np.abs(ours - longest).max() > 1e-3  # padding really changes SigLIP's embeddings
    np.testing.assert_allclose(ours, reference_text(tiny_hf_models["siglip"], "siglip", TEXTS), atol=1e-5)
    for family in ("clip", "align", "altclip"):
        encoder = load_encoder(tiny_hf_models[family], device="cpu")
        one_by_one = np.vstack([encoder.encode_text([text]) for text in TEXTS])
        np.testing.assert_allclose(encoder.encode_text(TEXTS), one_by_one, atol=1e-5)


def test_altclip_keeps_case_and_clip_lowercases(tiny_hf_models):
    altclip = load_encoder(tiny_hf_models["altclip"], device="cpu").encode_text(
        ["a photo of a Cat.", "a photo of a cat."]
    )
    clip = load_encoder(tiny_hf_models["clip"], device="cpu").encode_text(["a photo of a Cat.", "a photo of a cat."])
    assert np.abs(altclip[0] - altclip[1]).max() > 1e-3
    np.testing.assert_array_equal(clip[0], clip[1])


def test_long_prompts_are_checked_against_the_context(tiny_hf_models):
    encoder = load_encoder(tiny_hf_models["clip"], device="cpu")
    assert encoder.context_length == 40 and encoder.count_tokens(["a cat"]) == [4]
    long_template = "a photo of a {} " + "and a tree " * 10
    with pytest.raises(ValueError, match="40-token context"):
        SageZeroShotClassifier(tiny_hf_models["clip"], templates=[long_template], device="cpu").fit(
            np.eye(3, 24), CLASSES
        )


# ---------------------------------------------------------------- cross-check: transformers' pipeline


def fitted_against_the_pipeline(model, folder):
    """A single-template classifier fitted on embedded images, and the pipeline's answer per image."""
    paths = pictures(folder, count=4)
    pipe = transformers.pipeline("zero-shot-image-classification", model=str(folder_of(model)), device="cpu")
    template = "a photo of a {}."
    X = ClipImageEmbedder(model, device="cpu").fit_transform(paths)
    clf = SageZeroShotClassifier(model, templates=[template], selection="single", device="cpu").fit(
        X, CLASSES + ["cat"]
    )
    answers = []
    for path in paths:
        answer = pipe(Image.open(path), candidate_labels=sorted(CLASSES), hypothesis_template=template)
        scores = {item["label"]: item["score"] for item in answer}
        answers.append([scores[label] for label in clf.classes_])
    return clf, X, np.array(answers)


def test_single_template_predict_proba_equals_the_zero_shot_pipeline(tiny_hf_models, tmp_path):
    clf, X, expected = fitted_against_the_pipeline(tiny_hf_models["clip"], tmp_path)
    np.testing.assert_allclose(clf.predict_proba(X), expected, atol=1e-5)


def test_siglip_sigmoid_scores_equal_the_pipeline_and_share_the_softmax_argmax(tiny_hf_models, tmp_path):
    # transformers' pipeline answers SigLIP with per-pair sigmoids, not a softmax.
    clf, X, expected = fitted_against_the_pipeline(tiny_hf_models["siglip"], tmp_path)
    bias = load_encoder(tiny_hf_models["siglip"], device="cpu").logit_bias
    scores = sigmoid_scores(clf.class_similarities(X), clf.logit_scale_, bias)
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(scores.argmax(axis=1), clf.predict_proba(X).argmax(axis=1))


# ---------------------------------------------------------------- estimators: pipeline, pickles, DataLoader path


def test_embedder_and_classifier_share_one_load_and_the_fit_pickles_without_torch(tiny_hf_models, tmp_path):
    from test_classifier import pickled_modules

    model = tiny_hf_models["altclip"]
    paths = pictures(tmp_path, count=4)
    load_encoder(model, device="cpu")  # loaded once for the session
    loads = encoder_load_count()
    X = ClipImageEmbedder(model, device="cpu").fit_transform(paths)
    clf = SageZeroShotClassifier(model, templates="simple", k=2, device="cpu").fit(X, CLASSES + ["cat"])
    assert encoder_load_count() == loads
    data = pickle.dumps(clf)
    assert b"torch" not in data and len(data) < 50_000
    assert {module.split(".")[0] for module in pickled_modules(data)} <= {"skclip_sage", "numpy", "builtins", "_codecs"}
    np.testing.assert_array_equal(pickle.loads(data).predict_proba(X), clf.predict_proba(X))


def test_the_preprocess_transform_is_light_and_picklable(tiny_hf_models, tmp_path):
    encoder = load_encoder(tiny_hf_models["align"], device="cpu")
    data = pickle.dumps(encoder.preprocess)
    assert len(data) < 10_000 and b"torch.nn" not in data
    image = Image.open(pictures(tmp_path, count=1)[0])
    torch.testing.assert_close(pickle.loads(data)(image), encoder.preprocess(image))


@pytest.mark.slow
def test_the_dataloader_path_with_workers_errors_and_cache(tiny_hf_models, tmp_path):
    model = tiny_hf_models["siglip"]
    paths = pictures(tmp_path / "images", count=6)
    broken = tmp_path / "images" / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    inputs = paths[:3] + [str(broken)] + paths[3:]
    single = ClipImageEmbedder(model, device="cpu", batch_size=2).fit().transform(paths)
    embedder = ClipImageEmbedder(
        model, device="cpu", batch_size=2, num_workers=2, on_error="warn", cache_dir=str(tmp_path / "cache")
    ).fit()
    with pytest.warns(SkippedImagesWarning, match="could not read 1 of 7 images"):
        first = embedder.transform(inputs)
    assert np.isnan(first[3]).all()
    np.testing.assert_allclose(np.delete(first, 3, axis=0), single, atol=1e-6)
    # The second run reads every readable image from the cache: the model is not called.
    network = load_encoder(model, device="cpu").model
    calls = []
    hook = network.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        with pytest.warns(SkippedImagesWarning):
            second = embedder.transform(inputs)
    finally:
        hook.remove()
    assert calls == []
    np.testing.assert_array_equal(second, first)


def test_the_cli_takes_a_transformers_model(tiny_hf_models, tmp_path, capsys):
    from skclip_sage.cli import main

    paths = pictures(tmp_path, count=2)
    code = main(["classify", *paths, "--classes", "cat", "dog", "--model", tiny_hf_models["clip"], "--device", "cpu"])
    output = capsys.readouterr().out
    assert code == 0 and all(Path(path).name in output for path in paths)


# ---------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", FAMILIES)
def test_cuda_embeddings_are_allclose_to_the_cpu_ones(tiny_hf_models, family, tmp_path):
    model = tiny_hf_models[family]
    paths = pictures(tmp_path, count=3)
    cpu = load_encoder(model, device="cpu")
    gpu = load_encoder(model, device="cuda", precision="fp32")
    assert next(gpu.model.parameters()).device.type == "cuda"
    np.testing.assert_allclose(gpu.encode_text(TEXTS), cpu.encode_text(TEXTS), atol=1e-4)
    on_gpu = ClipImageEmbedder(model, device="cuda", precision="fp32").fit_transform(paths)
    np.testing.assert_allclose(on_gpu, ClipImageEmbedder(model, device="cpu").fit_transform(paths), atol=1e-4)
    bf16 = ClipImageEmbedder(model, device="cuda", precision="bf16").fit_transform(paths)
    assert np.isfinite(bf16).all()


def test_dask_embeds_with_a_transformers_model_string(tiny_hf_models, tmp_path):
    pytest.importorskip("dask")
    import dask

    from skclip_sage.distributed import embed_images

    model = tiny_hf_models["clip"]
    paths = pictures(tmp_path, count=5)
    embedder = ClipImageEmbedder(model, device="cpu", batch_size=2)
    with dask.config.set(scheduler="synchronous"):
        embeddings = embed_images(paths, embedder, partition_size=2).compute()
    np.testing.assert_allclose(embeddings, ClipImageEmbedder(model, device="cpu").fit_transform(paths), atol=1e-6)
