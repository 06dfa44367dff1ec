"""Prompt templates: validation and expansion into prompts.

Pure Python: nothing here loads a model. Prompts are laid out template-major,
``prompts[t * C + c] = templates[t].format(class_names[c])``, matching the
``(T, C, D)`` text bank; a class with several texts takes one prompt per text,
in place.
"""

from __future__ import annotations

import os
import string
import warnings
from collections.abc import Sequence

import numpy as np

from ..exceptions import PromptTruncationWarning
from ._line_files import read_line_file
from ._template_sets import TEMPLATE_SETS


def resolve_templates(templates) -> list[str]:
    """Turn a template-set name or a list of templates into checked template strings.

    Parameters
    ----------
    templates : str, path-like or sequence of str
        A built-in set name (``"openai_imagenet"``: 80 templates, ``"simple"``: 7),
        a template file as a path object (read by :func:`read_template_file`: one
        template per line, ``#`` comments and blank lines skipped), or templates
        each holding exactly one ``{}`` for the class name.

    Returns
    -------
    templates : list of str

    Raises
    ------
    ValueError
        Unknown set name, a bare template string, an empty pool, or a template
        without exactly one ``{}`` (named by index and text).

    Examples
    --------
    >>> len(resolve_templates("openai_imagenet")), resolve_templates("simple")[0]
    (80, 'itap of a {}.')
    >>> resolve_templates(["a photo of a {}.", "a sketch of a {}."])
    ['a photo of a {}.', 'a sketch of a {}.']
    """
    if isinstance(templates, os.PathLike):
        return read_template_file(templates)
    if isinstance(templates, str):
        if templates in TEMPLATE_SETS:
            return list(TEMPLATE_SETS[templates])
        hint = (
            f" It looks like a single template: wrap it in a list, templates=[{templates!r}]."
            if "{" in templates
            else ""
        )
        if os.path.isfile(templates):
            hint = f" To read it as a template file, pass a path object: templates=pathlib.Path({templates!r})."
        raise ValueError(
            f"templates={templates!r} is not a built-in template set; choose one of "
            f"{list(TEMPLATE_SETS)} or pass a list of template strings.{hint}"
        )
    if not isinstance(templates, Sequence) and not isinstance(templates, np.ndarray):
        raise ValueError(f"templates must be a built-in set name or a list of strings; got {type(templates).__name__}.")
    checked = [_check_template(template, index) for index, template in enumerate(templates)]
    if not checked:
        raise ValueError("templates is empty; pass at least one template such as 'a photo of a {}.'.")
    return checked


def read_template_file(path) -> list[str]:
    """The checked templates of a template file, in file order.

    One template per line, each with exactly one ``{}`` for the class name; blank
    lines and lines starting with ``#`` are skipped; a UTF-8 byte-order mark is
    allowed. Exactly what ``skclip-sage classify --templates FILE`` reads.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    templates : list of str

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A line that is not a template, named by its line number; or no template at all.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mine.txt"
    >>> _ = path.write_text("# my templates\\na photo of a {}.\\n\\na sketch of a {}.\\n")
    >>> read_template_file(path)
    ['a photo of a {}.', 'a sketch of a {}.']
    """
    templates = []
    for number, text in read_line_file(path, "templates file"):
        try:
            templates.append(_check_template(text, 0))
        except ValueError as err:
            message = str(err).replace("Template 0 ", "template ", 1)
            raise ValueError(f"templates file {os.fspath(path)!r} line {number}: {message}") from err
    return templates


def _check_template(template, index: int) -> str:
    if not isinstance(template, str):
        raise ValueError(f"Template {index} must be a string; got {type(template).__name__}: {template!r}.")
    try:
        fields = [
            "{" + field + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}"
            for _, field, spec, conversion in string.Formatter().parse(template)
            if field is not None
        ]
    except ValueError as err:
        raise ValueError(
            f"Template {index} {template!r} has unbalanced braces ({err}); escape literal braces as '{{{{' and '}}}}'."
        ) from err
    if fields != ["{}"]:
        raise ValueError(
            f"Template {index} {template!r} must contain exactly one empty placeholder '{{}}' for the class "
            f"name; found {len(fields)} placeholder(s) {fields}."
        )
    return template


def expand_prompts(templates: Sequence[str], class_names: Sequence) -> list[str]:
    """All template x class prompts, template-major; a class with several texts gives one prompt per text.

    Parameters
    ----------
    templates : sequence of str
    class_names : sequence of (str or sequence of str)
        Each class's name, or its list of texts.

    Returns
    -------
    prompts : list of str
        ``templates[0]`` applied to every text of class 0, then of class 1, ...,
        then ``templates[1]``, and so on.

    Examples
    --------
    >>> expand_prompts(["a {}.", "art of a {}."], ["cat", "dog"])
    ['a cat.', 'a dog.', 'art of a cat.', 'art of a dog.']
    >>> expand_prompts(["a {}."], [["cat", "kitten"], "dog"])
    ['a cat.', 'a kitten.', 'a dog.']
    """
    texts = [class_texts(name) for name in class_names]
    return [template.format(text) for template in templates for group in texts for text in group]


def class_texts(name) -> list[str]:
    """A class's texts as a list: ``"cat"`` -> ``["cat"]``, a list of texts as it is."""
    return [name] if isinstance(name, str) else list(name)


def check_prompt_lengths(
    prompts: Sequence[str], token_counts: Sequence[int], context_length: int, *, truncate: bool
) -> None:
    """Raise (or warn, with ``truncate=True``) when prompts exceed the text context.

    Parameters
    ----------
    prompts : sequence of str
    token_counts : sequence of int
        Tokens per prompt, including start and end tokens.
    context_length : int
        The text encoder's maximum number of tokens.
    truncate : bool
        Whether over-long prompts may be cut to ``context_length``.
    """
    too_long = [(prompt, count) for prompt, count in zip(prompts, token_counts) if count > context_length]
    if not too_long:
        return
    listing = ", ".join(f"{prompt!r} ({count} tokens)" for prompt, count in too_long[:5])
    if truncate:
        warnings.warn(
            f"{len(too_long)} of {len(prompts)} prompts exceed the {context_length}-token context and were "
            f"truncated: {listing}.",
            PromptTruncationWarning,
            stacklevel=3,
        )
        return
    raise ValueError(
        f"{len(too_long)} of {len(prompts)} prompts exceed the text encoder's {context_length}-token context: "
        f"{listing}. Shorten the templates or class names, or pass truncate=True to cut them."
    )
