"""Run an injected torch module in eval mode, and give the module back as it was."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def evaluating(model):
    """Within the block, ``model`` (if it is a ``torch.nn.Module``) is in eval mode, without autograd.

    Dropout or stochastic depth left on would make embeddings random. An injected
    module stays the caller's object, so its own training flag is restored
    afterwards. Anything that is not a torch module passes through untouched, and
    torch is never imported here (a torch module implies torch is imported already).

    Examples
    --------
    >>> from skclip_sage.utils._eval_mode import evaluating
    >>> with evaluating(object()):  # not a torch module: nothing to do
    ...     pass
    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        yield
        return
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)
