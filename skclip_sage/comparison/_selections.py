"""Which sources a per-image selection drew its templates from, per subset of the images.

A per-image method (SAGE, the random draws) picks templates for every image; when
the pool's templates come from sources with different biases, the share of each
source among an image subset's picks says what the method did: SAGE choosing the
templates whose bias runs against a minority image's attribute shows as a high share
of those templates among minority-group images and a low one among majority-group
images; a random draw gives every subset the pool's own proportions.
"""

from __future__ import annotations

import numpy as np

from ..selection import SELECTION_METHODS

__all__ = ["check_subsets", "chooses_per_image", "final_classifier", "per_image_templates", "selection_shares"]


def final_classifier(fitted):
    """The classifier of a fitted row: the estimator itself, or a pipeline's last step."""
    return fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted


def check_subsets(subsets, n_samples):
    """``subsets`` as ``{name: boolean mask}`` over ``n_samples`` images (all images when None).

    Parameters
    ----------
    subsets : dict of str to array-like of bool, or None
        Named subsets of the evaluated images.
    n_samples : int
        Evaluated images.

    Returns
    -------
    subsets : dict of str to ndarray of bool of shape (n_samples,)
    """
    if subsets is None:
        return {"all images": np.ones(n_samples, dtype=bool)}
    checked = {}
    for name, mask in subsets.items():
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (n_samples,):
            raise ValueError(
                f"subsets[{name!r}] must be a boolean mask over the {n_samples} evaluated images; got an array "
                f"of dtype {mask.dtype} and shape {mask.shape}."
            )
        checked[str(name)] = mask
    return checked


def selection_shares(fitted, X, template_sources, subsets):
    """For a per-image selection, the share of each source among the templates picked per subset.

    Parameters
    ----------
    fitted : estimator
        A fitted :class:`~skclip_sage.SageZeroShotClassifier`, or a pipeline ending
        in one (its earlier steps transform ``X`` first).
    X : array-like of shape (n_samples, n_features)
        The evaluated image embeddings.
    template_sources : list of str
        The source of each template of the classifier's pool, in pool order.
    subsets : dict of str to ndarray of bool of shape (n_samples,)
        Named subsets of the images, as checked by ``check_subsets``.

    Returns
    -------
    shares : list of dict or None
        None when the classifier does not choose templates per image (one fixed
        set, or a pool of one). Otherwise one dict per subset: ``subset`` (its
        name), ``n_images`` and ``shares`` (``{source: percent}``, over the K
        templates of every image of the subset, so for K = 1 the share of its
        images whose template comes from that source).
    """
    classifier = final_classifier(fitted)
    n_templates = len(getattr(classifier, "templates_", ()))
    if chooses_per_image(classifier) and len(template_sources) != n_templates:
        raise ValueError(
            f"template_sources names {len(template_sources)} templates but the {classifier.selection!r} classifier "
            f"has a pool of {n_templates}; give one source per template of the pool it is fitted with."
        )
    selected = per_image_templates(fitted, X)
    if selected is None:
        return None
    labels = np.asarray(template_sources, dtype=object)[selected]
    names = list(dict.fromkeys(template_sources))
    shares = []
    for subset, mask in subsets.items():
        picked = labels[mask]
        shares.append(
            {
                "subset": subset,
                "n_images": int(mask.sum()),
                "shares": {
                    name: float(100 * np.mean(picked == name)) if picked.size else float("nan") for name in names
                },
            }
        )
    return shares


def chooses_per_image(classifier) -> bool:
    """Whether the fitted classifier chooses templates per image, from a pool of more than one."""
    selection = getattr(classifier, "selection", None)
    method = SELECTION_METHODS.get(getattr(selection, "name", selection))  # a name or a method object
    return method is not None and method.per_image and len(getattr(classifier, "templates_", ())) > 1


def per_image_templates(fitted, X):
    """The templates each image was classified with, or None when the classifier does not choose per image.

    ``fitted`` is a classifier or a pipeline ending in one (its earlier steps transform ``X`` first).
    """
    classifier = final_classifier(fitted)
    if not chooses_per_image(classifier):
        return None
    if hasattr(fitted, "steps") and len(fitted.steps) > 1:
        X = fitted[:-1].transform(X)
    return np.asarray(classifier.selected_templates(X))
