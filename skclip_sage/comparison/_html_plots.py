"""The HTML report's plots: matplotlib figures as inline SVG, text kept as text.

SVG keeps a bar chart crisp at any zoom in a few tens of KB. Text stays ``<text>`` (so
it is small and selectable), math parsing is off (a class named ``$x$`` is shown as
written, never as TeX), and every ``id`` is prefixed per plot so two inline SVGs never
share one.
"""

from __future__ import annotations

import io
import re

__all__ = ["ranked_svg", "templates_svg"]

SVG_SETTINGS = {"svg.fonttype": "none", "text.parse_math": False, "svg.hashsalt": "skclip-sage", "font.size": 9}


def _figure_svg(pyplot, figure, prefix):
    """``figure`` as an ``<svg>`` element to paste into HTML: no XML prolog, ids made unique per plot."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    pyplot.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    # Every id (clip paths, glyphs, patches) and each reference to one gets the plot's prefix.
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    # Scale with the page; the viewBox keeps the proportions.
    text = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1 class="plot"', text, count=1)
    return text


def ranked_svg(rows, *, title):
    """Every row's WGA as a horizontal bar, best first, Avg as a tick, as an ``<svg>`` string."""
    from ..utils._optional import require_matplotlib
    from ._plot import draw_ranked_bars

    pyplot = require_matplotlib("build_report_html")
    import matplotlib

    with matplotlib.rc_context(SVG_SETTINGS):
        figure, axis = pyplot.subplots(figsize=(7.5, 0.19 * len(rows) + 1.1))
        draw_ranked_bars(axis, rows)
        axis.set_title(title, fontsize=10)
        figure.tight_layout()
        return _figure_svg(pyplot, figure, "ranked")


def templates_svg(rows):
    """Each template alone as a bar by source, the ensemble and SAGE across, as an ``<svg>`` string."""
    from ..utils._optional import require_matplotlib
    from ._plot import _method_styles, _template_bars

    pyplot = require_matplotlib("build_report_html")
    import matplotlib

    template_rows = [row for row in rows if row.get("template") is not None]
    method_rows = [row for row in rows if row.get("template") is None]
    modes = list(dict.fromkeys(row["mode"] for row in method_rows))
    rows_of = {mode: [row for row in method_rows if row["mode"] == mode] for mode in modes}
    with matplotlib.rc_context(SVG_SETTINGS):
        figure, axis = pyplot.subplots(figsize=(max(6.0, 0.3 * len(template_rows) + 2), 3.6))
        _template_bars(axis, template_rows, rows_of, _method_styles(modes))
        axis.legend(loc="upper left", fontsize=8, framealpha=0.9)
        figure.tight_layout()
        return _figure_svg(pyplot, figure, "templates")
