"""One self-contained HTML page per evaluation: verdict, groups, failures, templates, what was run.

The page opens from disk with nothing from the network: styles, the one script and
the plots (SVG) are inline, the thumbnails are ``data:`` URIs, and a
Content-Security-Policy meta tag forbids everything else (no fetch, no font, no
frame; the script runs only because its SHA-256 is listed; inline styles are allowed
because matplotlib's SVG styles each shape with a ``style`` attribute, and a style can
load nothing when nothing external is allowed). Every string from the
user's data (file names, class and group names, templates, manifest cells) goes
through :func:`html.escape`, so a file named ``<img src=x onerror=alert(1)>.png``
is shown as text. The page reads without JavaScript; the script only sorts the
tables and filters the methods.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import importlib.metadata
import platform
import time
from html import escape
from pathlib import Path

from ..io import write_atomically
from ._html_failures import failures_section
from ._html_tables import groups_table, ranked_table, templates_section
from ._ranking import rank_rows, ranking_points, sage_place

__all__ = ["build_report_html", "write_report_html"]

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;background:#fff;margin:0 auto;
max-width:1180px;padding:0 1.2em 3em}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:1.2em 0 .4em}nav a{margin-right:1em}.lead{font-size:1.05em;padding-left:1.2em}.lead li{margin:.2em 0}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}th,td{padding:2px 8px;border-bottom:1px solid #eee}
th{background:#f4f4f4;text-align:left;position:sticky;top:0}td.n,th.n{text-align:right}
.scroll{overflow:auto;max-height:36em;border:1px solid #eee}tr.sage td{background:#fff1e6;font-weight:600}
tr.best td{background:#e8f4ea}td.worst{background:#fbe3e3;font-weight:700}
.failures{display:flex;flex-wrap:wrap;gap:10px}.failure{margin:0;width:230px;border:1px solid #ddd;padding:6px;
font-size:12px}.failure img{image-rendering:pixelated;width:96px;height:96px;object-fit:contain;background:#000}
.name{overflow-wrap:anywhere;color:#555}.wrong{color:#a50f15}.right{color:#006d2c}.chosen ul{margin:2px 0;
padding-left:1.2em}svg.plot{width:100%;height:auto;max-width:900px}th[data-sort]{cursor:pointer}
.missing{width:96px;height:96px;background:#eee;font-size:11px}code{overflow-wrap:anywhere}
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-sort]").forEach(function (header, column) {
    header.title = "sort by this column";
    header.tabIndex = 0;
    header.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); header.click(); }
    });
    header.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var descending = header.getAttribute("aria-sort") !== "descending";
      table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var index = header.cellIndex;
      rows.sort(function (a, b) {
        var x = a.cells[index].getAttribute("data-v"), y = b.cells[index].getAttribute("data-v");
        var result = (x !== null && y !== null) ? parseFloat(x) - parseFloat(y)
          : a.cells[index].textContent.localeCompare(b.cells[index].textContent);
        return descending ? -result : result;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
document.querySelectorAll("input.filter").forEach(function (input) {
  var table = document.getElementById(input.getAttribute("data-table"));
  input.hidden = false;
  input.addEventListener("input", function () {
    var query = input.value.toLowerCase();
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      row.hidden = query !== "" && row.cells[1].textContent.toLowerCase().indexOf(query) < 0;
    });
  });
});
"""


def _versions():
    found = {"python": platform.python_version()}
    for name in ("skclip-sage", "numpy", "scikit-learn", "torch", "open_clip_torch", "transformers", "matplotlib"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _verdict(rows):
    """The ranking in sentences, as ``results.md`` states it."""
    items = "".join(f"<li>{escape(point)}</li>" for point in ranking_points(rows))
    return f'<ul class="lead">{items}</ul>'


def _run_section(rows, model, pretrained, run, build_seconds):
    run = dict(run or {})
    items = [("model", model + (f" ({pretrained})" if pretrained else ""))]
    items.append(("images evaluated", str(rows[0]["n_images"])))
    items.append(("groups", str(len(rows[0]["groups"]))))
    items.append(("methods (rows)", f"{len(rows)}: " + ", ".join(dict.fromkeys(row["mode"] for row in rows))))
    items.append(("K", ", ".join(str(k) for k in sorted({row["k"] for row in rows} - {None})) or "none"))
    templates = run.pop("templates", None)
    timings = dict(run.pop("timings", None) or {})
    timings["fitting and scoring, all rows"] = sum(row.get("seconds") or 0.0 for row in rows)
    for key, value in run.items():
        items.append((key, value if isinstance(value, str) else repr(value)))
    items.append(("timings", "; ".join(f"{name}: {seconds:.2f} s" for name, seconds in timings.items())))
    items.append(("versions", ", ".join(f"{name} {version}" for name, version in _versions().items())))
    items.append(
        ("page", f"built in {build_seconds:.2f} s on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    )
    body = "".join(
        f'<tr><th scope="row">{escape(key)}</th><td><code>{escape(value)}</code></td></tr>' for key, value in items
    )
    if templates:
        listed = "".join(f"<li value={index}>{escape(str(text))}</li>" for index, text in enumerate(templates))
        body += f'<tr><th scope="row">templates ({len(templates)})</th><td><ol start="0">{listed}</ol></td></tr>'
    return f"<table>{body}</table>"


def build_report_html(
    rows,
    *,
    title,
    model,
    pretrained=None,
    images=None,
    run=None,
    max_failures_per_group=24,
    max_failures=96,
    thumbnail_size=64,
):
    """The HTML robustness report of a comparison, as one self-contained page.

    Parameters
    ----------
    rows : list of dict
        From :func:`compare_methods` (``keep_predictions=True`` for the failures).
    title : str
        What was evaluated, e.g. ``"waterbirds (test split)"``.
    model : str
        The backbone, as the user named it.
    pretrained : str, default=None
        Its weights tag, when it has one.
    images : dict, default=None
        The evaluated images, in the rows' order: ``sources`` (paths, PIL images,
        arrays or bytes), ``labels`` (true labels, as the rows' predictions),
        ``groups`` (group name per image) and optionally ``label_names``
        (``{label: text}``) and ``names`` (how to name each image; default its
        path). Without it, no failures are shown.
    run : dict, default=None
        What was run, shown at the end: ``templates`` (list of str), ``timings``
        (``{step: seconds}``) and any other ``{name: text}`` (the command line...).
    max_failures_per_group, max_failures : int, default=24, 96
        Caps on the thumbnails per worst group and in all, stated on the page.
    thumbnail_size : int, default=64
        Longest side of a thumbnail, in pixels.

    Returns
    -------
    html : str

    Examples
    --------
    >>> from skclip_sage.comparison import build_report_html, compare_methods, selection_methods
    >>> from skclip_sage.synthetic import make_spurious_benchmark
    >>> simulation = make_spurious_benchmark("theory_holds", 200, n_templates=4, seed=0)
    >>> methods = selection_methods(simulation.encoder, class_names=simulation.class_names,
    ...                             templates=simulation.templates, modes=("ensemble", "sage"),
    ...                             k_values=(1,), device="cpu")
    >>> rows = compare_methods(methods, simulation.data, simulation.target, groups=simulation.groups,
    ...                        group_names=simulation.group_names)
    >>> page = build_report_html(rows, title="simulation", model="toy")
    >>> page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    True
    """
    if not rows:
        raise ValueError("build_report_html needs at least one row; got none.")
    started = time.perf_counter()
    from ._html_plots import ranked_svg

    ranked = rank_rows(rows)
    sage = sage_place(ranked)
    sections = [
        (
            "verdict",
            "Verdict: methods ranked by worst-group accuracy",
            _verdict(rows)
            + ranked_table(rows, ranked, sage)
            + ranked_svg(rows, title="WGA of every row (bar) and Avg (tick)"),
        ),
        ("groups", "Accuracy per group", groups_table(rows, ranked)),
        (
            "failures",
            "Failures of the worst groups",
            failures_section(
                rows,
                ranked,
                images,
                max_per_group=max_failures_per_group,
                max_total=max_failures,
                thumbnail_size=thumbnail_size,
            ),
        ),
        ("templates", "Templates: each alone, and what the selections chose", templates_section(rows)),
    ]
    body = "".join(f'<section id="{key}"><h2>{heading}</h2>{html}</section>' for key, heading, html in sections)
    run_html = _run_section(rows, model, pretrained, run, time.perf_counter() - started)
    body += f'<section id="run"><h2>What was run</h2>{run_html}</section>'
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    policy = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    nav = "".join(f'<a href="#{key}">{heading.split(":")[0]}</a>' for key, heading, _ in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}: robustness report</title><style>{STYLE}</style></head><body>"
        f"<header><h1>Robustness report: {escape(title)}</h1><p>{escape(model)}, {rows[0]['n_images']} images, "
        f"{len(rows[0]['groups'])} groups, {len(rows)} rows. All accuracies in percent; WGA = worst-group "
        "accuracy, Gap = Avg - WGA, HM = harmonic mean of Avg and WGA.</p>"
        f'<nav aria-label="sections">{nav}<a href="#run">What was run</a></nav></header>'
        f"<main>{body}</main><script>{SCRIPT}</script></body></html>\n"
    )


def write_report_html(path, rows, **options):
    """Write :func:`build_report_html`'s page to ``path`` atomically (a reader never sees half a page).

    Parameters
    ----------
    path : str or path-like
        The ``.html`` file.
    rows : list of dict
        From :func:`compare_methods`.
    **options
        Passed to :func:`build_report_html` (``title`` and ``model`` are required).

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    write_atomically(path, build_report_html(rows, **options).encode("utf-8"))
    return path
