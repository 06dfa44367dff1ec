"""Deterministic stand-ins for CLIP text encoders.

They live in an importable module (not a test file or conftest) so that estimators
holding them pickle by reference into joblib/loky worker processes.
"""

from __future__ import annotations

import collections
import hashlib
import re
import uuid

import numpy as np

ENCODE_CALLS: collections.Counter = collections.Counter()
"""``identity -> encode_text calls`` in this process, shared by all clones of an encoder."""


def word_vector(word: str, width: int) -> np.ndarray:
    """A fixed pseudo-random unit vector per word."""
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).normal(size=width)
    return vector / np.linalg.norm(vector)


class WordSumEncoder:
    """Text embedding = sum of its words' vectors (lower-cased, punctuation dropped).

    All prompts of one template share the template words, so they differ by the
    class name alone; an "image" embedding near ``word_vector(name)`` is classified
    as that class. Counts its ``encode_text`` calls in :data:`ENCODE_CALLS`.
    """

    logit_scale = 100.0

    def __init__(self, embedding_dim: int = 16, identity: str | None = None):
        self.embedding_dim = embedding_dim
        self.identity = identity or f"word-sum-{embedding_dim}-{uuid.uuid4().hex}"

    def encode_text(self, texts):
        ENCODE_CALLS[self.identity] += 1
        rows = [
            sum(word_vector(word, self.embedding_dim) for word in re.findall(r"\w+", text.lower())) for text in texts
        ]
        return np.stack(rows).astype(np.float32)

    def calls(self) -> int:
        return ENCODE_CALLS[self.identity]


class HashTextEncoder:
    """Each whole text maps to its own pseudo-random vector; width chosen freely."""

    logit_scale = 100.0

    def __init__(self, embedding_dim: int = 8):
        self.embedding_dim = embedding_dim
        self.identity = f"hash-text-{embedding_dim}"

    def encode_text(self, texts):
        return np.stack([word_vector(text, self.embedding_dim) for text in texts]).astype(np.float32)


def image_embeddings(class_names, labels, width: int = 16, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """Rows near the word vector of each label's class name, as a CLIP image embedding would be."""
    rng = np.random.default_rng(seed)
    names = dict(class_names)
    rows = [word_vector(names[label], width) + noise * rng.normal(size=width) / np.sqrt(width) for label in labels]
    return np.stack(rows)


def dropout_text_encoder(embedding_dim: int = 16):
    """A torch module text encoder with dropout: random embeddings unless it is in eval mode.

    It has no ``identity``, so nothing is cached and every fit encodes its texts.
    """
    import torch

    class DropoutTextEncoder(torch.nn.Module):
        logit_scale = 100.0

        def __init__(self):
            super().__init__()
            self.embedding_dim = embedding_dim
            self.words = WordSumEncoder(embedding_dim, identity="dropout-words")
            self.dropout = torch.nn.Dropout(0.5)

        def encode_text(self, texts):
            return self.dropout(torch.as_tensor(self.words.encode_text(texts)))

    return DropoutTextEncoder()


class FileCountingImageEncoder:
    """A picklable fake image encoder that appends each batch's row count to a log file.

    Loky worker processes get their own copy; the file collects the counts of
    every process, so a test can tell how many images went through "the model".
    """

    embedding_dim = 6

    def __init__(self, log_path, identity="file-counting-image-encoder"):
        self.log_path = str(log_path)
        self.identity = identity
        rng = np.random.default_rng(0)
        self.projection = rng.normal(size=(3 * 4 * 4, self.embedding_dim))

    def preprocess(self, image):
        import torch

        pixels = np.asarray(image.convert("RGB").resize((4, 4)), dtype=np.float32) / 255.0
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()

    def encode_images(self, pixels):
        import torch

        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"{len(pixels)}\n")
        return torch.from_numpy(pixels.double().flatten(1).numpy() @ self.projection).float()

    @staticmethod
    def rows(log_path) -> int:
        try:
            with open(log_path, encoding="utf-8") as log:
                return sum(int(line) for line in log)
        except FileNotFoundError:
            return 0
