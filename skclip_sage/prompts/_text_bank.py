"""Encode every template x class prompt once, with in-memory and on-disk caches.

A grid search over ``k``, ``selection`` or template subsets refits the classifier
many times with the same prompts; the cache keyed by (model identity, prompts)
makes each prompt cost one forward pass per process (or ever, with ``cache_dir``).
"""

from __future__ import annotations

import logging
import time
from numbers import Integral

import numpy as np

from ..io import DEFAULT_MEMORY_CACHE_BYTES, TieredCache, forget_kind, producer_of
from ..selection import l2_normalize
from ..utils._eval_mode import evaluating
from ._prompts import check_prompt_lengths, class_texts, expand_prompts

TEXT_BANK_CACHE = "text_banks"  # the folder under cache_dir, also part of each key

LOGGER = logging.getLogger("skclip_sage")


def encode_text_bank(encoder, templates, class_names, *, batch_size=256, truncate=False, cache_dir=None, verbose=False):
    """The unit-norm text bank of every template applied to every class.

    A class with several texts (synonyms, descriptions) gets, for every template,
    the normalised mean of the unit embeddings of that template applied to each
    of its texts, so the bank keeps one row per (template, class).

    Parameters
    ----------
    encoder : TextImageEncoder
        Only ``encode_text`` (and, when present, ``identity``, ``count_tokens``
        and ``context_length``) are used.
    templates : list of str
        Checked templates (see :func:`~skclip_sage.prompts.resolve_templates`).
    class_names : list of (str or list of str)
        One entry per class: its name, or its non-empty list of texts.
    batch_size : int, default=256
        Prompts per forward pass.
    truncate : bool, default=False
        Allow prompts longer than the encoder's context (with a warning).
    cache_dir : path-like or None, default=None
        Also keep banks on disk, under ``<cache_dir>/text_banks``.
    verbose : bool, default=False
        Show a progress bar while encoding.

    Returns
    -------
    text_bank : ndarray of shape (n_templates, n_classes, n_features), float32
    """
    prompts = expand_prompts(templates, class_names)
    context_length = getattr(encoder, "context_length", None)
    counts = encoder.count_tokens(prompts) if hasattr(encoder, "count_tokens") else None
    if context_length is not None and counts is not None:
        check_prompt_lengths(prompts, counts, context_length, truncate=truncate)
    texts_per_class = [len(class_texts(name)) for name in class_names]
    # Every text is in the prompts; how they group into classes is keyed too, so
    # ["a cat.", "a dog."] as one class never recalls the bank of two classes.
    layout = "texts per class: " + ",".join(map(str, texts_per_class))
    cache = TieredCache(
        producer_of(encoder),
        TEXT_BANK_CACHE,
        memory_bytes=DEFAULT_MEMORY_CACHE_BYTES,
        cache_dir=cache_dir,
        owner="Text-bank encoding",
    )
    key = None if cache.key is None else cache.key(layout, *prompts)
    width = getattr(encoder, "embedding_dim", None)
    shape = (len(templates), len(class_names), int(width) if isinstance(width, Integral) else None)
    cached = cache.get(key, shape, "the text bank")
    cache.warn(stacklevel=3)
    if cached is None:
        started = time.perf_counter()
        with evaluating(encoder):
            unit = _encode(encoder, prompts, batch_size, verbose)
        cached = _class_means(unit, texts_per_class, prompts).reshape(len(templates), len(class_names), -1)
        LOGGER.info(
            "encoded a text bank of %d prompts (%d templates x %d classes) in %.2f s",
            len(prompts),
            len(templates),
            len(class_names),
            time.perf_counter() - started,
        )
        cache.put(key, cached)
        cache.warn(stacklevel=3)
    else:
        LOGGER.debug("text bank of %d prompts recalled from the cache", len(prompts))
    return cached.copy()


def clear_text_bank_cache() -> None:
    """Forget the text banks kept in memory (those under ``cache_dir`` stay on disk)."""
    forget_kind(TEXT_BANK_CACHE)


def _encode(encoder, prompts, batch_size, verbose) -> np.ndarray:
    parts = []
    with _progress(len(prompts), verbose) as progress:
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start : start + batch_size]
            parts.append(np.asarray(encoder.encode_text(batch), dtype=np.float32))
            progress.update(len(batch))
    embeddings = np.concatenate(parts)
    if embeddings.ndim != 2 or len(embeddings) != len(prompts):
        raise ValueError(
            f"{type(encoder).__name__}.encode_text returned shape {embeddings.shape} for {len(prompts)} prompts; "
            "expected (n_prompts, n_features)."
        )
    # A NaN or infinite row would give NaN scores that argmax turns into "the first
    # class" without a word: refused like an all-zero row, naming the prompts.
    non_finite = ~np.isfinite(embeddings).all(axis=1)
    if non_finite.any():
        raise ValueError(
            f"The text encoder returned NaN or infinite embeddings for {int(non_finite.sum())} of {len(prompts)} "
            f"prompts {[prompts[i] for i in np.flatnonzero(non_finite)[:5]]}; check the model weights (a NaN or "
            "infinite weight, e.g. in a token embedding, or an overflowing precision: try precision='fp32')."
        )
    normalized, is_zero = l2_normalize(embeddings)
    if is_zero.any():
        raise ValueError(
            f"The text encoder returned all-zero embeddings for prompts "
            f"{[prompts[i] for i in np.flatnonzero(is_zero)[:5]]}; check the model weights."
        )
    return normalized.astype(np.float32)


def _progress(total, verbose):
    """A bar counting prompts, cleared when done (``leave=False``), or a silent stand-in."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="Encoding prompts", unit="prompt", disable=not verbose, leave=False)


def _class_means(unit: np.ndarray, texts_per_class: list[int], prompts: list[str]) -> np.ndarray:
    """One unit row per (template, class): the normalised mean over the class's texts."""
    if all(count == 1 for count in texts_per_class):
        return unit
    sizes = np.tile(texts_per_class, len(unit) // sum(texts_per_class))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # The direction of the mean is that of the sum; float64 keeps it exact enough.
    means, is_zero = l2_normalize(np.add.reduceat(unit.astype(np.float64), starts, axis=0))
    if is_zero.any():
        first = starts[np.flatnonzero(is_zero)[0]]
        group = prompts[first : first + sizes[np.flatnonzero(is_zero)[0]]]
        raise ValueError(
            f"The prompts {group} of one class cancel out: the mean of their embeddings is zero. Drop or "
            "change one of those texts."
        )
    return means.astype(np.float32)
