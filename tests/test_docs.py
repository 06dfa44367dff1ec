"""The documentation builds cleanly and every example in it runs.

Conventions for examples (also stated in ``docs/conf.py``):

- In ``docs/**/*.rst``, every ``.. code-block:: python`` is executed, each in a
  fresh namespace and a fresh temporary working directory, unless its options
  carry ``:class: no-run`` (it needs downloaded weights, a real dataset or a GPU).
  ``no-run`` blocks must still compile.
- A block with ``:class: gpu`` runs only where CUDA is available (it is skipped,
  not faked, elsewhere); it still must compile.
- A block with ``:class: continue`` runs in the namespace (and directory) left by
  the previous runnable block of the same page, like the next cell of a notebook.
- A block with ``:class: demo`` uses what ``skclip-sage demo --output results`` leaves
  (the trained model, the benchmark, the templates): it runs with ``results/`` linked
  to the test session's fast demo run (``tests/demo_fixtures.py``).
- A block whose text starts with ``>>>`` is a doctest: its printed output is
  compared (``ELLIPSIS`` and ``NORMALIZE_WHITESPACE`` on). Other blocks are
  executed as scripts and check themselves with ``assert``.
- In ``README.md``, every fenced ``python`` block runs the same way unless it uses
  real pretrained weights or the user's own images (it contains
  ``pretrained="laion2b`` or ``image_paths``) or is preceded by an
  ``<!-- no-run -->`` comment; skipped blocks must still compile.

Every block runs inside ``sklearn.config_context()`` so that an example calling
``sklearn.set_config`` (metadata routing) leaves the global configuration as it was.
"""

from __future__ import annotations

import csv
import doctest
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

RUN_COMMAND = 'pip install -e ".[plot]" && skclip-sage demo --output results'
SIMULATOR_COMMAND = "python benchmarks/reproduce_paper.py --simulate theory_holds --output results_simulation"
TEST_COMMAND = 'pip install -e ".[dev]" && pytest'
README_NO_RUN_MARKERS = ('pretrained="laion2b', "image_paths")
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass
class Snippet:
    """One code block: where it is, its language, its classes and its code."""

    source: Path
    line: int
    language: str
    code: str
    classes: set = field(default_factory=set)

    @property
    def id(self):
        return f"{self.source.relative_to(ROOT)}:{self.line}"

    @property
    def runnable(self):
        return self.language == "python" and "no-run" not in self.classes


# -- parsing ----------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<language>\S+)\s*$")
_OPTION = re.compile(r"^\s+:(?P<name>[\w-]+):\s*(?P<value>.*)$")


def rst_snippets(path: Path) -> list[Snippet]:
    """Every ``.. code-block::`` of a reST file, with its ``:class:`` values."""
    lines = path.read_text(encoding="utf-8").splitlines()
    snippets = []
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        index += 1
        if not match:
            continue
        indent = len(match["indent"])
        classes = set()
        while index < len(lines) and _OPTION.match(lines[index]):
            option = _OPTION.match(lines[index])
            if option["name"] == "class":
                classes.update(option["value"].split())
            index += 1
        body = []
        start = index + 1
        while index < len(lines):
            line = lines[index]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line)
            index += 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        snippets.append(Snippet(path, start, match["language"], code, classes))
    return snippets


_FENCE = re.compile(r"^```(?P<language>\w*)\s*$")


def markdown_snippets(path: Path) -> list[Snippet]:
    """Every fenced block of a Markdown file; ``<!-- no-run -->`` just before marks it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    snippets = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match or not match["language"]:
            index += 1
            continue
        previous = next((line.strip() for line in reversed(lines[:index]) if line.strip()), "")
        start = index + 1
        end = start
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        code = "\n".join(lines[start:end]).strip("\n") + "\n"
        classes = {"no-run"} if previous == "<!-- no-run -->" else set()
        if any(marker in code for marker in README_NO_RUN_MARKERS):
            classes.add("no-run")
        snippets.append(Snippet(path, start + 1, match["language"], code, classes))
        index = end + 1
    return snippets


def doc_pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.rst") if "generated" not in path.parts and "_build" not in path.parts)


def runnable_chains(snippets: list[Snippet]) -> list[list[Snippet]]:
    """Group runnable snippets: each starts a chain, ``continue`` blocks extend it."""
    chains: list[list[Snippet]] = []
    for snippet in snippets:
        if not snippet.runnable:
            continue
        if "continue" in snippet.classes:
            if not chains:
                raise AssertionError(f"{snippet.id}: ':class: continue' but no runnable block before it")
            chains[-1].append(snippet)
        else:
            chains.append([snippet])
    return chains


def _all_doc_snippets():
    return [snippet for page in doc_pages() for snippet in rst_snippets(page)]


DOC_CHAINS = [chain for page in doc_pages() for chain in runnable_chains(rst_snippets(page))]
README_SNIPPETS = [snippet for snippet in markdown_snippets(README) if snippet.language == "python"]


# -- running ----------------------------------------------------------------------------


def run_snippet(snippet: Snippet, namespace: dict) -> None:
    """Execute one snippet (a script, or a doctest when it starts with ``>>>``)."""
    if snippet.code.lstrip().startswith(">>>"):
        parser = doctest.DocTestParser()
        test = parser.get_doctest(snippet.code, namespace, snippet.id, str(snippet.source), snippet.line)
        runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
        output = []
        runner.run(test, out=output.append, clear_globs=False)
        if runner.failures:
            pytest.fail(f"doctest in {snippet.id} failed:\n{''.join(output)}", pytrace=False)
    else:
        exec(compile(snippet.code, snippet.id, "exec"), namespace)


def run_chain(chain: list[Snippet], workdir: Path, monkeypatch) -> None:
    """Run snippets in one namespace, in ``workdir``, leaving global state as it was.

    Examples may call ``sklearn.set_config`` or ``torch.manual_seed``; the
    scikit-learn configuration and the global NumPy and torch random states are
    restored afterwards so that no other test sees a difference.
    """
    import numpy as np
    import sklearn
    import torch

    monkeypatch.chdir(workdir)
    namespace = {"__name__": "__docs__"}
    numpy_state = np.random.get_state()
    torch_state = torch.random.get_rng_state()
    try:
        with sklearn.config_context():
            for snippet in chain:
                run_snippet(snippet, namespace)
    finally:
        np.random.set_state(numpy_state)
        torch.random.set_rng_state(torch_state)


# -- the build --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build the HTML site once: ``sphinx-build -W --keep-going -q -E``."""
    pytest.importorskip("sphinx", reason="the docs tools come with the [docs] (and [dev]) extra")
    pytest.importorskip("numpydoc", reason="the docs tools come with the [docs] (and [dev]) extra")
    output = tmp_path_factory.mktemp("html")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html", str(DOCS), str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    seconds = time.perf_counter() - start
    return result, output, seconds


def test_maths_is_drawn_into_the_pages(built_docs):
    """Formulas render offline: drawn at build time, no MathJax script from a CDN."""
    _, output, _ = built_docs
    pages = {path.name: path.read_text(encoding="utf-8") for path in output.rglob("*.html")}
    assert not [name for name, text in pages.items() if "mathjax" in text.lower()]
    method = pages["method.html"]
    assert method.count('<img class="math"') >= 20 and "math-source" not in method
    assert 'alt="\\operatorname{sep}[t] = \\max_c s[t, c] - \\min_c s[t, c]"' in method


# The paper's arXiv title; the method it names is "Spuriousness-Aware Guided Exploration".
PAPER_TITLE = "SAGE: Spuriousness-Aware Guided Prompt Exploration for Mitigating Multimodal Bias"


def test_one_spelling_of_the_papers_title():
    texts = {
        path.relative_to(ROOT): " ".join(path.read_text(encoding="utf-8").split())
        for pattern in ("skclip_sage/**/*.py", "docs/**/*.rst", "benchmarks/**/*.py", "benchmarks/*.md", "*.md")
        for path in ROOT.glob(pattern)
    }
    for path, text in texts.items():
        # Any other title starting like the paper's, e.g. "... Guided Exploration for mitigating ...".
        for match in re.finditer(r"Spuriousness-Aware Guided (Prompt )?Exploration( for[^.\"*]*)?", text):
            assert match.group(0) in (PAPER_TITLE[6:], "Spuriousness-Aware Guided Exploration"), (path, match.group(0))


def test_docs_build_without_warnings(built_docs):
    result, _, _ = built_docs
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stderr}\n{result.stdout}"
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr


CORE_MODULES = (
    "skclip_sage",
    "skclip_sage.encoders",
    "skclip_sage.metrics",
    "skclip_sage.datasets",
    "skclip_sage.io",
    "skclip_sage.exceptions",
)


def test_api_reference_lists_every_public_object(built_docs):
    """Every public callable of the core modules is listed, and each listed name has a page."""
    import importlib

    result, output, _ = built_docs
    assert result.returncode == 0, result.stderr
    generated = DOCS / "api" / "generated"
    listed = {}
    for page in generated.glob("module-*.rst"):
        module = page.stem.removeprefix("module-")
        text = page.read_text()
        listed[module] = re.findall(r"^   (\w+)$", text.split(".. autosummary::", 1)[1], flags=re.MULTILINE)
    assert set(CORE_MODULES) <= set(listed), sorted(listed)
    for module in CORE_MODULES:
        imported = importlib.import_module(module)
        public = {name for name in imported.__all__ if callable(getattr(imported, name))}
        assert public <= set(listed[module]), f"{module}: {sorted(public - set(listed[module]))} not in the API"
    missing = [
        f"{module}.{name}"
        for module, names in listed.items()
        for name in names
        if not (output / "api" / "generated" / f"{module}.{name}.html").exists()
    ]
    assert not missing, f"no API page for {missing}"


def test_pages_are_all_present(built_docs):
    _, output, _ = built_docs
    expected = [
        "index",
        "getting_started",
        "benchmarks",
        "scaling_out",
        "reliability",
        "api/index",
        "user_guide/index",
        "user_guide/method",
        "user_guide/selection",
        "user_guide/pipelines",
        "user_guide/model_selection",
        "user_guide/caching",
        "user_guide/gpu",
        "user_guide/persistence",
        "user_guide/cli",
        "user_guide/models",
        "user_guide/debiasing",
        "user_guide/demo",
        "user_guide/evaluation",
        "user_guide/training_free",
    ]
    missing = [page for page in expected if not (output / f"{page}.html").exists()]
    assert not missing, missing


def test_docs_build_is_quick(built_docs):
    result, _, seconds = built_docs
    assert result.returncode == 0, result.stderr
    assert seconds < 120, f"the docs took {seconds:.0f} s to build"


# -- the examples -----------------------------------------------------------------------


def test_examples_are_found():
    """The parser sees the examples (guards against a silently empty parametrization)."""
    assert len(DOC_CHAINS) >= 10
    assert any(snippet.code.lstrip().startswith(">>>") for chain in DOC_CHAINS for snippet in chain)


def _cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _chain_marks(chain):
    if any("gpu" in snippet.classes for snippet in chain):
        return [pytest.mark.gpu, pytest.mark.skipif(not _cuda_available(), reason="needs CUDA")]
    return []


@pytest.mark.parametrize(
    "chain", [pytest.param(chain, marks=_chain_marks(chain), id=chain[0].id) for chain in DOC_CHAINS]
)
def test_doc_example_runs(chain, tmp_path, monkeypatch, tmp_path_factory):
    if any("demo" in snippet.classes for snippet in chain):
        from demo_fixtures import demo_run

        (tmp_path / "results").symlink_to(demo_run(tmp_path_factory).benchmark.folder.parent)
    run_chain(chain, tmp_path, monkeypatch)


def test_no_run_examples_compile():
    """Examples that are not executed (real weights, data) are at least valid Python."""
    python = [snippet for snippet in _all_doc_snippets() if snippet.language == "python"]
    assert any(not snippet.runnable for snippet in python), "expected some no-run examples (real weights)"
    for snippet in python:
        if not snippet.code.lstrip().startswith(">>>"):
            compile(snippet.code, snippet.id, "exec")


def test_only_known_code_block_languages():
    """A typo such as ``.. code-block:: pyhton`` would silently skip an example."""
    languages = {snippet.language for snippet in _all_doc_snippets()}
    assert languages <= {"python", "console", "bash", "text", "none", "json"}, languages


# -- the README -------------------------------------------------------------------------


def test_readme_has_exactly_the_two_setup_commands():
    commands = [
        snippet.code.strip() for snippet in markdown_snippets(README) if snippet.language in ("bash", "sh", "console")
    ]
    assert commands == [RUN_COMMAND, TEST_COMMAND]


@pytest.mark.parametrize("page", [README, DOCS / "index.rst"], ids=["README", "index"])
def test_every_selection_mode_is_named(page):
    """The pages that list the selection modes list all of them: the table is the source."""
    from skclip_sage.selection import SELECTIONS

    text = page.read_text(encoding="utf-8")
    missing = [name for name in SELECTIONS if f'"{name}"' not in text]
    assert not missing, f"{page.name} does not name the selection modes {missing}"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert TEST_COMMAND in [line.strip() for line in ci.splitlines()]


@pytest.mark.parametrize("snippet", README_SNIPPETS, ids=[snippet.id for snippet in README_SNIPPETS])
def test_readme_python_block(snippet, tmp_path, monkeypatch):
    compile(snippet.code, snippet.id, "exec")
    if not snippet.runnable:
        pytest.skip("needs real pretrained weights or the reader's own images (compiled only)")
    run_chain([snippet], tmp_path, monkeypatch)


def readme_cli_commands():
    """The arguments of every ``skclip-sage ...`` line of the README's text blocks (continuations joined)."""
    commands = []
    for snippet in markdown_snippets(README):
        if snippet.language == "text":
            for line in snippet.code.replace("\\\n", " ").splitlines():
                if line.strip().startswith("skclip-sage "):
                    commands.append(shlex.split(line)[1:])
    return commands


def test_readme_cli_examples_run_as_written_on_the_demo_model(tmp_path, tmp_path_factory, monkeypatch, capsys):
    """The README's command lines run as written, with the demo's model and images as the user's files.

    Issue 15: ``evaluate manifest mine.csv ... --json out/report.json`` exited 3 on a
    fresh checkout because ``out/`` did not exist; every command now creates the
    folders of its outputs.
    """
    from demo_fixtures import demo_run

    from skclip_sage.cli import main

    results = demo_run(tmp_path_factory).benchmark.folder.parent
    commands = readme_cli_commands()
    assert {arguments[0] for arguments in commands} >= {"evaluate", "classify"}, commands
    monkeypatch.chdir(tmp_path)
    # The files the examples name, made from the demo's test split: a manifest of path, label and
    # group, a text per label, and a folder of photos.
    with open(results / "coloured_digits" / "test.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    with open("mine.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "label", "group"])
        writer.writerows([results / "coloured_digits" / row["path"], row["label"], row["group"]] for row in rows)
    Path("names.json").write_text(json.dumps({row["label"]: f"the digit {row['label']}" for row in rows}))
    Path("photos").mkdir()
    for row in rows[:6]:
        shutil.copy(results / "coloured_digits" / row["path"], Path("photos") / Path(row["path"]).name)
    for arguments in commands:
        code = main([*arguments, "--model", f"local-dir:{results / 'model'}", "--quiet"])
        assert code == 0, f"skclip-sage {shlex.join(arguments)}: exit {code}\n{capsys.readouterr().err}"
        written = [arguments[index + 1] for index, word in enumerate(arguments) if word in OUTPUT_OPTIONS]
        assert written and all(Path(path).is_file() for path in written), written


OUTPUT_OPTIONS = ("-o", "--output", "--json", "--csv", "--predictions", "--plot")


@pytest.fixture(scope="module")
def reproduce_paper_help():
    """``benchmarks/reproduce_paper.py --help``, or a skip while the script does not exist."""
    script = ROOT / "benchmarks" / "reproduce_paper.py"
    if not script.exists():
        pytest.skip("benchmarks/reproduce_paper.py is not written yet")
    result = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_run_command_uses_existing_options(capsys):
    """The README's run command is a ``skclip-sage`` command that accepts the options it passes."""
    from skclip_sage.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    demo_help = capsys.readouterr().out
    for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", RUN_COMMAND.split("skclip-sage demo", 1)[1]):
        assert option in demo_help, option


def test_readme_keeps_the_simulator_documented(reproduce_paper_help):
    """The simulator run stays in the README (as text) with options the script accepts."""
    assert f"`{SIMULATOR_COMMAND}`" in README.read_text(encoding="utf-8")
    for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", SIMULATOR_COMMAND):
        assert option in reproduce_paper_help, option
    assert "theory_holds" in reproduce_paper_help


# -- the figure -------------------------------------------------------------------------


def test_selection_figure_is_current():
    """``docs/_static/sage_selection.svg`` is what ``docs/_figures/selection_figure.py`` draws."""
    sys.path.insert(0, str(DOCS / "_figures"))
    try:
        import selection_figure
    finally:
        sys.path.remove(str(DOCS / "_figures"))
    committed = (DOCS / "_static" / "sage_selection.svg").read_text(encoding="utf-8")
    assert selection_figure.render() == committed, "run: python docs/_figures/selection_figure.py"


def _console_commands(program):
    """``(page, command line)`` for every ``$ <program> ...`` line of the docs' console blocks."""
    found = []
    for page in doc_pages():
        for snippet in rst_snippets(page):
            if snippet.language != "console":
                continue
            for line in snippet.code.splitlines():
                line = line.strip()
                if line.startswith("$") and program in line:
                    found.append((snippet.id, line.split(program, 1)[1]))
    return found


def test_cli_examples_use_existing_commands_and_options(capsys):
    """Every ``skclip-sage COMMAND --option`` the docs show exists in that command's ``--help``."""
    cli = pytest.importorskip("skclip_sage.cli", reason="the CLI is not written yet")
    shown = _console_commands("skclip-sage")
    assert shown, "the docs show no skclip-sage command"
    helps = {}
    for where, arguments in shown:
        words = arguments.split()
        command = words[0] if words and not words[0].startswith("-") else None
        key = command or ""
        if key not in helps:
            with pytest.raises(SystemExit):
                cli.main(([command] if command else []) + ["--help"])
            helps[key] = capsys.readouterr().out
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", arguments):
            assert option in helps[key], f"{where}: 'skclip-sage {key}' has no option {option}"
    assert {"classify", "evaluate", "embed", "templates"} <= set(helps)


def test_benchmark_examples_use_existing_options(reproduce_paper_help):
    """The ``reproduce_paper.py`` command lines of the docs only use options it has."""
    shown = _console_commands("benchmarks/reproduce_paper.py")
    assert shown
    for where, arguments in shown:
        for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", arguments):
            assert option in reproduce_paper_help, f"{where}: reproduce_paper.py has no option {option}"


# -- issue 23 section 3: the logging recipe works after a model load ---------------------------------


def test_the_logging_recipe_shows_the_counts_in_a_fresh_process_that_loaded_a_model(tiny_model, tmp_path):
    """open_clip's root ``logging.info`` during a load installs a WARNING root handler, which
    turns a plain ``basicConfig(level=INFO)`` into a no-op; the documented recipe must still show the line."""
    page = DOCS / "user_guide" / "pipelines.rst"
    recipe = next(snippet.code for snippet in rst_snippets(page) if "logging.basicConfig" in snippet.code)
    script = "\n".join(
        [
            "from PIL import Image",
            "from skclip_sage import ClipImageEmbedder",
            "from skclip_sage.encoders import load_encoder",
            f"model = {tiny_model!r}",
            "load_encoder(model, device='cpu')",
            "import logging",
            "assert logging.getLogger().handlers, 'the load no longer installs a root handler: rethink this test'",
            "Image.new('RGB', (40, 30), 'red').save('red.png')",
            "photos = ['red.png']",
            recipe,
        ]
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = "skclip_sage: ClipImageEmbedder: 1 images, 0 from memory, 0 from cache_dir, 1 through the model"
    assert expected in result.stderr, result.stderr[-3000:]


def test_help_examples_keep_their_line_continuations(capsys):
    """A ``\\`` at the end of an example line in the source must reach ``--help`` (issue 23 section 6):
    a single backslash before the newline joined two example lines into one run of spaces."""
    from skclip_sage.cli import main

    for command in ("classify", "evaluate", "embed", "templates", "demo", "models"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        lines = capsys.readouterr().out.splitlines()
        for previous, line in zip(lines, lines[1:]):
            if line.lstrip().startswith("skclip-sage "):
                assert not re.search(r"\S {4,}--", line), f"{command} --help: joined example {line!r}"
            if line.startswith("      --") and previous.lstrip().startswith("skclip-sage "):
                assert previous.endswith("\\"), f"{command} --help: {previous!r} lost its continuation"
