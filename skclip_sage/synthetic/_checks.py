"""Parameter checks of the simulator: every message names the parameter and what it accepts."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

DEFAULT_N_TEMPLATES = 80


def infer_n_templates(n_templates, *per_template_values):
    if n_templates is not None:
        return check_count("n_templates", n_templates, minimum=1)
    lengths = {np.shape(value)[0] for value in per_template_values if np.ndim(value) >= 1}
    if len(lengths) > 1:
        raise ValueError(f"make_spurious_bias: core_weights and leakage disagree on n_templates ({sorted(lengths)}).")
    return lengths.pop() if lengths else DEFAULT_N_TEMPLATES


def per_template(name, value, n_templates):
    array = (
        np.broadcast_to(np.asarray(value, dtype=float), (n_templates,))
        if np.ndim(value) == 0
        else np.asarray(value, dtype=float)
    )
    if array.shape != (n_templates,) or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(
            f"make_spurious_bias: {name} must be a non-negative number or {n_templates} of them "
            f"(one per template); got shape {np.shape(value)}."
        )
    return array.copy()


def signed_leakage(leakage, n_templates):
    if np.ndim(leakage) == 2:
        array = np.asarray(leakage, dtype=float)
        if array.shape != (n_templates, 2) or not np.all(np.isfinite(array)):
            raise ValueError(
                f"make_spurious_bias: a 2-D leakage must have shape ({n_templates}, 2) with finite values; "
                f"got {array.shape}."
            )
        return array.copy()
    magnitude = per_template("leakage", leakage, n_templates)
    # Class 0 co-occurs with attribute 0 (the negative spurious side), class 1 with attribute 1.
    return np.stack([-magnitude, magnitude], axis=1)


def unit_vector(name, value, dim):
    vector = np.asarray(value, dtype=float)
    norm = np.linalg.norm(vector) if vector.shape == (dim,) else 0.0
    if not np.isfinite(norm) or norm < 1e-12:
        raise ValueError(
            f"make_spurious_bias: {name} must be a finite, non-zero vector of length embedding_dim={dim}; "
            f"got shape {vector.shape}."
        )
    return vector / norm


def check_count(name, value, *, minimum):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"make_spurious_bias: {name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_non_negative(name, value):
    if not isinstance(value, Real) or isinstance(value, bool) or not np.isfinite(value) or value < 0:
        raise ValueError(f"make_spurious_bias: {name} must be a finite number >= 0; got {value!r}.")


def check_names(name, values):
    if (
        isinstance(values, str)
        or len(values) != 2
        or len(set(values)) != 2
        or not all(isinstance(value, str) and value.strip() for value in values)
    ):
        raise ValueError(f"make_spurious_bias: {name} must be two distinct non-empty strings; got {values!r}.")
    return list(values)
