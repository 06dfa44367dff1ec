"""Prompt templates and class names: validation and expansion into prompts.

Pure Python: nothing here loads a model. Prompts are laid out template-major,
``prompts[t * C + c] = templates[t].format(class_names[c])``, matching the
``(T, C, D)`` text bank.
"""

from __future__ import annotations

import string
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ..exceptions import DuplicatePromptWarning, NumericClassNamesWarning, PromptTruncationWarning
from ._template_sets import TEMPLATE_SETS


def resolve_templates(templates) -> list[str]:
    """Turn a template-set name or a list of templates into checked template strings.

    Parameters
    ----------
    templates : str or sequence of str
        A built-in set name (``"openai_imagenet"``: 80 templates, ``"simple"``: 7)
        or templates each holding exactly one ``{}`` for the class name.

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
    if isinstance(templates, str):
        if templates in TEMPLATE_SETS:
            return list(TEMPLATE_SETS[templates])
        hint = (
            f" It looks like a single template: wrap it in a list, templates=[{templates!r}]."
            if "{" in templates
            else ""
        )
        raise ValueError(
            f"templates={templates!r} is not a built-in template set; choose one of "
            f"{sorted(TEMPLATE_SETS)} or pass a list of template strings.{hint}"
        )
    if not isinstance(templates, Sequence) and not isinstance(templates, np.ndarray):
        raise ValueError(f"templates must be a built-in set name or a list of strings; got {type(templates).__name__}.")
    checked = [_check_template(template, index) for index, template in enumerate(templates)]
    if not checked:
        raise ValueError("templates is empty; pass at least one template such as 'a photo of a {}.'.")
    return checked


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


def class_names_for(classes: np.ndarray, class_names=None) -> list[str]:
    """The text used for each class in prompts, aligned with ``classes``.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted class labels (the estimator's ``classes_``).
    class_names : dict, sequence of str or None
        ``{label: name}`` covering every label, names aligned with ``classes``, or
        None to use ``str(label)``.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> import numpy as np
    >>> class_names_for(np.array([0, 1]), {0: "landbird", 1: "waterbird"})
    ['landbird', 'waterbird']
    """
    if class_names is None:
        if np.issubdtype(np.asarray(classes).dtype, np.number):
            warnings.warn(
                f"Class labels {np.asarray(classes)[:5].tolist()} are numbers, so prompts will read like "
                f"'a photo of a {classes[0]}.'. Pass class_names={{label: 'name', ...}} for meaningful prompts.",
                NumericClassNamesWarning,
                stacklevel=3,
            )
        names = [str(label) for label in classes]
    elif isinstance(class_names, Mapping):
        labels = np.asarray(classes).tolist()  # plain Python values: readable in messages
        missing = [label for label in labels if label not in class_names]
        if missing:
            raise ValueError(
                f"class_names has no name for label(s) {missing}; it must map every class in y ({labels}) to a name."
            )
        names = [class_names[label] for label in labels]
    elif isinstance(class_names, str) or not isinstance(class_names, (Sequence, np.ndarray)):
        raise ValueError(
            "class_names must be a dict {label: name} or a list of names aligned with the sorted labels; "
            f"got {type(class_names).__name__}."
        )
    else:
        if len(class_names) != len(classes):
            raise ValueError(
                f"class_names has {len(class_names)} names but y has {len(classes)} classes "
                f"({np.asarray(classes).tolist()}); give one name per class, in sorted label order, or a dict."
            )
        names = list(class_names)
    return check_class_names(names)


def check_class_names(names: Sequence) -> list[str]:
    """Reject empty names and warn about names that give the same prompt.

    CLIP's tokenizer lower-cases and collapses whitespace, so ``"Cat"``, ``"cat"``
    and ``" cat"`` would be indistinguishable classes.

    Parameters
    ----------
    names : sequence of str

    Returns
    -------
    names : list of str
        The names, unchanged.
    """
    by_prompt: dict[str, list[str]] = {}
    for position, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"Class name at position {position} is {name!r}; every class needs a non-empty string name."
            )
        by_prompt.setdefault(" ".join(name.lower().split()), []).append(name)
    collisions = [group for group in by_prompt.values() if len(group) > 1]
    if collisions:
        warnings.warn(
            f"Class names {collisions} give identical prompts once lower-cased and whitespace-normalised, "
            "so the model cannot tell these classes apart; rename them.",
            DuplicatePromptWarning,
            stacklevel=3,
        )
    return list(names)


def expand_prompts(templates: Sequence[str], class_names: Sequence[str]) -> list[str]:
    """All template x class prompts, template-major.

    Examples
    --------
    >>> expand_prompts(["a {}.", "art of a {}."], ["cat", "dog"])
    ['a cat.', 'a dog.', 'art of a cat.', 'art of a dog.']
    """
    return [template.format(name) for template in templates for name in class_names]


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
