"""Model loading, checkpoint safety, devices, OOM back-off and eval mode (skclip_sage.encoders)."""

import json
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from conftest import TINY_MODEL_CONFIG

from skclip_sage.encoders import (
    OpenClipEncoder,
    OutOfMemoryBackoff,
    TextImageEncoder,
    absolute_model,
    clear_encoder_cache,
    encoder_load_count,
    load_encoder,
    model_location,
    resolve_device,
    verify_checkpoint,
)
from skclip_sage.encoders._safety import folder_fingerprint
from skclip_sage.exceptions import ModelLoadError

TINY_NAME = "skclip-tiny-test"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks behaviour on a machine without CUDA")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def tiny_name(tmp_path_factory):
    """The tiny config registered as a built-in open_clip model name."""
    folder = tmp_path_factory.mktemp("open_clip_configs")
    (folder / f"{TINY_NAME}.json").write_text(json.dumps(TINY_MODEL_CONFIG))
    open_clip.add_model_config(folder)
    return TINY_NAME


def local_dir_folder(tiny_model):
    return tiny_model[len("local-dir:") :]


@pytest.fixture
def tiny_copy(tiny_model, tmp_path):
    """A private copy of the tiny local-dir folder, free to damage."""
    return shutil.copytree(local_dir_folder(tiny_model), tmp_path / "model")


class Payload:
    """Unpickling this runs code: it creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


# ---------------------------------------------------------------- loading and the per-process registry


def test_local_dir_model_loads_once_per_process(tiny_model):
    clear_encoder_cache()
    loads = encoder_load_count()
    encoder = load_encoder(tiny_model, device="cpu")
    assert encoder_load_count() == loads + 1
    assert load_encoder(tiny_model, device="cpu") is encoder
    assert load_encoder(tiny_model, pretrained="ignored-for-local-dir", device="auto") is encoder
    assert encoder_load_count() == loads + 1
    assert isinstance(encoder, OpenClipEncoder) and isinstance(encoder, TextImageEncoder)
    assert encoder.embedding_dim == 32 and encoder.context_length == 77
    assert encoder.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)
    # The folder and a fingerprint of every file in it (weights and configuration alike).
    assert encoder.identity == f"{tiny_model}|{folder_fingerprint(local_dir_folder(tiny_model))}"
    texts = encoder.encode_text(["a photo of a cat.", "a photo of a dog."])
    assert texts.dtype == np.float32 and texts.shape == (2, 32) and np.isfinite(texts).all()


def test_another_precision_shares_the_loaded_weights(tiny_model):
    encoder = load_encoder(tiny_model, device="cpu")
    loads = encoder_load_count()
    bf16 = load_encoder(tiny_model, device="cpu", precision="bf16")
    assert encoder_load_count() == loads
    assert bf16 is not encoder and bf16.model is encoder.model and bf16.precision == "bf16"
    assert load_encoder(tiny_model, device="cpu", precision="auto") is encoder
    np.testing.assert_allclose(bf16.encode_text(["a cat"]), encoder.encode_text(["a cat"]), atol=0.1)
    with pytest.raises(ValueError, match="precision must be one of 'auto', 'fp32', 'bf16', 'fp16'; got 'fp8'"):
        encoder.with_precision("fp8")


def test_builtin_name_with_a_checkpoint_file(tiny_name, tiny_model):
    weights = f"{local_dir_folder(tiny_model)}/open_clip_model.safetensors"
    from pathlib import Path

    by_str = load_encoder(tiny_name, weights, device="cpu")
    by_path = load_encoder(tiny_name, Path(weights), device="cpu")
    reference = load_encoder(tiny_model, device="cpu")
    texts = ["itap of a cat.", "a bad photo of the dog."]
    np.testing.assert_array_equal(by_str.encode_text(texts), reference.encode_text(texts))
    np.testing.assert_array_equal(by_path.encode_text(texts), reference.encode_text(texts))
    assert by_str.identity.startswith(f"{tiny_name}|") and weights in by_str.identity


def test_an_injected_encoder_object_is_returned_as_it_is():
    class Encoder:
        identity, embedding_dim, logit_scale = "toy", 2, 100.0

        def encode_text(self, texts):
            return np.ones((len(texts), 2), np.float32)

    encoder = Encoder()
    assert load_encoder(encoder, device="cuda:7") is encoder  # no device or weights involved
    with pytest.raises(ModelLoadError, match=r"Encoder lacks \['preprocess', 'encode_images'\]"):
        load_encoder(encoder, needs_images=True)
    with pytest.raises(ModelLoadError, match=r"object lacks \['encode_text', 'embedding_dim', 'logit_scale'\]"):
        load_encoder(object())


# ---------------------------------------------------------------- names, tags and folders


def test_unknown_model_name_suggests_close_matches():
    with pytest.raises(ModelLoadError, match=r"Unknown open_clip model 'ViT-B-33'\. Did you mean \[.*'ViT-B-32'"):
        load_encoder("ViT-B-33", device="cpu")


def test_model_error_is_a_value_error():
    with pytest.raises(ValueError, match="open_clip.list_models()"):
        load_encoder("no-such-architecture-at-all", device="cpu")


def test_unknown_tag_lists_the_tags_of_the_model():
    with pytest.raises(ModelLoadError) as caught:
        load_encoder("RN50", "opena", device="cpu")
    message = str(caught.value)
    assert "pretrained='opena' is neither a weights tag of 'RN50' nor an existing checkpoint file" in message
    assert "Did you mean ['openai']" in message
    for tag in open_clip.list_pretrained_tags_by_model("RN50"):
        assert repr(tag) in message


def test_missing_local_dir_folder(tmp_path):
    with pytest.raises(ModelLoadError, match=r"folder '.*nowhere' does not exist"):
        load_encoder(f"local-dir:{tmp_path / 'nowhere'}", device="cpu")


def test_local_dir_without_config(tiny_copy):
    (tiny_copy / "open_clip_config.json").unlink()
    with pytest.raises(ModelLoadError, match=r"open_clip_config\.json' is missing.*model_cfg"):
        load_encoder(f"local-dir:{tiny_copy}", device="cpu")


def test_missing_checkpoint_file(tiny_name, tmp_path):
    with pytest.raises(ModelLoadError, match="neither a weights tag .* nor an existing checkpoint file"):
        load_encoder(tiny_name, str(tmp_path / "weights.pt"), device="cpu")
    with pytest.raises(ModelLoadError, match="does not exist or is not a file"):
        verify_checkpoint(tmp_path / "weights.pt")


@pytest.mark.timeout(120)
def test_pretrained_tag_offline_fails_fast_with_a_helpful_message(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        load_encoder("RN50", "openai", device="cpu", cache_dir=str(tmp_path))
    assert time.monotonic() - started < 60
    message = str(caught.value)
    assert "Could not download the weights 'RN50'/'openai'" in message
    assert "cache_dir=" in message and "local-dir:" in message and "HF_HUB_OFFLINE=1" in message
    assert ".. " not in message


@pytest.mark.timeout(120)
def test_hf_hub_model_offline_fails_with_the_same_hint(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match=r"'hf-hub:someone/some-clip'.*cache_dir=.*local-dir:"):
        load_encoder("hf-hub:someone/some-clip", device="cpu", cache_dir=str(tmp_path))


# ---------------------------------------------------------------- reliability 27: unsafe and damaged files


def test_the_payload_really_runs_code_when_unpickled_unsafely(tmp_path):
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_checkpoint_file_is_refused_without_running_it(tiny_name, tmp_path, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pt"
    if writer == "torch.save":
        torch.save({"state_dict": Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    loads = encoder_load_count()
    for model in (tiny_name, "RN50"):
        with pytest.raises(ModelLoadError) as caught:
            load_encoder(model, str(path), device="cpu")
        message = str(caught.value)
        assert repr(str(path)) in message and "cannot be loaded safely" in message
        assert "never falls back to unsafe pickle loading" in message
    assert not marker.exists()
    assert encoder_load_count() == loads


def test_malicious_checkpoint_in_a_local_dir_is_refused(tiny_copy, tmp_path):
    marker = tmp_path / "pwned"
    evil = tiny_copy / "open_clip_pytorch_model.bin"
    torch.save(Payload(marker), evil)
    with pytest.raises(ModelLoadError, match=f"Checkpoint {str(evil)!r} cannot be loaded safely"):
        load_encoder(f"local-dir:{tiny_copy}", device="cpu")
    assert not marker.exists()


@pytest.mark.parametrize(
    "keep", [lambda size: 100, lambda size: size // 2, lambda size: size - 10], ids=["header", "half", "tail"]
)
def test_truncated_safetensors_in_a_local_dir_names_the_file(tiny_copy, keep):
    weights = tiny_copy / "open_clip_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: keep(len(data))])
    with pytest.raises(ModelLoadError, match=f"Checkpoint {str(weights)!r} is not a valid safetensors file"):
        load_encoder(f"local-dir:{tiny_copy}", device="cpu")


def test_a_safe_torch_checkpoint_is_accepted(tiny_name, tmp_path, tiny_model):
    path = tmp_path / "weights.pt"
    torch.save(load_encoder(tiny_model, device="cpu").model.state_dict(), path)
    verify_checkpoint(path)
    encoder = load_encoder(tiny_name, str(path), device="cpu")
    np.testing.assert_array_equal(encoder.encode_text(["a"]), load_encoder(tiny_model, device="cpu").encode_text(["a"]))


# ---------------------------------------------------------------- devices (reliability 29)


def test_resolve_device_auto_and_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@no_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_resolve_device_cuda_without_cuda(device):
    with pytest.raises(ValueError, match="CUDA is not available on this machine; use device='auto'.*or device='cpu'"):
        resolve_device(device)


@no_cuda
def test_loading_on_cuda_without_cuda(tiny_model):
    with pytest.raises(ValueError, match="CUDA is not available"):
        load_encoder(tiny_model, device="cuda")


@pytest.mark.parametrize("device", ["gpu", "tpu", "", "cuda:x", 0, None])
def test_resolve_device_rejects_other_values(device):
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_device(device)


@pytest.mark.gpu
@needs_cuda
def test_resolve_device_on_a_gpu_host():
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="does not exist"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.gpu
@needs_cuda
def test_cuda_text_embeddings_are_allclose_to_the_cpu_ones(tiny_model):
    texts = ["a photo of a cat.", "a sketch of a dog."]
    cpu = load_encoder(tiny_model, device="cpu").encode_text(texts)
    gpu = load_encoder(tiny_model, device="cuda", precision="fp32")
    np.testing.assert_allclose(gpu.encode_text(texts), cpu, atol=1e-4)
    np.testing.assert_allclose(gpu.encode_text(texts), gpu.encode_text(texts), atol=1e-6)


# ---------------------------------------------------------------- OOM back-off (reliability 28)


class OutOfMemoryAbove:
    """Row-wise function that fails like a GPU when given more than ``limit`` rows."""

    def __init__(self, limit):
        self.limit = limit
        self.calls = []

    def __call__(self, rows):
        self.calls.append(len(rows))
        if len(rows) > self.limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory with {len(rows)} rows")
        return rows * 2.0 + rows.sum(dim=1, keepdim=True)


def test_oom_backoff_halves_until_it_fits_and_keeps_every_row_once():
    batch = torch.arange(100 * 3, dtype=torch.float32).reshape(100, 3)
    function = OutOfMemoryAbove(16)
    backoff = OutOfMemoryBackoff(64, "cuda:0")
    output = backoff(function, batch)
    reference = torch.cat([function(row[None]) for row in batch])
    assert torch.equal(output, reference)
    assert function.calls[:3] == [64, 32, 16]
    successful = [size for size in function.calls[:-100] if size <= 16]
    assert sum(successful) == 100  # no row lost, none repeated
    assert backoff.batch_size == 16
    # The size that fits is remembered: the next batch does not fail again.
    function.calls.clear()
    backoff(function, batch[:40])
    assert function.calls == [16, 16, 8]


def test_oom_even_at_batch_size_one_names_device_and_batch_size():
    backoff = OutOfMemoryBackoff(8, "cuda:3")
    with pytest.raises(torch.cuda.OutOfMemoryError, match="Out of memory on cuda:3 even with batch size 1") as caught:
        backoff(OutOfMemoryAbove(0), torch.ones(5, 2))
    assert isinstance(caught.value.__cause__, torch.cuda.OutOfMemoryError)


def test_other_errors_are_not_retried():
    calls = []

    def broken(rows):
        calls.append(len(rows))
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        OutOfMemoryBackoff(8, "cpu")(broken, torch.ones(20, 2))
    assert calls == [8]


def test_oom_backoff_of_an_empty_batch():
    output = OutOfMemoryBackoff(8, "cpu")(lambda rows: rows * 2, torch.ones(0, 3))
    assert output.shape == (0, 3)


# ---------------------------------------------------------------- eval mode and determinism (reliability 30)


def test_eval_mode_is_enforced_on_an_injected_model_in_train_mode():
    config = {**TINY_MODEL_CONFIG, "vision_cfg": {**TINY_MODEL_CONFIG["vision_cfg"], "patch_dropout": 0.5}}
    torch.manual_seed(0)
    model = open_clip.CLIP(**config)
    pixels = torch.randn(4, 3, 32, 32)
    model.train()
    with torch.no_grad():
        # Sanity: in train mode patch dropout makes two passes differ.
        assert not torch.equal(model.encode_image(pixels), model.encode_image(pixels))
        model.eval()
        expected = model.encode_image(pixels)
    model.train()
    encoder = OpenClipEncoder(
        model,
        open_clip.get_tokenizer("ViT-B-32"),
        open_clip.image_transform(32, is_train=False),
        identity="injected",
        device=torch.device("cpu"),
    )
    model.train()
    first = encoder.encode_images(pixels)
    model.train()
    second = encoder.encode_images(pixels)
    assert torch.equal(first, second) and torch.equal(first, expected.float())
    model.train()
    texts = ["a photo of a cat.", "a drawing of a dog."]
    np.testing.assert_array_equal(encoder.encode_text(texts), encoder.encode_text(texts))
    assert not model.training


def test_text_embeddings_do_not_depend_on_the_batch(tiny_model):
    encoder = load_encoder(tiny_model, device="cpu")
    texts = [f"a photo of a {word}." for word in ("cat", "dog", "bird", "fish", "tree")]
    together = encoder.encode_text(texts)
    one_by_one = np.vstack([encoder.encode_text([text]) for text in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-6)
    np.testing.assert_array_equal(encoder.encode_text(texts), together)


def test_count_tokens_includes_start_and_end(tiny_model):
    encoder = load_encoder(tiny_model, device="cpu")
    assert encoder.count_tokens(["a cat", "cat"]) == [4, 3]


# ---------------------------------------------------------------- reliability 32: a folder without weights


@pytest.mark.parametrize("leftover", [None, "weights.pt"], ids=["no-file", "unread-suffix"])
def test_a_local_dir_with_a_config_but_no_weights_is_refused(tiny_copy, leftover):
    (tiny_copy / "open_clip_model.safetensors").unlink()
    if leftover:  # open_clip's local-dir loader never reads a .pt file: it would build random weights
        (tiny_copy / leftover).write_bytes(b"")
    loads = encoder_load_count()
    with pytest.raises(ModelLoadError) as caught:
        load_encoder(f"local-dir:{tiny_copy}", device="cpu")
    message = str(caught.value)
    assert repr(str(tiny_copy)) in message and "has a config but no weights" in message
    assert "open_clip_model.safetensors" in message and "open_clip_pytorch_model.bin" in message
    assert encoder_load_count() == loads


def test_random_weights_only_when_asked_for_by_name(tiny_name):
    first = load_encoder(tiny_name, None, device="cpu")
    clear_encoder_cache()
    second = load_encoder(tiny_name, None, device="cpu")
    assert "random-init" in first.identity and first.identity != second.identity  # never share caches


# ---------------------------------------------------------------- the backend table and the protocol


def test_every_scheme_has_one_backend_with_a_loader():
    import importlib

    from skclip_sage.encoders import BACKENDS
    from skclip_sage.encoders._registry import backend_for

    assert [backend.scheme for backend in BACKENDS][-1] == ""  # plain names come last
    assert backend_for("transformers:org/repo").library == "transformers"
    assert backend_for("local-dir:/x").module == backend_for("hf-hub:a/b").module == backend_for("RN50").module
    assert [backend.ignores_pretrained for backend in BACKENDS] == [True, True, True, False]
    for backend in BACKENDS:
        module = importlib.import_module(backend.module, "skclip_sage.encoders")
        assert callable(module.load), backend


def test_an_incomplete_encoder_object_is_named_with_its_owner():
    from skclip_sage import ClipImageEmbedder

    class NoWidth:
        def preprocess(self, image):
            return torch.zeros(3)

        def encode_images(self, pixels):
            return pixels

    with pytest.raises(ModelLoadError, match=r"^ClipImageEmbedder's model must be a model string .*'transformers:"):
        ClipImageEmbedder(NoWidth()).fit()
    with pytest.raises(ModelLoadError, match=r"NoWidth lacks \['embedding_dim'\]"):
        ClipImageEmbedder(NoWidth()).fit()
    with pytest.raises(ModelLoadError, match=r"^model must be .* NoWidth lacks \['encode_text', 'embedding_dim'"):
        load_encoder(NoWidth())


# ---------------------------------------------------------------- one device policy


def test_compute_device_follows_resolve_device_and_falls_back_only_for_missing_cuda():
    from skclip_sage.encoders import compute_device
    from skclip_sage.exceptions import DeviceFallbackWarning

    assert compute_device("cpu") is None
    assert compute_device("auto") == (None if not torch.cuda.is_available() else "cuda")
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'gpu'"):
        compute_device("gpu")
    if not torch.cuda.is_available():
        with pytest.warns(DeviceFallbackWarning, match="device='cuda:1' but CUDA is not available here"):
            assert compute_device("cuda:1") is None


def test_the_scoring_layer_takes_only_a_resolved_device():
    from skclip_sage.selection import score_embeddings

    bank = np.eye(3, dtype=np.float32)[None]
    with pytest.raises(ValueError, match="takes a resolved device.*got 'auto'.*compute_device"):
        score_embeddings(np.eye(3), bank, selection="ensemble", k=1, fixed_templates=np.arange(1), device="auto")
    scores, _ = score_embeddings(np.eye(3), bank, selection="ensemble", k=1, fixed_templates=np.arange(1), device=None)
    np.testing.assert_allclose(scores, np.eye(3))


# ---------------------------------------------------------------- what can be loaded


def test_available_models_lists_every_form_the_paper_backbones_and_open_clip_tags():
    from skclip_sage.encoders import PAPER_BACKBONES, available_models

    catalogue = available_models()
    forms = " ".join(form for _, form, _ in catalogue.forms)
    for scheme in ("transformers:", "local-dir:", "hf-hub:", "pretrained="):
        assert scheme in forms
    assert [backbone.paper_name for backbone in PAPER_BACKBONES] == ["RN50", "ViT-B-32", "ViT-L-14", "ALIGN", "AltCLIP"]
    assert {backbone.model: backbone.pretrained for backbone in catalogue.paper_backbones}[
        "ViT-L-14"
    ] == "laion400m_e31"
    assert catalogue.open_clip["RN50"] == open_clip.list_pretrained_tags_by_model("RN50")
    assert set(catalogue.open_clip) == set(open_clip.list_models())


def test_the_models_command(capsys):
    from skclip_sage.cli import main

    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "--model transformers:kakaobrain/align-base" in text and "--model transformers:BAAI/AltCLIP" in text
    assert "--model RN50 --pretrained openai" in text and "transformers:google/siglip-base-patch16-224" in text
    assert "  RN50: openai" in text
    assert main(["models", "vit-b-32", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["open_clip"] and all("vit-b-32" in name.lower() for name in document["open_clip"])
    assert [row["paper_name"] for row in document["paper_backbones"]][-2:] == ["ALIGN", "AltCLIP"]


# ---------------------------------------------------------------- issue 17: weights, identities, the caller's RNG


def test_a_weights_file_named_just_dot_bin_is_checked_too(tiny_copy, tmp_path):
    # pathlib gives ".bin" no suffix, yet open_clip's *.bin glob picks it (and, sorted first, loads it).
    marker = tmp_path / "pwned"
    (tiny_copy / "open_clip_model.safetensors").rename(tiny_copy / "weights.safetensors")
    evil = tiny_copy / ".bin"
    evil.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    with pytest.raises(ModelLoadError, match=f"Checkpoint {str(evil)!r} cannot be loaded safely"):
        load_encoder(f"local-dir:{tiny_copy}", device="cpu")
    assert not marker.exists()


def test_editing_a_local_dir_config_changes_the_identity_and_reloads(tiny_copy):
    model = f"local-dir:{tiny_copy}"
    before = load_encoder(model, device="cpu")
    config_path = tiny_copy / "open_clip_config.json"
    config = json.loads(config_path.read_text())
    config["preprocess_cfg"] = {"mean": [0.1, 0.2, 0.3], "std": [0.5, 0.5, 0.5]}
    config_path.write_text(json.dumps(config))
    after = load_encoder(model, device="cpu")
    assert after is not before and after.identity != before.identity  # caches key on the identity
    assert tuple(after.preprocess.transforms[-1].mean) == (0.1, 0.2, 0.3)


def test_replacing_a_folders_weights_in_the_same_process_loads_the_new_ones(tiny_copy):
    from conftest import make_tiny_local_dir

    model = f"local-dir:{tiny_copy}"
    first = load_encoder(model, device="cpu").encode_text(["a photo of a cat."])
    make_tiny_local_dir(tiny_copy, seed=1)  # other weights, same folder
    second = load_encoder(model, device="cpu").encode_text(["a photo of a cat."])
    fresh = make_tiny_local_dir(tiny_copy.parent / "fresh", seed=1)
    np.testing.assert_allclose(second, load_encoder(fresh, device="cpu").encode_text(["a photo of a cat."]), atol=1e-6)
    assert not np.allclose(first, second)


def test_loading_a_model_leaves_the_global_torch_rng_alone(tiny_copy):
    clear_encoder_cache()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    load_encoder(f"local-dir:{tiny_copy}", device="cpu")
    assert torch.equal(torch.get_rng_state(), state)


def test_loading_random_weights_by_name_leaves_the_global_torch_rng_alone(tiny_name):
    torch.manual_seed(5)
    state = torch.get_rng_state()
    load_encoder(tiny_name, None, device="cpu")
    assert torch.equal(torch.get_rng_state(), state)


# ---------------------------------------------------------------- issue 17: text banks without the padding


@pytest.mark.parametrize("tower", ["CLIP", "CustomTextCLIP"])
def test_trimmed_text_features_equal_open_clips_padded_ones(tower):
    from skclip_sage.encoders._open_clip import trimmable_text_tower, trimmed_text_features

    torch.manual_seed(0)
    model = getattr(open_clip, tower)(**TINY_MODEL_CONFIG).eval()
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    texts = ["a.", "a photo of a small red bird on a branch.", "itap of a dog.", "x " * 30]
    tokens = tokenizer(texts)
    assert tokens.shape[1] == 77
    tower_module = trimmable_text_tower(model)
    assert tower_module is not None
    with torch.no_grad():
        padded = model.encode_text(tokens)
        trimmed = trimmed_text_features(tower_module, tokens)
    np.testing.assert_allclose(trimmed.numpy(), padded.numpy(), rtol=0, atol=2e-6)


def test_towers_whose_padding_matters_are_not_trimmed():
    from skclip_sage.encoders._open_clip import trimmable_text_tower

    torch.manual_seed(0)
    last_token = {**TINY_MODEL_CONFIG, "text_cfg": {**TINY_MODEL_CONFIG["text_cfg"], "pool_type": "last"}}
    assert trimmable_text_tower(open_clip.CustomTextCLIP(**last_token)) is None
    no_causal_mask = {**TINY_MODEL_CONFIG, "text_cfg": {**TINY_MODEL_CONFIG["text_cfg"], "no_causal_mask": True}}
    assert trimmable_text_tower(open_clip.CustomTextCLIP(**no_causal_mask)) is None


def test_the_encoder_encodes_prompts_with_the_padding_trimmed(tiny_model, monkeypatch):
    encoder = load_encoder(tiny_model, device="cpu")
    lengths = []
    transformer = encoder.model.transformer
    forward = transformer.forward

    def recording(x, *args, **kwargs):
        lengths.append(x.shape[1])
        return forward(x, *args, **kwargs)

    monkeypatch.setattr(transformer, "forward", recording)
    trimmed = encoder.encode_text(["a photo of a cat.", "a dog."])
    monkeypatch.setattr(transformer, "forward", forward)
    with torch.no_grad():
        padded = encoder.model.encode_text(encoder.tokenizer(["a photo of a cat.", "a dog."]))
    assert lengths == [8]  # <start> a photo of a cat . <end>: cut after the longest prompt, not 77
    np.testing.assert_allclose(trimmed, padded.numpy(), rtol=0, atol=2e-6)


# ---------------------------------------------------------------- issue 23 section 2: model folders as users name them


def test_a_bare_open_clip_folder_loads_as_written(tiny_copy, monkeypatch):
    from skclip_sage import ClipImageEmbedder

    monkeypatch.chdir(tiny_copy.parent)
    expected = f"local-dir:{tiny_copy}"
    for spelling in (str(tiny_copy), "model", "./model", "../" + tiny_copy.parent.name + "/model"):
        assert absolute_model(spelling) == expected, spelling
        assert model_location(spelling) == str(tiny_copy)
        embedder = ClipImageEmbedder(spelling, pretrained=None, device="cpu").fit()
        assert embedder.resolved_model_ == expected and embedder.embedding_dim_ == TINY_MODEL_CONFIG["embed_dim"]
    np.testing.assert_array_equal(
        load_encoder("./model", device="cpu").encode_text(["a cat"]),
        load_encoder(f"local-dir:{tiny_copy}", device="cpu").encode_text(["a cat"]),
    )


def test_a_bare_transformers_folder_is_told_by_its_config(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from hf_fixtures import save_tiny

    folder = save_tiny("clip", tmp_path / "hf_clip")
    monkeypatch.chdir(tmp_path)
    assert absolute_model("hf_clip") == absolute_model("./hf_clip") == f"transformers:{folder.resolve()}"
    assert (
        load_encoder("hf_clip", device="cpu").identity == load_encoder(f"transformers:{folder}", device="cpu").identity
    )


def test_a_local_folder_wins_over_a_hub_id_of_the_same_spelling(tiny_model, tmp_path, monkeypatch):
    shutil.copytree(local_dir_folder(tiny_model), tmp_path / "laion" / "CLIP-ViT-B-32")
    monkeypatch.chdir(tmp_path)
    assert absolute_model("laion/CLIP-ViT-B-32") == f"local-dir:{tmp_path / 'laion' / 'CLIP-ViT-B-32'}"
    assert load_encoder("laion/CLIP-ViT-B-32", device="cpu").embedding_dim == TINY_MODEL_CONFIG["embed_dim"]
    # The prefixes stay valid and a model name is not shadowed by an unrelated folder of its spelling.
    (tmp_path / "ViT-B-32").mkdir()
    assert absolute_model("ViT-B-32") == "ViT-B-32"
    assert absolute_model("hf-hub:laion/CLIP-ViT-B-32") == "hf-hub:laion/CLIP-ViT-B-32"


def test_a_bare_path_that_is_no_model_says_what_a_model_folder_holds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    with pytest.raises(
        ModelLoadError, match=r"holds no model: a model folder holds open_clip_config.json .*config.json"
    ):
        load_encoder("./photos", device="cpu")
    with pytest.raises(ModelLoadError) as caught:
        load_encoder("someone/some-clip", device="cpu")
    message = str(caught.value)
    assert f"folder {str(tmp_path / 'someone' / 'some-clip')!r} does not exist" in message
    assert "model='transformers:someone/some-clip'" in message and "model='hf-hub:someone/some-clip'" in message


def test_a_missing_relative_local_dir_at_the_first_fit_says_it_does_not_exist(tmp_path, monkeypatch):
    from skclip_sage import ClipImageEmbedder

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelLoadError) as caught:
        ClipImageEmbedder("local-dir:models/mine", device="cpu").fit()
    message = str(caught.value)
    assert f"{str(tmp_path / 'models' / 'mine')!r} does not exist" in message
    assert "move the folder back" not in message


def test_the_registry_says_which_folders_each_backend_loads():
    from skclip_sage.encoders._backends import folder_backends, folder_scheme

    assert [(backend.scheme, backend.folder_marker) for backend in folder_backends()] == [
        ("local-dir:", "open_clip_config.json"),
        ("transformers:", "config.json"),
    ]
    assert folder_scheme("/no/such/folder") is None


OFFLINE_CHILD = """
import sys, time
from skclip_sage.encoders import load_encoder
from skclip_sage.exceptions import ModelLoadError
started = time.monotonic()
try:
    load_encoder(*sys.argv[1:], device="cpu")
except ModelLoadError as err:
    print(f"{time.monotonic() - started:.2f}")
    print(err)
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("model", [["ViT-B-32", "laion2b_s34b_b79k"], ["hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"]])
def test_an_unreachable_hub_fails_within_seconds_with_the_offline_message(model, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as closed:  # bound but not listening: every connection is refused, nothing leaves the machine
        closed.bind(("127.0.0.1", 0))
        environment = {
            **os.environ,
            "HF_ENDPOINT": f"http://127.0.0.1:{closed.getsockname()[1]}",
            "HF_HOME": str(tmp_path / "hf_home"),
            "HF_HUB_OFFLINE": "0",
        }
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            environment.pop(name, None)
        result = subprocess.run(
            [sys.executable, "-c", OFFLINE_CHILD, *model], capture_output=True, text=True, env=environment, timeout=280
        )
    seconds, message = result.stdout.split("\n", 1)
    assert float(seconds) < 10, result.stderr[-2000:]
    assert "local-dir:" in message and "cache_dir=" in message, message
    assert "cannot be reached" in result.stderr


def test_the_cli_takes_a_bare_model_folder(tiny_model, tmp_path, monkeypatch, capsys):
    from PIL import Image

    from skclip_sage.cli import main

    shutil.copytree(local_dir_folder(tiny_model), tmp_path / "demo" / "model")
    Image.new("RGB", (40, 40), "red").save(tmp_path / "red.png")
    monkeypatch.chdir(tmp_path)
    arguments = ["classify", "red.png", "--classes", "cat", "dog", "--templates", "simple", "--device", "cpu"]
    assert main([*arguments, "--model", "demo/model"]) == 0, capsys.readouterr().err
    bare = capsys.readouterr().out
    assert main([*arguments, "--model", "local-dir:demo/model"]) == 0
    assert bare == capsys.readouterr().out and "red.png" in bare


def test_cli_debug_shows_the_librarys_records_and_verbose_its_info(tiny_model, tmp_path, monkeypatch, capsys):
    import logging

    from PIL import Image

    from skclip_sage.cli import main

    Image.new("RGB", (40, 40), "red").save(tmp_path / "red.png")
    monkeypatch.chdir(tmp_path)
    library = logging.getLogger("skclip_sage")
    before = (library.handlers[:], library.level, library.propagate)
    arguments = ["classify", "red.png", "--classes", "cat", "dog", "--templates", "simple", "--device", "cpu"]
    arguments += ["--model", tiny_model]
    clear_encoder_cache()
    assert main([*arguments, "--debug"]) == 0
    debug = capsys.readouterr().err
    assert "(identity local-dir:" in debug  # the load, with the model's identity
    assert "ready on cpu, precision fp32" in debug  # a DEBUG record of the library
    assert "ClipImageEmbedder: 1 images" in debug
    assert main([*arguments, "-v"]) == 0
    verbose = capsys.readouterr().err
    assert "ClipImageEmbedder: 1 images, 1 from memory" in verbose and "ready on" not in verbose
    assert main(arguments) == 0
    assert "ClipImageEmbedder" not in capsys.readouterr().err
    assert (library.handlers, library.level, library.propagate) == before  # main leaves logging as it found it


# ---------------------------------------------------------------- issue 23 section 6: a prediction without torch

PREDICT_CHILD = """
import pickle, sys
import numpy as np
clf = pickle.loads(open(sys.argv[1], "rb").read())
proba = clf.predict_proba(np.load(sys.argv[2]))
from skclip_sage.encoders._device import cuda_may_be_present
np.save(sys.argv[3], proba)
print(sorted(name for name in ("torch", "open_clip", "transformers") if name in sys.modules), cuda_may_be_present())
"""


def test_a_pickled_classifier_predicts_on_numpy_on_the_cpu_without_importing_torch(tiny_model, tmp_path):
    import os
    import pickle
    import subprocess
    import sys

    from skclip_sage import SageZeroShotClassifier

    clf = SageZeroShotClassifier(tiny_model, templates="simple", class_names=["cat", "dog", "bird"]).fit()
    X = np.random.default_rng(0).normal(size=(5, TINY_MODEL_CONFIG["embed_dim"])).astype(np.float32)
    (tmp_path / "clf.pkl").write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X)
    root = str(Path(__file__).resolve().parent.parent)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", PREDICT_CHILD, str(tmp_path / "clf.pkl"), str(tmp_path / "X.npy"), str(tmp_path / "p")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), clf.predict_proba(X))
    imported, cuda_here = result.stdout.rsplit(" ", 1)
    if cuda_here.strip() == "True":
        pytest.skip("this machine may have CUDA: device='auto' asks torch, as it should")
    assert imported == "[]", result.stdout


def test_the_cli_model_help_is_generated_from_the_table_of_backends(capsys):
    from skclip_sage.cli import main
    from skclip_sage.encoders import BACKENDS, model_forms

    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("local- dir:", "local-dir:")
    for backend in BACKENDS:
        assert backend.form.replace("pretrained=", "--pretrained ") in text, backend.form
    assert model_forms()[1][0] in text  # the bare folder, with the files that tell its backend


def _parameter_text(doc: str, name: str) -> str:
    """The description of parameter ``name`` in a numpydoc docstring (up to the next parameter)."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{name} :"))
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) <= indent
        ),
        len(lines),
    )
    return " ".join(" ".join(lines[start:end]).split())


def test_every_docstring_that_takes_a_model_lists_the_forms_of_the_table_of_backends():
    # Issue 22 section 4: the model forms are generated from the registry, not written by hand in
    # four docstrings; a backend added to the table shows in each (and the CLI help, tested above).
    from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier
    from skclip_sage.debias import RoboShotProjection, SpuriousTranslation
    from skclip_sage.distributed import embed_images
    from skclip_sage.encoders import BACKENDS, load_encoder, model_forms

    prose = {"with", "or", "and", "holding"}
    places = {
        "load_encoder": _parameter_text(load_encoder.__doc__, "model"),
        "SageZeroShotClassifier": _parameter_text(SageZeroShotClassifier.__doc__, "model"),
        "ClipImageEmbedder": _parameter_text(ClipImageEmbedder.__doc__, "model"),
        "SpuriousTranslation": _parameter_text(SpuriousTranslation.__doc__, "model"),
        "RoboShotProjection": _parameter_text(RoboShotProjection.__doc__, "model"),
        "embed_images": _parameter_text(embed_images.__doc__, "embedder"),
    }
    for owner, text in places.items():
        for form, description in model_forms():
            for word in form.split():
                if word.strip("()") not in prose:
                    assert f"``{word.strip('()')}``" in text, (owner, form)
            assert " ".join(description.split()) in text, (owner, description)
        for backend in BACKENDS:
            assert backend.scheme in text, (owner, backend.scheme)


def test_a_backend_record_says_which_folders_it_loads_and_what_they_hold():
    # Issue 22 section 4: each record carries its folder layout; the order of the table is the
    # order in which a bare folder is told (no special case naming one backend's file).
    from skclip_sage.encoders import BACKENDS
    from skclip_sage.encoders._backends import HF_HUB, LOCAL_DIR, TRANSFORMERS, folder_backends

    assert {backend.scheme for backend in BACKENDS} == {LOCAL_DIR, TRANSFORMERS, HF_HUB, ""}
    for backend in BACKENDS:
        names_folders = backend.folder_marker is not None
        assert (backend.folder_files is not None) == names_folders, backend.scheme
        if names_folders:
            assert backend.folder_marker in backend.folder_files
    assert folder_backends() == tuple(backend for backend in BACKENDS if backend.folder_marker is not None)


def test_the_cli_says_which_schemes_ignore_pretrained_from_the_table(capsys):
    # Issue 22 section 4: --pretrained's help and `models`' description read the table of backends.
    from skclip_sage.cli import main
    from skclip_sage.encoders import BACKENDS

    for command in ("classify", "models"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split()).replace("local- dir:", "local-dir:")
        for backend in BACKENDS:
            if backend.scheme:
                assert backend.scheme in text, (command, backend.scheme)
        if command == "classify":
            ignoring = [backend.scheme for backend in BACKENDS if backend.scheme and backend.ignores_pretrained]
            assert f"ignored for {', '.join(ignoring)}" in text


def test_without_torch_only_device_auto_is_settled_and_any_gpu_driver_counts(tmp_path):
    # A ROCm or freshly booted NVIDIA host lacks /dev/nvidiactl: "auto" must then ask torch,
    # and an explicit "cuda" always does (it used to fall back to the CPU without torch's word).
    driver = tmp_path / "kfd"
    driver.touch()
    code = f"""
import sys
from skclip_sage.encoders import _device
_device._GPU_PATHS = ()
assert _device.cuda_may_be_present() is False and _device.compute_device("auto") is None
assert "torch" not in sys.modules
_device._GPU_PATHS = ({str(driver)!r},)
assert _device.cuda_may_be_present() is True
assert "torch" not in sys.modules
_device._GPU_PATHS = ()
import warnings
with warnings.catch_warnings(record=True):
    warnings.simplefilter("always")
    _device.compute_device("cuda")
assert "torch" in sys.modules
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
