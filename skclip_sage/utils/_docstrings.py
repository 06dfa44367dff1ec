"""Share a docstring section between functions instead of repeating it."""


def fill_docstring(**sections):
    """Decorator replacing ``%(name)s`` placeholders of a docstring with shared text.

    Like imbalanced-learn's ``Substitution``: the shared text is written once, with
    the indentation of the place it goes, and stays identical everywhere. Under
    ``python -OO`` docstrings are None and are left so.

    Parameters
    ----------
    **sections : str
        Text for each placeholder name.

    Returns
    -------
    decorate : callable
        Applies the substitution to a function's ``__doc__`` and returns the function.

    Examples
    --------
    >>> @fill_docstring(unit="metres")
    ... def height():
    ...     '''Height in %(unit)s.'''
    >>> height.__doc__
    'Height in metres.'
    """

    def decorate(function):
        # python -OO strips docstrings (None): there is nothing to fill, and importing must still work.
        if function.__doc__ is not None:
            function.__doc__ = function.__doc__ % sections
        return function

    return decorate


# Words of a term that stay prose when the rest of the term is written as code.
_PROSE_WORDS = frozenset({"with", "or", "and", "holding"})


def _as_code(term: str) -> str:
    """``term`` in reStructuredText, each word but the joining ones as inline code."""
    words = []
    for word in term.split():
        core = word.strip("()")
        if core and core not in _PROSE_WORDS:
            word = word.replace(core, f"``{core}``", 1)
        words.append(word)
    return " ".join(words)


def code_terms_list(entries, *, indent: int = 8, width: int = 88) -> str:
    """A reStructuredText bullet list of ``(term, description)`` pairs, for a placeholder of :func:`fill_docstring`.

    Each term is written as code (joining words such as "or" and "with" stay prose);
    lines are wrapped at ``width`` and indented by ``indent`` spaces, except the
    first, which takes the placeholder's own indentation. Built at import from a
    table (the backends' model forms), so a docstring lists what the code accepts.

    Parameters
    ----------
    entries : iterable of (str, str)
        The terms and what each means.
    indent : int, default=8
        The indentation of the placeholder (8 for a parameter's description).
    width : int, default=88
        The longest line.

    Returns
    -------
    text : str

    Examples
    --------
    >>> print(code_terms_list([("NAME with pretrained=TAG", "a name and its weights")], indent=2))
    - ``NAME`` with ``pretrained=TAG``: a name and its weights
    """
    import textwrap

    items = []
    for term, description in entries:
        lines = textwrap.wrap(
            f"- {_as_code(term)}: {description}",
            width=width,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + 2),
            break_long_words=False,
            break_on_hyphens=False,
        )
        items.append("\n".join(lines))
    return "\n".join(items)[indent:]
