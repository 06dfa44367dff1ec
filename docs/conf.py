"""Sphinx configuration for skclip-sage.

The site builds offline (no intersphinx: nothing is fetched), reads offline (maths
is drawn into the pages at build time, no MathJax from a CDN) and with warnings as
errors (``sphinx-build -W``; ``tests/test_docs.py`` runs exactly that). The API
reference is generated from the numpydoc docstrings: at start-up this file writes
one page per public module into ``api/generated/`` (git-ignored), listing the
module's ``__all__`` in an autosummary table; autosummary then writes a page per
object. A module is listed only if it imports, so subpackages still being written
(``synthetic``, ``distributed``, ``cli``) appear as soon as they exist and never
break the build before.

Examples are ``.. code-block:: python`` blocks, executed by ``tests/test_docs.py``
(each in a fresh namespace and temporary folder; ``:class: continue`` carries on from
the previous block of the page, ``:class: no-run`` marks a block that needs
downloaded weights or data, ``:class: gpu`` one that needs CUDA; a block starting
with ``>>>`` is a doctest). See that file's docstring.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))  # offline_math

import skclip_sage  # noqa: E402

project = "skclip-sage"
author = "the skclip-sage developers"
copyright = "2026, the skclip-sage developers"
release = skclip_sage.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "offline_math",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_figures", "_ext"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_title = f"skclip-sage {release}"
html_theme_options = {
    "description": "Robust zero-shot CLIP classification with SAGE, for scikit-learn",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
# Maths is drawn at build time into the pages (_ext/offline_math.py): nothing is
# fetched by the reader's browser, unlike MathJax from a CDN.
html_math_renderer = "offline"

# -- autodoc / autosummary / numpydoc ------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # types are written in the numpydoc sections
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# -- strictness -------------------------------------------------------------------------
nitpicky = True
# Without intersphinx (the build is offline) references to other projects cannot
# resolve; they are rendered as text instead of failing the build.
_EXTERNAL = r"(numpy|np|torch|PIL|sklearn|pandas|dask|distributed|open_clip|safetensors|joblib|skops|os|pathlib|typing|collections)(\..*)?"
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL),
    (r"py:.*", r"(ndarray|array-like|callable|path-like|dict|list|str|int|float|bool|tuple|None|Bunch)"),
    # A private base class (shown by :show-inheritance:) has no page of its own.
    (r"py:class", r"skclip_sage\.(\w+\.)*_\w+\.\w+"),
]

# -- API pages ----------------------------------------------------------------------------
# (module, title, one-line role). Order is the order of the API reference.
API_MODULES = [
    ("skclip_sage", "Estimators", "The two scikit-learn estimators."),
    ("skclip_sage.encoders", "Encoders", "Loading CLIP models and the encoder protocol."),
    ("skclip_sage.selection", "Template selection", "The pure array math of SAGE and its baselines."),
    ("skclip_sage.prompts", "Prompts", "Template sets, class names and the encoded text bank."),
    ("skclip_sage.metrics", "Metrics", "Worst-group accuracy and the other robustness metrics; scorers."),
    ("skclip_sage.datasets", "Datasets", "Loaders for Waterbirds, CelebA, PACS, VLCS, image folders and your CSVs."),
    ("skclip_sage.io", "Image input", "Opening images defensively; the in-memory embedding store."),
    ("skclip_sage.exceptions", "Exceptions and warnings", "Typed errors and warnings."),
    ("skclip_sage.synthetic", "Synthetic data", "The spurious-bias simulator."),
    ("skclip_sage.debias", "Debiasing", "RoboShot, TIE* and orthogonal projection of the text embeddings."),
    ("skclip_sage.comparison", "Comparison", "Evaluating selection and debiasing methods side by side."),
    ("skclip_sage.demo", "Learned demo", "Coloured digits, their captions and a tiny CLIP trained on them."),
    ("skclip_sage.distributed", "Distributed", "Scaling out with Dask."),
    ("skclip_sage.cli", "Command line", "The ``skclip-sage`` entry point."),
]

GENERATED = DOCS / "api" / "generated"


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        return []
    # Constants (e.g. IMAGE_EXTENSIONS) have no docstring of their own: list callables
    # and classes, which carry the numpydoc documentation.
    public = []
    for name in names:
        obj = getattr(module, name)
        if callable(obj):
            public.append(name)
    return public


def importable_api_modules():
    """The ``API_MODULES`` entries whose module imports, and the names each exports."""
    found = []
    for name, title, role in API_MODULES:
        try:
            module = importlib.import_module(name)
        except Exception:  # absent, or half-written by a concurrent change: leave it out
            continue
        found.append((name, title, role, _public_names(module)))
    return found


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_pages():
    # Pages left over from a module or name that no longer exists would be orphan
    # documents, which -W turns into a failed build, so they are removed; the others
    # are rewritten only when they change, never deleted first: a build running at
    # the same time in this tree (a second test run) may be reading them.
    # autosummary writes the per-object pages after this file has run.
    GENERATED.mkdir(parents=True, exist_ok=True)
    toctree = [".. toctree::", "   :maxdepth: 1", ""]
    expected = {"modules.rst.inc"}
    for name, title, role, names in importable_api_modules():
        heading = f"{title}: ``{name}``"
        lines = [
            f".. _api-{name}:",
            "",
            heading,
            "=" * len(heading),
            "",
            f".. automodule:: {name}",
            "   :no-members:",
            "",
            f".. currentmodule:: {name}",
            "",
            ".. autosummary::",
            "   :toctree: .",
            "   :nosignatures:",
            "",
        ]
        lines += [f"   {item}" for item in names]
        _write_if_changed(GENERATED / f"module-{name}.rst", "\n".join(lines) + "\n")
        toctree.append(f"   generated/module-{name}")
        expected |= {f"module-{name}.rst", *(f"{name}.{item}.rst" for item in names)}
    _write_if_changed(GENERATED / "modules.rst.inc", "\n".join(toctree) + "\n")
    for stale in set(os.listdir(GENERATED)) - expected:
        with contextlib.suppress(FileNotFoundError):  # a concurrent build removed it first
            (GENERATED / stale).unlink()


write_api_pages()


# -- docstring hooks ---------------------------------------------------------------------
import re  # noqa: E402

_SHAPE = re.compile(r"shape \(([^()]*)\)")
_FITTED_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?![`\w])")


def _quote_fitted_names(match):
    return "shape (" + _FITTED_NAME.sub(r"``\1``", match.group(1)) + ")"


def quote_fitted_names_in_shapes(app, what, name, obj, options, lines):
    """Render ``ndarray of shape (n_features_in_,)`` as written, not as a link target.

    scikit-learn-style shapes name fitted attributes, whose trailing underscore is
    reST's reference syntax; docstrings keep the plain spelling that reads well in
    ``help()``, and the docs quote those names.
    """
    lines[:] = [_SHAPE.sub(_quote_fitted_names, line) for line in lines]


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document only the methods skclip-sage defines.

    Members inherited from scikit-learn (``get_params``, ``set_params``, ``score``,
    the ``set_*_request`` methods of metadata routing) are documented by
    scikit-learn and reference its own user guide; the estimator pages say so.
    """
    if what != "class" or skip:
        return skip
    module = getattr(obj, "__module__", None) or ""
    if callable(obj) and not module.startswith("skclip_sage"):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", quote_fitted_names_in_shapes, priority=400)
    app.connect("autodoc-skip-member", skip_foreign_members)
