"""Decode and preprocess images in a torch DataLoader, keeping every failure."""

from __future__ import annotations

from typing import Callable, Iterator, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset

from ..exceptions import ImageLoadError
from ..io import describe_image_source, open_image


class ImageBatch(NamedTuple):
    """One batch from :func:`iterate_image_batches`.

    Attributes
    ----------
    positions : list of int
        Input positions of the decoded images, in the rows of ``pixels``.
    pixels : torch.Tensor or None
        Preprocessed images, None when none in the batch could be read.
    failures : list of (int, str, str)
        ``(position, source description, reason)`` for each unreadable image.
    """

    positions: list
    pixels: torch.Tensor | None
    failures: list


class _ImageDataset(Dataset):
    def __init__(self, items: list, positions: list, preprocess: Callable, draft_size: int | None):
        self.items = items
        self.positions = positions
        self.preprocess = preprocess
        self.draft_size = draft_size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        position = self.positions[index]
        source = describe_image_source(self.items[index], position)
        try:
            image = open_image(self.items[index], name=source, draft_size=self.draft_size)
        except (ImageLoadError, ValueError) as err:
            return position, source, None, getattr(err, "reason", str(err))
        return position, source, self.preprocess(image), None


def _collate(samples: list) -> ImageBatch:
    good = [(position, pixels) for position, _, pixels, _ in samples if pixels is not None]
    failures = [(position, source, reason) for position, source, pixels, reason in samples if pixels is None]
    pixels = torch.stack([pixels for _, pixels in good]) if good else None
    return ImageBatch([position for position, _ in good], pixels, failures)


def iterate_image_batches(
    items: list,
    positions: list,
    preprocess: Callable,
    *,
    batch_size: int,
    num_workers: int,
    pin_memory: bool,
    draft_size: int | None = None,
) -> Iterator[ImageBatch]:
    """Yield preprocessed batches in input order; worker processes when ``num_workers > 0``.

    ``draft_size`` lets JPEG files decode at a reduced scale while both sides stay
    at least that many pixels (see :func:`~skclip_sage.io.open_image`).

    ``preprocess`` is sent to the workers, so it should be a light picklable
    transform (open_clip's torchvision pipeline), never a bound method of a model.
    Workers run torch on one thread each (DataLoader's default); without workers,
    preprocessing runs here on one thread too (see :func:`_one_thread_while_fetching`).
    """
    loader = DataLoader(
        _ImageDataset(items, positions, preprocess, draft_size),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_collate,
        pin_memory=pin_memory,
        # Each iteration draws a base seed for its workers; from its own generator,
        # not from torch's global one, so embedding never changes the caller's RNG.
        generator=torch.Generator(),
    )
    return iter(loader) if num_workers > 0 else _one_thread_while_fetching(iter(loader))


def _one_thread_while_fetching(batches: Iterator[ImageBatch]) -> Iterator[ImageBatch]:
    """Fetch each batch with torch limited to one intra-op thread, then restore the count.

    Preprocessing applies small element-wise ops (to-tensor, normalise) to one image
    at a time. On an idle machine torch's thread pool saves little on them (measured
    on 2 cores: ``ToTensor`` 0.31 -> 0.19 ms), but when the cores are shared with
    other work each hand-off waits for a time slice (0.4 -> 15 ms per image), which
    made in-process decoding slower than the model itself. One thread is what
    DataLoader workers use too. The model's forward pass, which does benefit from
    threads, runs between fetches with the caller's setting. The thread count is
    process-wide, so torch work in other threads briefly sees one thread too.
    """
    while True:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            batch = next(batches)
        except StopIteration:
            return
        finally:
            torch.set_num_threads(threads)
        yield batch
