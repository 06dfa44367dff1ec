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
