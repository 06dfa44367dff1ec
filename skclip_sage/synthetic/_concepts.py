"""Simulated concept texts for the debiasing methods, along the simulator's own directions.

RoboShot, TIE* and Orth-Proj/Orth-Cali read the spurious and core concepts from
text: attribute prompts, contrast pairs, class x attribute captions. Here each such
text gets an embedding built like a prompt's, from a shared "caption" style
direction, signed amounts of the simulator's ``core`` and ``spurious`` directions,
and independent noise, so those methods find (noisy versions of) the directions the
images are made of, and the comparison is meaningful offline. Nothing about their
accuracy is built in: it comes from running the estimators on these embeddings.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

__all__ = ["simulated_concepts"]

# Amount of the signal direction in a concept text, against a caption style of 1.
CONCEPT_STRENGTH = 0.6
# Concept texts are not pure: a text about water also says a little "waterbird" (the
# class that co-occurs with it), one about webbed feet a little "water". This share
# of the other direction keeps every method from finding the signal exactly.
CONFOUND = 0.35


def simulated_concepts(core, spurious, class_names, attribute_names, text_noise, rng):
    """Texts for every debiasing method and their simulated embeddings.

    Parameters
    ----------
    core, spurious : ndarray of shape (d,)
        The simulator's orthonormal signal directions.
    class_names, attribute_names : list of 2 str
        Class 0/1 and attribute 0/1 names (class ``c`` co-occurs with attribute ``c``).
    text_noise : float
        Scale of the independent noise of every text, as for prompts.
    rng : numpy.random.Generator
        Draws the caption style and the noise.

    Returns
    -------
    concepts : sklearn.utils.Bunch
        ``harmful``, ``helpful`` (lists of pairs), ``spurious_prompts`` (one per
        attribute value, in attribute order), ``orthogonal_prompts`` and ``pairs``:
        the fields of :class:`~skclip_sage.debias.ConceptPreset`.
    embeddings : dict
        ``text -> ndarray of shape (d,)``, unit norm, for every text above.
    """
    dim = len(core)
    style = rng.standard_normal(dim)
    style -= (style @ core) * core + (style @ spurious) * spurious
    style /= np.linalg.norm(style)
    sign = {0: -1.0, 1: 1.0}
    first, second = attribute_names
    texts = {}  # text -> (core coefficient, spurious coefficient)
    spurious_prompts = [f"a photo with a {name} background" for name in attribute_names]
    for value, text in enumerate(spurious_prompts):
        texts[text] = (CONFOUND * sign[value], sign[value])
    orthogonal_prompts = [f"a photo of {name}" for name in attribute_names] + [
        f"a scene of {name}" for name in attribute_names
    ]
    for index, text in enumerate(orthogonal_prompts):
        texts[text] = (CONFOUND * sign[index % 2], sign[index % 2])
    harmful = [
        (f"something in a {second} setting", f"something in a {first} setting"),
        (f"a {second} background", f"a {first} background"),
    ]
    helpful = [
        (f"an animal with {class_names[1]} features", f"an animal with {class_names[0]} features"),
        (f"the body shape of a {class_names[1]}", f"the body shape of a {class_names[0]}"),
    ]
    for pairs, axis in ((harmful, 1), (helpful, 0)):
        for positive, negative in pairs:
            for text, value in ((positive, 1.0), (negative, -1.0)):
                texts[text] = (value, CONFOUND * value) if axis == 0 else (CONFOUND * value, value)
    pairs = []
    for label, name in enumerate(class_names):
        captions = [f"a photo of a {name} with a {attribute} background" for attribute in attribute_names]
        for value, caption in enumerate(captions):
            texts[caption] = (sign[label], sign[value])
        pairs.append(tuple(captions))
    embeddings = {}
    for text, (core_amount, spurious_amount) in texts.items():
        vector = (
            style
            + CONCEPT_STRENGTH * (core_amount * core + spurious_amount * spurious)
            + text_noise * rng.standard_normal(dim) / np.sqrt(dim)
        )
        embeddings[text] = (vector / np.linalg.norm(vector)).astype(np.float32)
    concepts = Bunch(
        harmful=harmful,
        helpful=helpful,
        spurious_prompts=spurious_prompts,
        orthogonal_prompts=orthogonal_prompts,
        pairs=pairs,
    )
    return concepts, embeddings
