"""The code style checks run with the tests, so the README's one test command covers them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*arguments):
    if shutil.which("ruff") is None:
        pytest.fail("ruff is not installed: pip install -e '.[dev]' brings it.")
    return subprocess.run(["ruff", *arguments], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_passes():
    result = _ruff("check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = _ruff("format", "--check", "--no-cache", ".")
    assert result.returncode == 0, f"run 'ruff format .' to fix:\n{result.stdout}{result.stderr}"


# Imports every module of the package under -OO and prints those that fail, one per line.
_IMPORT_ALL_MODULES = """
import importlib, pkgutil, traceback
import skclip_sage
failed = []
for module in pkgutil.walk_packages(skclip_sage.__path__, "skclip_sage."):
    try:
        importlib.import_module(module.name)
    except Exception:
        failed.append(module.name + ": " + traceback.format_exc().strip().splitlines()[-1])
print("\\n".join(failed))
"""


def test_every_module_imports_under_python_OO():
    # -OO sets every docstring to None: code that formats or reads __doc__ at import
    # time (docstring templating) must cope, or `python -OO -m skclip_sage` breaks.
    result = subprocess.run(
        [sys.executable, "-OO", "-c", _IMPORT_ALL_MODULES], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"modules failing under python -OO:\n{result.stdout}"
