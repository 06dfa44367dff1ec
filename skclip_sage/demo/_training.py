"""Train a tiny open_clip model on (image, caption) pairs on the CPU, deterministically.

open_clip's own pieces do the work: ``open_clip.CLIP`` built from a small config,
``open_clip.ClipLoss`` (the symmetric InfoNCE loss), AdamW and a one-cycle learning
rate. The model is first written with :func:`skclip_sage.encoders.save_local_dir` and
read back through open_clip's ``local-dir:`` loader, so training sees exactly the
preprocessing and tokenizer every later ``local-dir:`` load uses.

A one-cycle schedule is what makes this work at all: measured on the coloured digits,
the 3 + 3-layer model below reached 99.9 % zero-shot accuracy on majority groups with a
peak of 1e-3, and stayed at chance with a constant 2e-3.

Captions that repeat inside a batch (several images of one class with the same
template) are each other's negatives in the contrastive loss, so the loss cannot fall
much below the log of the repeats; that floor is expected, not a bug.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._progress import EpochProgress
from ._threads import fastest_thread_count, thread_candidates

__all__ = ["TrainingSummary", "tiny_clip_config", "train_tiny_clip"]

LOGGER = logging.getLogger(__name__)
TRAINING_FILE = "training.json"


def tiny_clip_config(*, image_size=32, patch_size=8, width=96, layers=3, context_length=16, embed_dim=64):
    """An open_clip model configuration for a tiny CLIP (ViT image tower, transformer text tower).

    Parameters
    ----------
    image_size : int, default=32
        Side of the input images in pixels.
    patch_size : int, default=8
        Side of the ViT patches (``image_size`` must be a multiple of it).
    width : int, default=96
        Width of both towers (a multiple of 32, the attention head width).
    layers : int, default=3
        Transformer layers in each tower.
    context_length : int, default=16
        Text tokens per caption, start and end tokens included.
    embed_dim : int, default=64
        Width of the shared embedding space.

    Returns
    -------
    model_cfg : dict
        ``embed_dim``, ``vision_cfg`` and ``text_cfg``, as open_clip's model configs
        and :func:`skclip_sage.encoders.save_local_dir` take them.

    Examples
    --------
    >>> from skclip_sage.demo import tiny_clip_config
    >>> tiny_clip_config(layers=1)["text_cfg"]["layers"]
    1
    """
    if image_size % patch_size:
        raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size}).")
    if width % 32:
        raise ValueError(f"width must be a multiple of 32 (the attention head width); got {width}.")
    heads = width // 32
    return {
        "embed_dim": int(embed_dim),
        "vision_cfg": {
            "image_size": int(image_size),
            "layers": int(layers),
            "width": int(width),
            "patch_size": int(patch_size),
            "head_width": 32,
        },
        "text_cfg": {
            "context_length": int(context_length),
            "vocab_size": 49408,
            "width": int(width),
            "heads": heads,
            "layers": int(layers),
        },
    }


@dataclass(frozen=True)
class TrainingSummary:
    """What one training run did.

    Attributes
    ----------
    epochs : int
        Passes over the training images.
    n_images : int
        Training images.
    final_loss : float
        Mean contrastive loss over the last epoch.
    seconds : float
        Wall-clock training time (preprocessing included).
    losses : tuple of float
        Mean loss of each epoch.
    num_threads : int, default=0
        torch threads the training ran with (0: not recorded).
    """

    epochs: int
    n_images: int
    final_loss: float
    seconds: float
    losses: tuple
    num_threads: int = 0

    def __str__(self):
        threads = f" with {self.num_threads} torch thread{'s' * (self.num_threads != 1)}" if self.num_threads else ""
        return (
            f"trained {self.epochs} epochs on {self.n_images} images{threads}: "
            f"loss {self.losses[0]:.3f} -> {self.final_loss:.3f} in {self.seconds:.1f} s"
        )


def _check_training_arguments(image_paths, captions, epochs, batch_size, max_lr, num_threads):
    if len(image_paths) != len(captions):
        raise ValueError(f"got {len(image_paths)} images but {len(captions)} caption lists; give one list per image.")
    if len(image_paths) < 2:
        raise ValueError(f"contrastive training needs at least 2 images; got {len(image_paths)}.")
    empty = [position for position, options in enumerate(captions) if not options]
    if empty:
        raise ValueError(f"{len(empty)} images have no caption (first: position {empty[0]}); give each at least one.")
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"epochs must be >= 1 and batch_size >= 2; got epochs={epochs}, batch_size={batch_size}.")
    if not max_lr > 0:
        raise ValueError(f"max_lr must be positive; got {max_lr}.")
    valid_count = isinstance(num_threads, int) and not isinstance(num_threads, bool) and num_threads >= 1
    if num_threads not in (None, "auto") and not valid_count:
        raise ValueError(f"num_threads must be 'auto', None or an int >= 1; got {num_threads!r}.")


def train_tiny_clip(
    image_paths: Sequence,
    captions: Sequence[Sequence[str]],
    folder,
    *,
    model_cfg: dict | None = None,
    epochs: int = 60,
    batch_size: int = 128,
    max_lr: float = 1e-3,
    weight_decay: float = 0.1,
    seed: int = 0,
    num_threads="auto",
    verbose: bool = True,
    log=None,
):
    """Train a tiny open_clip model with the contrastive loss and save it as a ``local-dir:`` folder.

    Parameters
    ----------
    image_paths : sequence of path-like
        The training images (any size; preprocessed as the saved model will be).
    captions : sequence of sequence of str
        For each image, its candidate captions; each epoch draws one per image.
    folder : path-like
        Receives the model (:func:`skclip_sage.encoders.save_local_dir`) and
        ``training.json`` (the arguments and the summary).
    model_cfg : dict, default=None
        open_clip model configuration; default :func:`tiny_clip_config` ``()``.
    epochs : int, default=60
        Passes over the images.
    batch_size : int, default=128
        Pairs per step (the last, smaller batch of an epoch is dropped when it
        has fewer than 2 pairs).
    max_lr : float, default=1e-3
        Peak of the one-cycle learning-rate schedule (AdamW).
    weight_decay : float, default=0.1
        AdamW weight decay.
    seed : int, default=0
        Seeds the initial weights, the batch order and the caption draws; the same
        seed on the same machine and thread count gives the same weights.
    num_threads : "auto", int or None, default="auto"
        torch CPU threads while training (restored afterwards). ``"auto"`` times
        a few steps (on a throwaway copy of the model) with one thread and with
        ``torch.get_num_threads()`` and keeps the faster: models this small gain
        little from threads, and on a busy machine one thread can be several times
        faster than two. None keeps ``torch.get_num_threads()``.
    verbose : bool, default=True
        Show a progress bar when stderr is a terminal.
    log : callable, default=None
        Called with each progress line: the thread choice and, when no progress
        bar is shown, a line every few epochs (epoch, loss, time elapsed and
        left). None sends them to the ``skclip_sage.demo`` logger.

    Returns
    -------
    model : str
        ``"local-dir:<folder>"``, ready to pass as ``model=`` anywhere.
    summary : TrainingSummary
        Epochs, losses, seconds and threads; ``str(summary)`` is a one-line report.
    """
    import open_clip
    import torch

    from ..encoders import save_local_dir
    from ..io import open_image

    _check_training_arguments(image_paths, captions, epochs, batch_size, max_lr, num_threads)
    log = LOGGER.info if log is None else log
    model_cfg = tiny_clip_config() if model_cfg is None else model_cfg
    started = time.perf_counter()
    folder = Path(folder)
    (folder / TRAINING_FILE).unlink(missing_ok=True)
    # The initial weights come from torch's global generator: seed it, then give it back as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model_string = save_local_dir(folder, open_clip.CLIP(**model_cfg), model_cfg)
    model, _, preprocess = open_clip.create_model_and_transforms(model_string)
    tokenizer = open_clip.get_tokenizer(model_string)
    pixels = torch.stack([preprocess(open_image(path)) for path in image_paths])
    optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(pixels) / batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=epochs * steps_per_epoch)
    threads_before = torch.get_num_threads()
    timings = {}
    if num_threads == "auto":
        num_threads, timings = _timed_thread_count(model, pixels, captions, tokenizer, batch_size, max_lr, log)
    num_threads = threads_before if num_threads is None else num_threads
    torch.set_num_threads(num_threads)
    try:
        losses = _train_epochs(
            model, pixels, captions, tokenizer, optimizer, scheduler, epochs, batch_size, seed, verbose, log
        )
    finally:
        torch.set_num_threads(threads_before)
    model.eval()
    save_local_dir(folder, model, model_cfg)
    seconds = round(time.perf_counter() - started, 2)
    summary = TrainingSummary(epochs, len(pixels), losses[-1], seconds, tuple(losses), num_threads)
    record = {"model_cfg": model_cfg, "epochs": epochs, "batch_size": batch_size, "max_lr": max_lr}
    record.update(weight_decay=weight_decay, seed=seed, summary=asdict(summary))
    record["thread_timings"] = {str(threads): seconds for threads, seconds in timings.items()}
    (folder / TRAINING_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return model_string, summary


def _timed_thread_count(model, pixels, captions, tokenizer, batch_size, max_lr, log):
    """The faster of 1 and N torch threads for this model and batch, timed on a throwaway copy."""
    import open_clip
    import torch

    candidates = thread_candidates()
    if len(candidates) == 1:
        log("training with 1 torch thread (the only one torch has)")
        return 1, {}
    batch = torch.arange(min(batch_size, len(pixels)))
    images, tokens = pixels[batch], tokenizer([captions[index][0] for index in batch.tolist()])
    loss_function = open_clip.ClipLoss()

    def make_trial():
        trial = copy.deepcopy(model)
        optimizer = torch.optim.AdamW(trial.parameters(), lr=max_lr)
        return lambda: _step(trial, loss_function, optimizer, images, tokens)

    # The copies draw no random numbers, but keep the global generator as it was anyway.
    with torch.random.fork_rng(devices=[]):
        chosen, timings = fastest_thread_count(make_trial, candidates)
    measured = ", ".join(
        f"{threads} thread{'s' * (threads != 1)} {seconds:.3f} s" for threads, seconds in timings.items()
    )
    log(f"torch threads: timed a training step with {measured}; training with {chosen}")
    return chosen, timings


def _train_epochs(model, pixels, captions, tokenizer, optimizer, scheduler, epochs, batch_size, seed, verbose, log):
    """The training loop; returns the mean loss of each epoch."""
    import open_clip
    import torch

    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    loss_function = open_clip.ClipLoss()
    n_images = len(pixels)
    losses = []
    model.train()
    progress = EpochProgress(epochs, verbose, log)
    try:
        for epoch in range(1, epochs + 1):
            order = torch.randperm(n_images, generator=generator)
            chosen = [options[rng.integers(len(options))] for options in captions]
            tokens = tokenizer(chosen)
            epoch_losses = []
            for start in range(0, n_images, batch_size):
                batch = order[start : start + batch_size]
                if len(batch) >= 2:
                    epoch_losses.append(_step(model, loss_function, optimizer, pixels[batch], tokens[batch]))
                # Stepped even for a skipped batch, so the schedule ends where it was planned.
                scheduler.step()
            losses.append(float(np.mean(epoch_losses)))
            progress.update(epoch, losses[-1])
    finally:
        progress.close()
    return losses


def _step(model, loss_function, optimizer, images, tokens):
    import torch

    image_features = model.encode_image(images, normalize=True)
    text_features = model.encode_text(tokens, normalize=True)
    loss = loss_function(image_features, text_features, model.logit_scale.exp())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        # As open_clip's training loop: a temperature below 1/100 destabilises training.
        model.logit_scale.clamp_(0, math.log(100))
    return float(loss.detach())
