"""Training progress: a bar on a terminal, plain lines in a log file or a pipe."""

from __future__ import annotations

import math
import sys
import time

__all__ = ["EpochProgress"]

# Without a terminal for a progress bar, about this many lines per training run.
PROGRESS_LINES = 10


class EpochProgress:
    """A progress bar on a terminal; elsewhere (a log file, a pipe) a line every few epochs.

    A line says the epoch, the mean loss, the time so far and the estimated time left,
    so a log shows that training is alive and when it will end.
    """

    def __init__(self, epochs, verbose, log):
        from tqdm.auto import tqdm

        self.epochs, self.log = epochs, log
        self.every = max(1, math.ceil(epochs / PROGRESS_LINES))
        self.bar = verbose and sys.stderr.isatty()
        self.tqdm = tqdm(total=epochs, desc="Training tiny CLIP", unit="epoch", disable=not self.bar, file=sys.stderr)
        self.started = time.perf_counter()

    def update(self, epoch, loss):
        """Report that ``epoch`` (1-based) ended with mean loss ``loss``."""
        self.tqdm.set_postfix(loss=f"{loss:.3f}")
        self.tqdm.update()
        if self.bar or (epoch % self.every and epoch != self.epochs):
            return
        elapsed = time.perf_counter() - self.started
        left = elapsed / epoch * (self.epochs - epoch)
        self.log(f"epoch {epoch}/{self.epochs}: loss {loss:.3f}, {elapsed:.0f} s elapsed, about {left:.0f} s left")

    def close(self):
        self.tqdm.close()
