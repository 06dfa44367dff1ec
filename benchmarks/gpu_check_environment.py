"""Print the versions gpu_check.sh depends on, and whether torch sees a GPU."""

import importlib
import platform

MODULES = [
    "torch",
    "torchvision",
    "open_clip",
    "ftfy",
    "sklearn",
    "numpy",
    "PIL",
    "pandas",
    "safetensors",
    "tqdm",
    "pytest",
]

print("python", platform.python_version())
for name in MODULES:
    try:
        module = importlib.import_module(name)
        print(f"{name:12s} {getattr(module, '__version__', '?')}")
    except Exception as err:  # report and go on: the later steps say what fails
        print(f"{name:12s} MISSING ({type(err).__name__}: {err})")

import torch  # noqa: E402  (after the report, so a missing torch is listed first)

device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
print(f"cuda available: {torch.cuda.is_available()}, CUDA {torch.version.cuda}, {device}")
