"""Class names: which classes exist, and the text or texts that stand for each in prompts.

Pure Python and NumPy. ``class_names`` may be

- a dict ``{label: text or [texts]}``: it defines the classes (its sorted keys),
  whatever subset of them a ``y`` holds;
- a list of names. Without ``y`` the names are the labels. With ``y`` a list is
  paired with the labels only where that cannot surprise: string labels that are
  among the names pair by value (the names are the labels, as without ``y``);
  integer labels in ``0..C-1`` (``C`` names) pair by position, label ``i`` with
  the ``i``-th item. Any other labels are refused with the dict to write instead
  (the sorted labels of ``y`` against the list's order silently mislabelled
  every class when the list was not in sorted order);
- None: each label of ``y`` is its own text.

A class given several texts (synonyms, descriptions) is embedded as the normalised
mean of their unit embeddings, template by template (see the text bank).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ..exceptions import DuplicatePromptWarning, NumericClassNamesWarning


def sorted_labels(y) -> np.ndarray:
    """The distinct labels of ``y`` in sorted order, with errors that say what is wrong.

    Parameters
    ----------
    y : array-like of shape (n_samples,)

    Returns
    -------
    labels : ndarray of shape (n_classes,)

    Raises
    ------
    ValueError
        When ``y`` holds None or labels of types that cannot be ordered together.

    Examples
    --------
    >>> sorted_labels(["dog", "cat", "dog"]).tolist()
    ['cat', 'dog']
    """
    y = np.asarray(y)
    if y.dtype == object:
        missing = np.flatnonzero(np.equal(y, None))
        if len(missing):
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            raise ValueError(
                f"y holds None at {len(missing)} of {len(y)} positions ({shown}); every sample needs a label. "
                "Drop those samples or give them a label."
            )
    try:
        return np.unique(y)
    except TypeError as err:
        kinds = sorted({type(label).__name__ for label in y.ravel().tolist()})
        raise ValueError(
            f"The labels in y cannot be sorted: they mix the types {kinds}. Use labels of one type, e.g. all str."
        ) from err


def resolve_classes(class_names, labels=None) -> tuple[np.ndarray, list]:
    """The classes of a classifier and the text(s) of each.

    Parameters
    ----------
    class_names : dict, sequence or None
        See the module docstring; values of a dict (or items of a list given
        with ``labels``) are a string or a non-empty list of strings.
    labels : ndarray of shape (n_labels,), default=None
        The sorted distinct labels of ``y`` (:func:`sorted_labels`), when there is a ``y``.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        Sorted; the estimator's ``classes_``.
    texts : list of (str or list of str)
        Aligned with ``classes``; the estimator's ``class_names_``.

    Examples
    --------
    >>> classes, texts = resolve_classes({1: ["waterbird", "duck"], 0: "landbird"}, np.array([1]))
    >>> classes.tolist(), texts
    ([0, 1], ['landbird', ['waterbird', 'duck']])
    >>> resolve_classes(["dog", "cat"])[0].tolist()
    ['cat', 'dog']
    >>> resolve_classes(["dog", "cat"], np.array(["cat", "dog"]))[1]  # string labels: paired by value
    ['cat', 'dog']
    >>> resolve_classes(["dog", "cat"], np.array([0, 1]))[1]  # labels 0..C-1: by position
    ['dog', 'cat']
    """
    if class_names is None and labels is None:
        raise ValueError("The classes come from y or from class_names; pass class_names={label: name, ...} or y.")
    if isinstance(class_names, Mapping):
        classes = _sorted_keys(class_names)
        if labels is not None:
            _check_labels_are_named(labels, classes, class_names)
        return classes, class_names_for(classes, class_names)
    if labels is None:
        return _names_as_labels(class_names)
    if class_names is None:
        return labels, class_names_for(labels)
    return _pair_list(class_names, labels)


def class_names_for(classes: np.ndarray, class_names=None) -> list:
    """The text(s) used for each class in prompts, aligned with ``classes``.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted class labels (the estimator's ``classes_``).
    class_names : dict, sequence or None
        ``{label: text or [texts]}`` covering every label; a list of names, paired
        by value with string labels that are its names or by position with integer
        labels ``0..C-1`` (anything else is refused with the dict to write); or None
        to use ``str(label)``.

    Returns
    -------
    texts : list of (str or list of str)

    Examples
    --------
    >>> import numpy as np
    >>> class_names_for(np.array([0, 1]), {0: "landbird", 1: ["waterbird", "duck"]})
    ['landbird', ['waterbird', 'duck']]
    """
    classes = np.asarray(classes)
    labels = classes.tolist()  # plain Python values: readable in messages
    if class_names is None:
        _warn_if_not_words(classes)
        return check_class_names([str(label) for label in labels], labels)
    if isinstance(class_names, Mapping):
        missing = [label for label in labels if label not in class_names]
        if missing:
            raise ValueError(
                f"class_names has no name for label(s) {missing}; it must map every class in y ({labels}) to a name."
            )
        return check_class_names([class_names[label] for label in labels], labels, given=list(class_names))
    # A list pairs as in fit: by value with string labels that are its names, by position
    # with integer labels 0..C-1, and is refused otherwise (with the dict to write).
    paired, texts = _pair_list(class_names, classes)
    by_label = dict(zip(paired.tolist(), texts))
    return [by_label[label] for label in labels]


def check_class_names(names: Sequence, labels: Sequence | None = None, given: Sequence | None = None) -> list:
    """Check the text(s) of every class and warn about texts that give the same prompt.

    CLIP's tokenizer lower-cases and collapses whitespace, so ``"Cat"``, ``"cat"``
    and ``" cat"`` would be indistinguishable classes.

    Parameters
    ----------
    names : sequence of (str or sequence of str)
        One entry per class: its name, or its non-empty list of texts.
    labels : sequence, default=None
        The label of each class, to name it in messages.
    given : sequence, default=None
        The labels in the order the user gave them (a dict's keys, a list's items),
        so that messages give each class's position there rather than in sorted
        order; None: ``names`` is in the user's order.

    Returns
    -------
    names : list of (str or list of str)
        The names as given; lists of texts become lists of str.

    Raises
    ------
    ValueError
        An empty name, an empty list of texts, an empty text or a non-string,
        naming the class.
    """
    order = None if given is None else {label: position for position, label in enumerate(given)}
    checked = [_class_texts(value, _describe(position, labels, order)) for position, value in enumerate(names)]
    by_prompt: dict[str, list[tuple[int, str]]] = {}
    for position, value in enumerate(checked):
        for text in [value] if isinstance(value, str) else value:
            by_prompt.setdefault(" ".join(text.lower().split()), []).append((position, text))
    collisions = [group for group in by_prompt.values() if len(group) > 1]
    if collisions:
        texts = [[text for _, text in group] for group in collisions]
        classes = [list(dict.fromkeys(_label(position, labels) for position, _ in group)) for group in collisions]
        warnings.warn(
            f"Class names {texts} give identical prompts once lower-cased and whitespace-normalised (group by "
            f"group, from classes {classes}): the model cannot tell classes that share a text apart, and a text "
            "repeated within one class counts twice in its mean; rename or remove them.",
            DuplicatePromptWarning,
            stacklevel=3,
        )
    return checked


def _class_texts(value, where: str):
    """One class's name, or its list of texts, checked."""
    if isinstance(value, str):
        if not value.strip():
            raise ValueError(f"Class name {where} is {value!r}; every class needs a non-empty string name.")
        return str(value)
    if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (bytes, bytearray)):
        texts = list(value)
        if not texts:
            raise ValueError(
                f"Class {where} has an empty list of texts; give it at least one (a name, synonym or description)."
            )
        for index, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"Text {index} of class {where} is {text!r}; every text must be a non-empty string.")
        return [str(text) for text in texts]
    raise ValueError(f"Class name {where} is {value!r} ({type(value).__name__}); give a string or a list of strings.")


def _label(position: int, labels):
    return position if labels is None else labels[position]


def _describe(position: int, labels, order=None) -> str:
    if labels is None:
        return f"at position {position}"
    label = labels[position]
    return f"{label!r} (at position {position if order is None else order.get(label, position)})"


def _sorted_keys(class_names: Mapping) -> np.ndarray:
    if len(class_names) == 0:
        raise ValueError("class_names is an empty dict; map each class label to its name, e.g. {0: 'cat', 1: 'dog'}.")
    try:
        keys = sorted(class_names)
    except TypeError as err:
        kinds = sorted({type(key).__name__ for key in class_names})
        raise ValueError(
            f"The labels of class_names cannot be sorted: they mix the types {kinds}. Use labels of one type."
        ) from err
    classes = np.asarray(keys)
    if classes.ndim != 1:
        raise ValueError(f"The labels of class_names must be single values (str or int); got {keys[:3]}.")
    return classes


def _check_labels_are_named(labels: np.ndarray, classes: np.ndarray, class_names: Mapping) -> None:
    unknown = [label for label in np.asarray(labels).tolist() if label not in class_names]
    if not unknown:
        return
    by_text = {str(key): key for key in class_names}
    look_alikes = [(label, by_text[str(label)]) for label in unknown if str(label) in by_text]
    hint = (
        f" Labels are compared with their type: {look_alikes[0][0]!r} in y is not {look_alikes[0][1]!r}."
        if look_alikes
        else ""
    )
    raise ValueError(
        f"y holds label(s) {unknown} that class_names does not name; the dict defines the classes "
        f"({classes.tolist()}): add the label(s) to class_names or fix y.{hint}"
    )


def _pair_list(class_names, labels: np.ndarray) -> tuple[np.ndarray, list]:
    """Classes and texts of a list ``class_names`` given with the sorted labels of ``y``.

    String labels among the names pair by value; integer labels in ``0..C-1``
    pair by position; anything else is refused with the dict form to write.
    In both accepted cases the list defines the classes (all ``C`` of them),
    as a dict does, so a cross-validation fold missing a class keeps its column.
    """
    if isinstance(class_names, str) or not isinstance(class_names, (Sequence, np.ndarray)):
        raise ValueError(
            f"class_names must be a dict {{label: name}} or a list of names; got {type(class_names).__name__}."
        )
    with warnings.catch_warnings():  # the branch that pairs warns, once, naming the labels
        warnings.simplefilter("ignore", DuplicatePromptWarning)
        names = check_class_names(list(class_names))  # empty or non-string items, at their position in the list
    values = np.asarray(labels).tolist()
    if all(isinstance(value, str) for value in values) and all(isinstance(name, str) for name in names):
        if set(values) <= set(names):
            return _names_as_labels(names)
    elif labels.dtype.kind in "iu" and values and min(values) >= 0 and max(values) < len(names):
        classes = labels if len(values) == len(names) else np.arange(len(names), dtype=labels.dtype)
        return classes, check_class_names(names, classes.tolist())
    raise ValueError(_pairing_message(names, values))


def _pairing_message(names: list, labels: list) -> str:
    """Why a list cannot be paired with these labels, and the dict that says the pairing."""
    shown = ", ".join(f"{label!r}: {name!r}" for label, name in zip(labels[:12], names[:12]))
    more = ", ..." if min(len(labels), len(names)) > 12 else ""
    counts = (
        ""
        if len(names) == len(labels)
        else f" (and class_names has {len(names)} names but y has {len(labels)} classes: complete the pairs)"
    )
    if all(isinstance(label, str) for label in labels):
        kind = "strings that are not all among the names"
    else:
        kind = f"not integers from 0 to {len(names) - 1}"
    return (
        f"class_names is a list of {len(names)} names and y holds the labels {labels[:12]}{more[2:]}, which are "
        f"{kind}, so which name goes with which label is not known (a list pairs by value with string labels "
        f"that are its names, and by position only with integer labels 0..{len(names) - 1}). Say it with a dict; "
        f"pairing the sorted labels with the list in its order gives class_names={{{shown}{more}}}{counts}: "
        "check each pair before using it."
    )


def _names_as_labels(class_names) -> tuple[np.ndarray, list]:
    """Without y, a list of names is the list of labels."""
    if isinstance(class_names, str) or not isinstance(class_names, (Sequence, np.ndarray)):
        raise ValueError(
            f"class_names must be a dict {{label: name}} or a list of names; got {type(class_names).__name__}."
        )
    names = list(class_names)
    lists = [name for name in names if not isinstance(name, str)]
    if lists:
        raise ValueError(
            f"Without y, a list class_names gives the labels themselves, so each item must be one string; got "
            f"{lists[0]!r}. For several texts per class pass a dict {{label: [texts]}}."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"class_names lists {repeated} more than once; each class needs one distinct name.")
    given = [str(name) for name in names]
    names = sorted(given)
    return np.asarray(names), check_class_names(names, names, given=given)


def _warn_if_not_words(classes: np.ndarray) -> None:
    """Numbers and booleans as their own names make prompts such as "a photo of a True."."""
    values = classes.tolist()
    if not values:
        return
    if classes.dtype.kind == "b" or all(isinstance(value, (bool, np.bool_)) for value in values):
        kind = "booleans"
    elif np.issubdtype(classes.dtype, np.number) or all(isinstance(value, numbers.Number) for value in values):
        kind = "numbers"
    else:
        return
    warnings.warn(
        f"Class labels {values[:5]} are {kind}, so prompts will read like 'a photo of a {values[0]}.'. "
        "Pass class_names={label: 'name', ...} for meaningful prompts.",
        NumericClassNamesWarning,
        stacklevel=4,
    )
