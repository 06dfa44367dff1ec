"""Shared fixtures: a tiny open_clip model on disk, deterministic fake encoders, images."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

TINY_MODEL_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1},
}


def make_tiny_local_dir(folder, seed: int = 0) -> str:
    """Write a tiny random-weight open_clip model as a ``local-dir:`` folder; return the model string."""
    import open_clip
    import torch

    from skclip_sage.encoders import save_local_dir

    torch.manual_seed(seed)
    model = open_clip.CLIP(**TINY_MODEL_CONFIG)
    return save_local_dir(folder, model, TINY_MODEL_CONFIG)


@pytest.fixture(autouse=True)
def _fresh_embedding_memory():
    """Each test starts with no embeddings kept in memory (the store is process-wide)."""
    from skclip_sage.io import clear_memory_caches

    clear_memory_caches()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """``"local-dir:<folder>"`` of a tiny open_clip model (32-d embeddings, 32 px images)."""
    return make_tiny_local_dir(tmp_path_factory.mktemp("tiny_open_clip"))


class HashTextEncoder:
    """Deterministic text encoder: each text maps to a fixed pseudo-random vector.

    Satisfies the text side of the ``TextImageEncoder`` protocol, so the classifier
    runs its real code without torch or model weights.
    """

    logit_scale = 100.0

    def __init__(self, embedding_dim: int = 8):
        self.embedding_dim = embedding_dim
        self.identity = f"hash-text-{embedding_dim}"
        self.calls = 0

    def encode_text(self, texts):
        self.calls += 1
        return np.stack([_text_vector(text, self.embedding_dim) for text in texts]).astype(np.float32)


def _text_vector(text: str, width: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=width)


@pytest.fixture
def hash_encoder():
    return HashTextEncoder(8)
