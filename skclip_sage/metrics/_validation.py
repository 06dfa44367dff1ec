"""Input checks shared by the group metrics: labels, groups, weights and names.

Modelled on scikit-learn's metric validation, but numpy-only so that importing
``skclip_sage.metrics`` never pulls in scikit-learn or pandas.
"""

from collections.abc import Mapping
from numbers import Real

import numpy as np

AVERAGE_CHOICES = ("plain", "groups", "weighted")

# How many offending positions or groups an error message lists before "...".
_MAX_LISTED = 5

# The parameters every group metric shares, written once (see fill_docstring).
LABELS_AND_GROUPS = """\
y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, of the same type as ``y_true``.
    groups : array-like of shape (n_samples,)
        Group label of each sample."""


def _listed(items):
    """Format at most ``_MAX_LISTED`` items for an error message."""
    items = list(items)
    shown = ", ".join(repr(item) for item in items[:_MAX_LISTED])
    return f"[{shown}, ...]" if len(items) > _MAX_LISTED else f"[{shown}]"


def _is_missing(value):
    """True for None, NaN and pandas.NA (whose ``!=`` cannot be made a bool)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:
        return True


def _missing_positions(values):
    if values.dtype.kind == "f":
        return np.flatnonzero(np.isnan(values))
    if values.dtype.kind == "O":
        return np.flatnonzero([_is_missing(value) for value in values])
    return np.empty(0, dtype=np.intp)


def _label_kind(values, name, caller):
    """Return "number", "string" or "other"; reject arrays that mix numbers and strings.

    numpy silently compares ``1 == "1"`` as False and sorts mixed object arrays
    with a TypeError, so mixed labels must be caught before any comparison.
    """
    if values.dtype.kind in "biuf":
        return "number"
    if values.dtype.kind in "US":
        return "string"
    kinds = {
        "string" if isinstance(value, str) else "number" if isinstance(value, Real) else "other" for value in values
    }
    if "string" in kinds and "number" in kinds:
        raise ValueError(
            f"{caller}: {name} mixes strings and numbers; use one type for every label, "
            f"e.g. convert with np.asarray({name}).astype(str)."
        )
    return kinds.pop() if len(kinds) == 1 else "other"


def _as_1d(values, name, caller):
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{caller}: {name} must be a 1-D array-like of labels; got a single string {values!r}.")
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{caller}: {name} must be 1-D with one label per sample; got an array of shape "
            f"{array.shape}. Reshape it, e.g. with np.ravel({name}) for a single column."
        )
    return array


def check_group_inputs(y_true, y_pred, groups, *, caller):
    """Validate and convert labels and groups to 1-D numpy arrays of equal length.

    Parameters
    ----------
    y_true, y_pred, groups : array-like of shape (n_samples,)
        Labels, predictions and group labels. ``groups`` may be None when the caller
        does not need groups (plain accuracy).
    caller : str
        Name of the public function, used as the prefix of every error.

    Returns
    -------
    y_true, y_pred, groups : ndarray of shape (n_samples,)
        ``groups`` stays None when it was None.
    """
    arrays = {"y_true": y_true, "y_pred": y_pred}
    if groups is not None:
        arrays["groups"] = groups
    arrays = {name: _as_1d(values, name, caller) for name, values in arrays.items()}

    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(
            f"{caller} got inputs of different lengths: {described} samples. "
            f"Pass exactly one true label, one prediction and one group per sample."
        )
    if lengths["y_true"] == 0:
        raise ValueError(f"{caller} needs at least one sample; got 0 samples (empty y_true and y_pred).")

    for name, array in arrays.items():
        positions = _missing_positions(array)
        if positions.size:
            raise ValueError(
                f"{caller}: {name} contains {positions.size} missing value(s) (NaN or None) "
                f"at position(s) {_listed(positions.tolist())}. Drop those samples or fill "
                f"them before computing accuracies (for the nan_label predictions of images that gave no "
                f"embedding, y_pred=skclip_sage.metrics.missing_as_wrong(y_true, y_pred) counts them as "
                f"wrong, as the scorers do)."
            )

    true_kind = _label_kind(arrays["y_true"], "y_true", caller)
    pred_kind = _label_kind(arrays["y_pred"], "y_pred", caller)
    if {true_kind, pred_kind} == {"number", "string"}:
        raise ValueError(
            f"{caller}: y_true holds {true_kind}s but y_pred holds {pred_kind}s, so no "
            f"prediction could ever count as correct. Encode both with the same labels "
            f"(e.g. map class indices to class names, or the reverse)."
        )
    if "groups" in arrays:
        _label_kind(arrays["groups"], "groups", caller)

    return arrays["y_true"], arrays["y_pred"], arrays.get("groups")


def check_average(average, weights, *, caller):
    """Check the ``average`` choice and that ``weights`` comes exactly with ``"weighted"``."""
    if not isinstance(average, str) or average not in AVERAGE_CHOICES:
        choices = ", ".join(repr(choice) for choice in AVERAGE_CHOICES)
        raise ValueError(f"{caller}: average must be one of {choices}; got {average!r} instead.")
    if average == "weighted" and weights is None:
        raise ValueError(
            f"{caller}: average='weighted' needs weights=..., a dict group -> weight or one "
            f"weight per sorted group (e.g. the training group counts)."
        )
    if average != "weighted" and weights is not None:
        raise ValueError(
            f"{caller}: weights is only used with average='weighted'; got average={average!r}. "
            f"Pass average='weighted' or drop weights."
        )


def as_group_mapping(values):
    """Return a dict for mapping-likes (dict, pandas Series indexed by group), else ``values``.

    A Series is aligned by its index, never by position: ``groupby("group").size()``
    must weight the right groups whatever order its index is in.
    """
    if isinstance(values, Mapping):
        return dict(values)
    if type(values).__module__.startswith("pandas") and hasattr(values, "items"):
        if getattr(values, "ndim", None) == 1:
            return dict(values.items())
    return values


def _per_group_values(mapping_or_sequence, unique_groups, name, caller):
    """Align a dict group -> value or a sequence in sorted-group order with ``unique_groups``."""
    mapping_or_sequence = as_group_mapping(mapping_or_sequence)
    groups_text = _listed(unique_groups.tolist())
    if isinstance(mapping_or_sequence, dict):
        missing = [group for group in unique_groups.tolist() if group not in mapping_or_sequence]
        if missing:
            raise ValueError(
                f"{caller}: {name} has no entry for group(s) {_listed(missing)}; the data has "
                f"groups {groups_text}. Add an entry for every group."
            )
        return [mapping_or_sequence[group] for group in unique_groups.tolist()]
    if isinstance(mapping_or_sequence, (str, bytes)):
        raise ValueError(
            f"{caller}: {name} must be a dict group -> value or a sequence with one entry per "
            f"group; got the string {mapping_or_sequence!r}."
        )
    array = np.asarray(mapping_or_sequence, dtype=object)
    if array.ndim != 1:
        raise ValueError(
            f"{caller}: {name} must be a dict group -> value or a 1-D sequence with one "
            f"entry per group; got an array of shape {array.shape}."
        )
    values = list(array)
    if len(values) != len(unique_groups):
        raise ValueError(
            f"{caller}: {name} has {len(values)} entries but the data has "
            f"{len(unique_groups)} groups {groups_text}. Pass one entry per group in sorted "
            f"group order, or a dict group -> value."
        )
    return values


def resolve_group_weights(weights, unique_groups, *, caller):
    """Return one finite, non-negative weight per group, aligned with ``unique_groups``.

    Returns
    -------
    weights : ndarray of shape (n_groups,), dtype float64
    """
    weights = as_group_mapping(weights)
    if isinstance(weights, dict):
        known_groups = set(unique_groups.tolist())
        unknown = [group for group in weights if group not in known_groups]
        if unknown:
            raise ValueError(
                f"{caller}: weights names group(s) {_listed(unknown)} that do not occur in "
                f"groups {_listed(unique_groups.tolist())}. Remove them, or check that the "
                f"weight keys use the same labels (and type) as groups."
            )
    values = _per_group_values(weights, unique_groups, "weights", caller)
    try:
        resolved = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{caller}: weights must be numbers; got {_listed(values)}.") from err
    if not np.all(np.isfinite(resolved)) or np.any(resolved < 0):
        raise ValueError(f"{caller}: weights must be finite and non-negative; got {_listed(resolved.tolist())}.")
    if resolved.sum() == 0:
        raise ValueError(f"{caller}: weights sum to 0; give at least one group a positive weight.")
    return resolved


def resolve_group_names(group_names, unique_groups, *, caller):
    """Return the groups to report, one distinct display name each, and which have samples.

    The groups are those of the data plus, for a dict (or Series), every group it
    names that the data lacks: such a group had no evaluated sample (every image
    unreadable, or a subset without it) and must be reported as empty, not dropped.

    Returns
    -------
    groups : list
        The data's groups and the named empty groups, in sorted order.
    names : list of str
        The display name of each (default: ``str(group)``).
    present : ndarray of shape (n_reported_groups,), dtype bool
        False for the named groups without samples.
    """
    groups = unique_groups.tolist()
    mapping = as_group_mapping(group_names)
    if isinstance(mapping, dict):
        _per_group_values(mapping, unique_groups, "group_names", caller)  # every data group named
        known = set(groups)
        empty = [group for group in mapping if group not in known]
        try:
            groups = sorted([*groups, *empty])
        except TypeError as err:
            raise ValueError(
                f"{caller}: group_names names group(s) {_listed(empty)} whose labels cannot be "
                f"ordered with the data's groups {_listed(unique_groups.tolist())}; use one type of "
                "group label."
            ) from err
        names = [str(mapping[group]) for group in groups]
    elif group_names is None:
        names = [str(group) for group in groups]
    else:
        names = [str(name) for name in _per_group_values(group_names, unique_groups, "group_names", caller)]
    known = set(unique_groups.tolist())
    present = np.array([group in known for group in groups], dtype=bool)
    seen = {}
    for group, name in zip(groups, names):
        if name in seen:
            raise ValueError(
                f"{caller}: group_names gives the same name {name!r} to groups "
                f"{seen[name]!r} and {group!r}; give every group a distinct name."
            )
        seen[name] = group
    return groups, names, present
