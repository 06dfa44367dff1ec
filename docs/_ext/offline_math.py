"""Render the docs' LaTeX maths at build time, so pages need no network to show it.

Sphinx's default HTML maths (MathJax) is a script the reader's browser fetches from a
CDN: offline, formulas show as raw LaTeX. Here each formula is drawn once, at build
time, with matplotlib's mathtext (no TeX installation needed) into an SVG embedded in
the page, with the LaTeX as its ``alt`` text. mathtext covers the LaTeX these docs
use once delimiter sizing (``\\big``, ``\\Big``) is dropped; a formula it still cannot
draw is shown as its LaTeX source in a ``<code>`` element, never lost.
"""

from __future__ import annotations

import base64
import html
import io
import re

from docutils import nodes

# mathtext lacks manual delimiter sizes and a few aliases; these rewrites keep the meaning.
_REWRITES = [
    (re.compile(r"\\[Bb]igg?[lr]?(?![a-zA-Z])"), ""),
    (re.compile(r"\\lVert|\\rVert"), r"\\Vert"),
    (re.compile(r"\\text\{"), r"\\mathrm{"),
]
FONT_SIZE = 12.0


def mathtext_source(latex: str) -> str:
    """The formula on one line, rewritten into the LaTeX subset mathtext draws."""
    text = " ".join(latex.split())
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return f"${text}$"


def render_svg(latex: str) -> tuple[str, float] | None:
    """The formula as SVG text and its depth below the baseline in points, or None."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buffer = io.BytesIO()
    try:
        depth = mathtext.math_to_image(
            mathtext_source(latex), buffer, prop=FontProperties(size=FONT_SIZE), format="svg"
        )
    except (ValueError, RuntimeError):
        return None
    return buffer.getvalue().decode("utf-8"), float(depth or 0.0)


def _image(latex: str, css_class: str) -> str:
    rendered = render_svg(latex)
    alt = html.escape(" ".join(latex.split()), quote=True)
    if rendered is None:
        return f'<code class="{css_class} math-source">{alt}</code>'
    svg, depth = rendered
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<img class="{css_class}" alt="{alt}" title="{alt}" '
        f'style="vertical-align: -{depth:.2f}pt" src="data:image/svg+xml;base64,{data}"/>'
    )


def visit_inline(translator, node):
    translator.body.append(_image(node.astext(), "math"))
    raise nodes.SkipNode


def visit_block(translator, node):
    translator.body.append(f'<div class="math-block">{_image(node.astext(), "math")}</div>\n')
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("offline", inline_renderers=(visit_inline, None), block_renderers=(visit_block, None))
    app.config.html_math_renderer = "offline"
    return {"parallel_read_safe": True, "parallel_write_safe": True}
