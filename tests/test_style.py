"""The code style checks run with the tests, so the README's one test command covers them."""

import shutil
import subprocess
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
