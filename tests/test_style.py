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


def _imports_of_other_subpackages_private_modules():
    """``(importing module, imported module)`` where a subpackage's private module is imported from outside it.

    A private module is one whose dotted name has a part starting with ``_``; ``utils``
    is the shared base, and the top level's own private modules (the estimators) are
    its public names' homes, so neither counts.
    """
    import ast

    package = ROOT / "skclip_sage"
    found = set()
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package).with_suffix("").parts)
        own = parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 0:
                if not (node.module or "").startswith("skclip_sage."):
                    continue
                target = node.module.split(".")[1:]
            else:
                target = own[: len(own) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            if len(target) < 2 or target[0] == "utils" or (own and target[0] == own[0]):
                continue
            if any(part.startswith("_") for part in target):
                found.add(("/".join(parts), ".".join(target)))
    return found


# Each one left, and why its subpackage's public face does not serve it.
PRIVATE_IMPORTS_LEFT = {
    # The embedder runs the encoders' DataLoader plumbing; publishing it would widen encoders' API for one client.
    ("_embedder", "encoders._image_batches"),
    # --class-names FILE.csv reads the strict CSV reader of the dataset loaders; the file format is the CLI's.
    ("cli/_text_inputs", "datasets._csv"),
}


def test_other_subpackages_private_modules_are_imported_only_where_listed():
    # Issue 22: a subpackage's public face serves its clients (the CLI and the demo read manifests
    # through skclip_sage.datasets, the demo ranks rows through skclip_sage.comparison).
    found = _imports_of_other_subpackages_private_modules()
    assert found <= PRIVATE_IMPORTS_LEFT, sorted(found - PRIVATE_IMPORTS_LEFT)
    assert len(PRIVATE_IMPORTS_LEFT) <= 5
