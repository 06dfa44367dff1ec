"""The HTML robustness report: self-contained, escaped, capped, and checked in a real browser.

The page of a small evaluation is built from :func:`compare_methods` rows with hostile
user strings (a file named ``<img src=x onerror=alert(1)>.png``, a class ``</table>``,
a group ``<script>``); the browser test opens it in headless Chromium over the DevTools
protocol (``tests/browser.py``). It skips only outside CI when no browser is installed;
under CI (``CI`` set) a missing browser fails it, and ``.ci/run`` installs one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

import numpy as np
import pytest
from browser import find_chromium, load_page
from dataset_fixtures import write_image

from skclip_sage.comparison import (
    build_report_html,
    compare_methods,
    selection_methods,
    single_template_methods,
    write_report_html,
)
from skclip_sage.comparison._ranking import image_worth, rank_rows
from skclip_sage.synthetic import make_spurious_benchmark

HOSTILE_FILE = "<img src=x onerror=alert(1)>.png"
HOSTILE_CLASS = "</table>"
HOSTILE_GROUP = "<script>alert(2)</script>"


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    """A 120-image simulated evaluation with per-image answers, single-template rows and real image files."""
    folder = tmp_path_factory.mktemp("report")
    simulation = make_spurious_benchmark("confidently_wrong", 120, n_templates=4, seed=0)
    group_names = [HOSTILE_GROUP, *simulation.group_names[1:]]
    shared = {"class_names": simulation.class_names, "templates": simulation.templates, "device": "cpu"}
    methods = single_template_methods(simulation.encoder, template_sources=["A", "A", "B", "B"], **shared)
    methods += selection_methods(simulation.encoder, modes=("ensemble", "sage"), k_values=(1, 2), **shared)
    rows = compare_methods(
        methods,
        simulation.data,
        simulation.target,
        groups=simulation.groups,
        group_names=group_names,
        template_sources=["A", "A", "B", "B"],
        keep_predictions=True,
    )
    # The hostile name goes to an image SAGE gets wrong in its worst group, so the page must show it.
    sage = next(row for row in rows if row["mode"] == "sage")
    worst = group_names.index(sage["worst_group"])
    hostile = np.flatnonzero((sage["per_image"]["predictions"] != simulation.target) & (simulation.groups == worst))[0]
    sources = []
    for index in range(len(simulation.target)):
        name = HOSTILE_FILE if index == hostile else f"image_{index:03d}.png"
        path = folder / "images" / f"{index:03d}" / name
        write_image(path, (40 + index, 120, 200 - index))
        sources.append(str(path))
    images = {
        "sources": sources,
        "labels": simulation.target,
        "groups": np.asarray(group_names)[simulation.groups],
        "label_names": {0: HOSTILE_CLASS, 1: "waterbird"},
    }
    return {"rows": rows, "images": images, "folder": folder, "simulation": simulation}


def build(evaluation, **options):
    options = {"title": "simulated <b>birds</b>", "model": "toy", "images": evaluation["images"], **options}
    return build_report_html(evaluation["rows"], **options)


def test_page_is_self_contained_with_a_strict_policy_that_lists_its_script(evaluation):
    page = build(evaluation, run={"command": "skclip-sage evaluate x", "templates": ["{} & co"]})
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    assert (
        "default-src 'none'" in policy
        and "img-src data:" in policy
        and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy  # the one inline script is allowed by its hash alone
    # Nothing is fetched: no external source, stylesheet, font or import (the SVG namespace is a name, not a fetch).
    assert not re.search(r'(src|href)="(https?:|//)', page)
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    assert page.count("<svg") == 2  # the ranking and the templates, inline
    assert '<img src="data:image/' in page


def test_user_strings_are_escaped_everywhere(evaluation):
    page = build(evaluation, run={"command": "evaluate manifest '<b>x</b>.csv'", "templates": ["<i>{}</i>"]})
    assert HOSTILE_FILE not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page
    assert "<script>alert(2)" not in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "&lt;/table&gt;" in page
    assert "simulated &lt;b&gt;birds&lt;/b&gt;" in page and "<b>birds</b>" not in page
    assert "&lt;i&gt;{}&lt;/i&gt;" in page and "<i>{}</i>" not in page
    # Tables open and close in pairs: no user string ended one early.
    assert page.count("<table") == page.count("</table>")
    assert page.count("<script>") == 1


def test_ranking_places_ties_and_image_worth(evaluation):
    rows = evaluation["rows"]
    ranked = rank_rows(rows)
    wgas = [entry["row"]["WGA"] for entry in ranked]
    assert wgas == sorted(wgas, reverse=True)
    for entry in ranked:
        ties = [other for other in ranked if abs(other["row"]["WGA"] - entry["row"]["WGA"]) < 1e-6]
        assert entry["tied"] == len(ties)
        assert entry["place"] == 1 + sum(other["row"]["WGA"] > entry["row"]["WGA"] + 1e-6 for other in ranked)
    worth = image_worth(rows)
    counts = rows[0]["group_counts"]
    assert worth["smallest_count"] == min(count for count in counts.values() if count)
    assert worth["smallest_points"] == pytest.approx(100 / worth["smallest_count"])
    page = build(evaluation)
    assert f"{100 / worth['smallest_count']:.1f} in the smallest group" in page
    assert (
        f"One image is worth {worth['worst_points']:.1f} points of accuracy in the worst group of the best row" in page
    )
    sage = min((entry for entry in ranked if entry["row"]["mode"] == "sage"), key=lambda entry: entry["row"]["k"])
    assert f"is placed {sage['place']} of {len(rows)}" in page or sage["place"] == 1
    # The verdict comes first, then the groups, failures, templates, and what was run.
    order = [page.index(f'<section id="{key}">') for key in ("verdict", "groups", "failures", "templates", "run")]
    assert order == sorted(order)


def test_worst_group_is_marked_in_every_row_of_the_group_table(evaluation):
    page = build(evaluation)
    table = page[page.index('<table id="groups"') : page.index("</table>", page.index('<table id="groups"'))]
    assert table.count('title="worst group"') == len(evaluation["rows"])


def test_failures_show_thumbnails_answers_and_chosen_templates_within_the_caps(evaluation):
    rows = evaluation["rows"]
    page = build(evaluation, max_failures_per_group=2, max_failures=3)
    failures = page[page.index('<section id="failures">') : page.index('<section id="templates">')]
    assert failures.count("<img ") == 3  # the cap in all, below three groups times two
    assert "At most 2 images per group and 3 in all are shown" in failures
    assert "templates chosen for this image:" in failures and "true class p = " in failures
    sage = min((row for row in rows if row["mode"] == "sage"), key=lambda row: row["k"])
    wrong = int(np.sum(sage["per_image"]["predictions"] != evaluation["images"]["labels"]))
    assert wrong > 0
    everything = build(evaluation, max_failures_per_group=1000, max_failures=1000)
    shown = everything[everything.index('<section id="failures">') : everything.index('<section id="templates">')]
    worst_groups = sorted(
        (name for name, value in sage["groups"].items() if value == value), key=sage["groups"].__getitem__
    )[:3]
    in_worst = np.isin(evaluation["images"]["groups"], worst_groups)
    assert shown.count("<img ") == int(
        np.sum((sage["per_image"]["predictions"] != evaluation["images"]["labels"]) & in_worst)
    )


def test_templates_section_has_each_template_and_the_selection_shares(evaluation):
    page = build(evaluation)
    section = page[page.index('<section id="templates">') : page.index('<section id="run">')]
    for text in evaluation["simulation"].templates:
        assert text.replace("{}", "{}") in section
    assert "Selection shares by subset" in section and "all images" in section


def test_without_per_image_answers_the_page_says_so(evaluation):
    rows = [{key: value for key, value in row.items() if key != "per_image"} for row in evaluation["rows"]]
    page = build_report_html(rows, title="t", model="m")
    assert "No per-image answers were kept" in page
    with pytest.raises(ValueError, match="at least one row"):
        build_report_html([], title="t", model="m")


def test_page_size_is_bounded_by_the_caps_not_the_number_of_images(evaluation):
    small = build(evaluation, max_failures_per_group=1, max_failures=1)
    large = build(evaluation, max_failures_per_group=50, max_failures=50)
    assert len(large) > len(small)
    per_thumbnail = (len(large) - len(small)) / max(1, large.count("<img ") - small.count("<img "))
    assert per_thumbnail < 4000  # a thumbnail card costs a few KB at most


def test_write_report_html_replaces_the_file_whole(evaluation, tmp_path):
    path = write_report_html(tmp_path / "report.html", evaluation["rows"], title="t", model="m")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["report.html"]


def require_browser():
    """The Chromium to test with; outside CI a missing one skips, under CI (``CI`` set) it fails."""
    found = find_chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no Chromium was found: .ci/run installs Debian's chromium package; install it.")
        pytest.skip("no Chromium on this machine (CI installs it; apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser():
    return require_browser()


def test_a_missing_browser_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv("SKCLIP_CHROMIUM", str(tmp_path / "no-such-browser"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set but no Chromium"):
        require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_browser()


def test_page_renders_in_a_real_browser_without_errors_or_requests(evaluation, browser, tmp_path):
    page = tmp_path / "report.html"
    write_report_html(page, evaluation["rows"], title="simulated birds", model="toy", images=evaluation["images"])
    screenshot = tmp_path / "report.png"
    result = load_page(
        browser,
        page,
        {
            "ranked_rows": "document.querySelectorAll('#ranked tbody tr').length",
            "thumbnails": "Array.from(document.querySelectorAll('#failures img')).filter(i => i.naturalWidth > 0).length",
            "injected": "document.querySelectorAll('img[src=\"x\"], script').length",
            "hostile_text": "document.body.textContent.includes('<img src=x onerror=alert(1)>.png')",
            "svgs": "document.querySelectorAll('svg.plot').length",
            # The script ran: it unhid the filter boxes and sorts on a click.
            "filters_shown": "Array.from(document.querySelectorAll('input.filter')).every(i => !i.hidden)",
            "sorted": "(function(){var th=document.querySelectorAll('#ranked th')[3]; th.click(); th.click();"
            "var v=Array.from(document.querySelectorAll('#ranked tbody tr')).map(r=>parseFloat(r.cells[3].dataset.v));"
            "return v.every((x,i)=>i===0||v[i-1]<=x);})()",
        },
        screenshot,
    )
    assert result["console"] == [] and result["dialogs"] == []
    assert result["requests"] == []
    values = result["values"]
    assert values["ranked_rows"] == len(evaluation["rows"])
    assert values["thumbnails"] > 0
    assert values["injected"] == 1  # the page's own script only: the file name made no element
    assert values["hostile_text"] is True
    assert values["svgs"] == 2 and values["filters_shown"] is True and values["sorted"] is True
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and screenshot.stat().st_size > 10_000


def test_evaluate_manifest_report_escapes_the_manifest_and_records_the_run(tmp_path, tiny_model, capsys):
    from skclip_sage.cli import main

    data = tmp_path / "data"
    rows = ["path,label,group"]
    for index in range(8):
        name = HOSTILE_FILE if index == 0 else f"image_{index}.png"
        write_image(data / f"{index}" / name, (30 * index, 200 - 20 * index, 90))
        label = HOSTILE_CLASS if index % 2 else "cat"
        rows.append(f"{index}/{name},{label},{'indoors' if index < 4 else HOSTILE_GROUP}")
    (data / "mine.csv").write_text("\n".join(rows) + "\n")
    report = tmp_path / "out" / "report.html"
    arguments = ["evaluate", "manifest", str(data / "mine.csv"), "--compare", "sage,ensemble", "--k", "1", "2"]
    arguments += ["--model", tiny_model, "--pretrained", "none", "--templates", "simple", "-q", "--report", str(report)]
    assert main(arguments) == 0
    capsys.readouterr()
    page = report.read_text(encoding="utf-8")
    assert HOSTILE_FILE not in page and HOSTILE_GROUP not in page and "<td></table>" not in page
    assert "&lt;/table&gt;" in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert page.count("<table") == page.count("</table>")
    ranked = page[page.index('<table id="ranked"') :]
    assert ranked.count("<tr") - 1 >= 3  # sage K=1, sage K=2, ensemble
    assert "sage K=1" in ranked and "sage K=2" in ranked and "ensemble" in ranked
    run = page[page.index('<section id="run">') :]
    assert "skclip-sage evaluate manifest" in run and "--report" in run and "loading the model and embedding" in run
    # The extension is checked before any work.
    assert main([*arguments[:-1], str(tmp_path / "report.txt")]) == 2
    assert "name it *.html" in capsys.readouterr().err


def test_evaluate_report_for_a_built_in_dataset(tmp_path, tiny_model, capsys):
    from dataset_fixtures import make_waterbirds

    from skclip_sage.cli import main

    make_waterbirds(tmp_path / "data", n_per_group=2)
    report = tmp_path / "waterbirds.html"
    arguments = ["evaluate", "waterbirds", str(tmp_path / "data"), "--compare", "sage,ensemble", "--k", "1"]
    arguments += ["--model", tiny_model, "--pretrained", "none", "--templates", "simple", "-q", "--report", str(report)]
    assert main(arguments) == 0
    capsys.readouterr()
    page = report.read_text(encoding="utf-8")
    assert "<h1>Robustness report: waterbirds (test split)</h1>" in page
    ranked = page[page.index('<table id="ranked"') : page.index("</table>", page.index('<table id="ranked"'))]
    assert ranked.count("<tr") == 3  # the header, sage and the ensemble
    groups = page[page.index('<table id="groups"') :]
    assert all(f"{name}<br>n=2" in groups for name in ("landbird_on_land", "waterbird_on_water"))


def _evaluate_result(n_groups, labels, empty=()):
    rng = np.random.default_rng(0)
    names = [f"group_{index}" for index in range(n_groups)]
    runs = []
    for label in labels:
        groups = [
            {
                "name": name,
                "count": 0 if name in empty else 29,
                "accuracy": None if name in empty else float(value),
                "no_samples": name in empty,
            }
            for name, value in zip(names, rng.uniform(50, 100, n_groups))
        ]
        wga = min(group["accuracy"] for group in groups if group["accuracy"] is not None)
        runs.append({"label": label, "summary": {"WGA": wga}, "groups": groups})
    return {"dataset": "manifest", "runs": runs}


@pytest.mark.parametrize(("n_groups", "n_runs"), [(4, 3), (20, 5)])
def test_evaluate_plot_is_readable_at_normal_size(tmp_path, n_groups, n_runs):
    """Issue 23 item 5: no wider than 1920 px, legend above the bars, no word tags, no empty margin."""
    from PIL import Image

    from skclip_sage.cli._plot import plot_group_accuracies

    path = tmp_path / "groups.png"
    result = _evaluate_result(n_groups, [f"run {index}" for index in range(n_runs)], empty=("group_1",))
    plot_group_accuracies(str(path), result)
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"))
    assert 840 <= width <= 1920 and height <= 800
    # The bars fill the width: coloured (non-white, non-black) pixels reach both ends of the axes, with no
    # legend column to their right and no empty group slot on the left.
    coloured = np.flatnonzero(((pixels > 40) & (pixels < 230)).any(axis=0))
    assert coloured[0] < 0.12 * width and coloured[-1] > 0.9 * width
    svg = tmp_path / "groups.svg"
    plot_group_accuracies(str(svg), result)
    text = svg.read_text()
    assert "worst group of the run" in text and "WGA excludes 1 group(s)" in text
    assert text.count("<!-- WGA -->") == 0  # worst groups are marked with a triangle, not colliding words


def test_results_png_ranked_panel_draws_every_method_row_once(evaluation):
    """Issue 23 item 5: each method visible in results.png, whatever its K (no line hidden under another)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    from skclip_sage.comparison._plot import draw_ranked_bars
    from skclip_sage.comparison._ranking import method_label

    rows = evaluation["rows"]
    methods = [row for row in rows if row.get("template") is None]
    figure, axis = pyplot.subplots()
    draw_ranked_bars(axis, rows, shown=methods)
    labels = [tick.get_text() for tick in axis.get_yticklabels()]
    pyplot.close(figure)
    assert len(axis.patches) == len(methods)
    places = {id(entry["row"]): entry["place"] for entry in rank_rows(rows)}
    expected = [entry["row"] for entry in rank_rows(rows) if entry["row"].get("template") is None]
    # Top to bottom, best first; places are among all rows, as results.md gives them.
    assert labels == [f"{places[id(row)]}. {method_label(row, rows)}" for row in expected]
