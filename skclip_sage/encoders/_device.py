"""Where models run and predictions are computed, and in which numeric precision: one policy.

- ``"auto"`` is CUDA when present, the CPU otherwise, everywhere.
- Asking for CUDA where there is none is an error when a model is loaded or an
  estimator is fitted (:func:`resolve_device`): the request is the user's mistake.
- A *fitted* estimator asking for CUDA on a host without it (fitted on a GPU host,
  unpickled on a CPU-only one) computes on the CPU with one
  :class:`~skclip_sage.exceptions.DeviceFallbackWarning` (:func:`compute_device`):
  its numbers do not depend on the device, so refusing would only break deployment.

torch is imported inside the functions, so ``device="cpu"`` with an injected
encoder never imports it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import TYPE_CHECKING

from ..exceptions import DeviceFallbackWarning
from ._precision import PRECISIONS

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"


def resolve_device(device) -> "torch.device":
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into an available device.

    ``"auto"`` picks CUDA when present, the CPU otherwise. Asking for CUDA where
    there is none is an error rather than a silent move to the CPU.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        For an unknown device string, or a CUDA device this machine lacks.
    """
    import torch

    if not isinstance(device, str):
        if isinstance(device, torch.device):
            device = str(device)
        else:
            raise ValueError(f"device must be {DEVICE_CHOICES}; got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device must be {DEVICE_CHOICES}; got {device!r}.") from err
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
        raise ValueError(f"device must be {DEVICE_CHOICES}; got {device!r}.")
    return resolved


def compute_device(device) -> str | None:
    """The CUDA device a fitted estimator computes on, or None for NumPy on the CPU.

    Same choices as :func:`resolve_device`, but a CUDA device missing here falls
    back to the CPU with one :class:`~skclip_sage.exceptions.DeviceFallbackWarning`.

    Parameters
    ----------
    device : str or torch.device

    Returns
    -------
    device : str or None
        ``"cuda"`` or ``"cuda:N"``, or None for the CPU.
    """
    if device == "cpu":
        return None
    if device == "auto" and not cuda_may_be_present():
        # Settled without torch: a pickled classifier predicts on NumPy without its 2-3 s import.
        # An explicit "cuda" always asks torch: the user asked for a GPU, and only torch can tell.
        return None
    try:
        resolved = resolve_device(device)
    except ValueError:
        import torch

        if torch.cuda.is_available() or not str(device).startswith("cuda"):
            raise
        _warn_cpu_fallback(device)
        return None
    return None if resolved.type == "cpu" else str(resolved)


def _warn_cpu_fallback(device) -> None:
    warnings.warn(
        f"device={str(device)!r} but CUDA is not available here (e.g. a model fitted on a GPU host and "
        "loaded on a CPU-only one); computing on the CPU. Set device='auto' to silence this.",
        DeviceFallbackWarning,
        stacklevel=5,  # the estimator's public method's caller
    )


_GPU_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def cuda_may_be_present() -> bool:
    """False when this machine surely has no CUDA device, decided without importing torch.

    Once torch is imported, it is asked (True here: the caller's check follows).
    Otherwise, on Linux a machine torch may see a GPU on has NVIDIA's loaded driver
    (``/proc/driver/nvidia``, or its device files, which appear on first use), AMD's
    ROCm device (``/dev/kfd``, which torch reports as ``cuda``) or WSL's ``/dev/dxg``;
    macOS has no CUDA; elsewhere only torch can tell.

    Examples
    --------
    >>> isinstance(cuda_may_be_present(), bool)
    True
    """
    if "torch" in sys.modules:
        return True
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        return any(os.path.exists(path) for path in _GPU_PATHS)
    return True


def autocast_dtype(precision: str, device: "torch.device") -> "torch.dtype | None":
    """The autocast dtype for ``precision`` on ``device``, or None for full fp32.

    ``"auto"`` means bf16 on GPUs that support it (fp16 on older ones) and fp32 on
    the CPU, where reduced precision is slower, not faster.
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}; got {precision!r} instead.")
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def inference_context(precision: str, device: "torch.device") -> contextlib.AbstractContextManager:
    """``torch.inference_mode`` plus autocast when ``precision`` asks for it."""
    import torch

    dtype = autocast_dtype(precision, device)
    stack = contextlib.ExitStack()
    stack.enter_context(torch.inference_mode())
    if dtype is not None:
        stack.enter_context(torch.autocast(device_type=device.type, dtype=dtype))
    return stack
