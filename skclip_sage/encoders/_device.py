"""Device and numeric-precision choices for running a model."""

from __future__ import annotations

import contextlib

import torch

from ._precision import PRECISIONS


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into an available device.

    ``"auto"`` picks CUDA when present, the CPU otherwise. Asking for CUDA where
    there is none is an error rather than a silent move to the CPU.

    Parameters
    ----------
    device : str

    Returns
    -------
    device : torch.device
    """
    if not isinstance(device, str):
        if isinstance(device, torch.device):
            device = str(device)
        else:
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.") from err
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this machine; "
                "use device='auto' (GPU when present) or device='cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} does not exist: this machine has {torch.cuda.device_count()} CUDA device(s)."
            )
    elif resolved.type != "cpu":
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    return resolved


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for full fp32.

    ``"auto"`` means bf16 on GPUs that support it (fp16 on older ones) and fp32 on
    the CPU, where reduced precision is slower, not faster.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}; got {precision!r} instead.")
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def inference_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """``torch.inference_mode`` plus autocast when ``precision`` asks for it."""
    dtype = autocast_dtype(precision, device)
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if dtype is not None:
        stack.enter_context(torch.autocast(device_type=device.type, dtype=dtype))
    return stack
