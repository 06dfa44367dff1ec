"""Run a model over batches, halving the batch on GPU out-of-memory errors."""

from __future__ import annotations

from typing import Callable

import torch


class OutOfMemoryBackoff:
    """Apply a function to row slices of a batch, shrinking slices after an OOM.

    The slice size that last fit is remembered, so later batches start there
    instead of failing again. Rows are never lost or repeated: a failed slice is
    retried from its first row.

    Parameters
    ----------
    batch_size : int
        Rows per call to start with.
    device : str
        Named in the error raised when even one row does not fit.
    """

    def __init__(self, batch_size: int, device: str):
        self.batch_size = batch_size
        self.device = device

    def __call__(self, function: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
        """Return ``function`` applied to ``batch``, concatenated over slices."""
        if len(batch) == 0:
            return function(batch)
        outputs = []
        start = 0
        while start < len(batch):
            size = min(self.batch_size, len(batch) - start)
            try:
                outputs.append(function(batch[start : start + size]))
            except torch.cuda.OutOfMemoryError as err:
                if size == 1:
                    raise torch.cuda.OutOfMemoryError(
                        f"Out of memory on {self.device} even with batch size 1; free memory on the device "
                        "or use a smaller model."
                    ) from err
                self.batch_size = max(1, size // 2)
            else:
                start += size
                continue
            # Outside the except block, so the failed attempt's tensors are released first.
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        return torch.cat(outputs)
