"""One comparison row per template of a pool: how each template does on its own.

The selection rows say how a pool of templates does when some rule picks among
them; these rows say what there was to pick from. With a template -> source
mapping (which caption style, corpus or author each template comes from) the rows
come grouped by source, and the report shows each row's source beside it.
"""

from __future__ import annotations

from .._classifier import SageZeroShotClassifier
from ..prompts import resolve_templates
from ._methods import ComparisonMethod

__all__ = ["check_template_sources", "single_template_methods"]

DESCRIPTION = "one template of the pool alone (the template column gives its index and text)"


def check_template_sources(template_sources, n_templates, caller):
    """``template_sources`` as a list of str, one per template, or None; a clear error otherwise.

    Parameters
    ----------
    template_sources : sequence of str or None
        The source of each template of the pool, in pool order.
    n_templates : int or None
        Templates in the pool; None checks only the entries.
    caller : str
        Named in the error message.

    Returns
    -------
    sources : list of str or None
    """
    if template_sources is None:
        return None
    if isinstance(template_sources, str):
        raise ValueError(f"{caller}: template_sources must be a sequence of str, one per template; got a string.")
    sources = list(template_sources)
    if n_templates is not None and len(sources) != n_templates:
        raise ValueError(
            f"{caller}: template_sources has {len(sources)} entries but the pool has {n_templates} templates; "
            "give one source per template, in pool order."
        )
    bad = [source for source in sources if not isinstance(source, str) or not source]
    if bad:
        raise ValueError(f"{caller}: every template source must be a non-empty string; got {bad[0]!r}.")
    return sources


def single_template_methods(
    model, *, class_names, templates="openai_imagenet", template_sources=None, **classifier_parameters
):
    """A ``single`` row for every template of the pool, grouped by source.

    Each row classifies with that one template (``selection="single"`` on a pool
    of one), so the rows show the spread a selection method chooses from: the
    best and the worst template, and, with ``template_sources``, how each source's
    templates do.

    Parameters
    ----------
    model : str or TextImageEncoder
        As :class:`~skclip_sage.SageZeroShotClassifier`'s ``model``.
    class_names : dict or list of str
        Text of each class.
    templates : str or list of str, default="openai_imagenet"
        The template pool.
    template_sources : sequence of str, default=None
        The source of each template, in pool order. Rows are grouped by source
        (sources in order of first appearance, templates in pool order inside
        each) and carry it in ``source``; None keeps the pool order.
    **classifier_parameters : dict
        Other :class:`~skclip_sage.SageZeroShotClassifier` parameters (``pretrained``,
        ``device``, ``cache_dir``, ...), shared by every row.

    Returns
    -------
    methods : list of ComparisonMethod
        Named ``"single"``, ``k=1``, with ``template`` (the index in the pool)
        and ``source`` set.

    Examples
    --------
    >>> from skclip_sage.comparison import single_template_methods
    >>> methods = single_template_methods("ViT-B-32", class_names=["cat", "dog"],
    ...                                   templates=["a {}.", "a photo of a {}.", "art of a {}."],
    ...                                   template_sources=["web", "studio", "web"])
    >>> [(method.name, method.template, method.source) for method in methods]
    [('single', 0, 'web'), ('single', 2, 'web'), ('single', 1, 'studio')]
    """
    pool = resolve_templates(templates)
    sources = check_template_sources(template_sources, len(pool), "single_template_methods")
    order = list(range(len(pool)))
    if sources is not None:
        rank = {source: position for position, source in enumerate(dict.fromkeys(sources))}
        order.sort(key=lambda index: (rank[sources[index]], index))
    methods = []
    for index in order:
        estimator = SageZeroShotClassifier(
            model, templates=[pool[index]], class_names=class_names, selection="single", **classifier_parameters
        )
        source = None if sources is None else sources[index]
        methods.append(
            ComparisonMethod("single", estimator, k=1, description=DESCRIPTION, template=index, source=source)
        )
    return methods
