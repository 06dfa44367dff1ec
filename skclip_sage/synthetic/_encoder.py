"""A text encoder that looks simulated prompt embeddings up instead of running a model.

It implements the text side of :class:`~skclip_sage.encoders.TextImageEncoder`, so
:class:`~skclip_sage.SageZeroShotClassifier` runs its real code (prompt expansion,
text-bank caching, selection, scoring) on simulated embeddings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

__all__ = ["SimulatedTextEncoder"]

CLIP_LOGIT_SCALE = 100.0


class SimulatedTextEncoder:
    """Map each prompt ``template.format(class_name)`` to a fixed simulated embedding.

    Parameters
    ----------
    templates : sequence of str
        Templates, each with one ``{}`` for the class name.
    class_names : sequence of str
        The text put into the templates for each class.
    text_embeddings : array-like of shape (n_templates, n_classes, embedding_dim)
        Embedding of ``templates[t].format(class_names[c])`` at ``[t, c]``.
    logit_scale : float, default=100.0
        Similarity-to-logit multiplier (CLIP's value by default).
    extra_embeddings : dict, default=None
        ``text -> embedding`` for texts other than the prompts, e.g. the concept
        texts the debiasing methods encode (:mod:`skclip_sage.debias`).

    Attributes
    ----------
    identity : str
        ``"simulated-text:<hash>"`` of the prompts and embeddings, so the
        classifier's text-bank cache never mixes two different simulations.
    embedding_dim : int
        Width of the embeddings.
    logit_scale : float
        As given.

    See Also
    --------
    make_spurious_bias : Builds a simulation and its encoder.

    Notes
    -----
    The encoder pickles (and deep-copies, as :func:`sklearn.base.clone` does) like
    any plain Python object: it holds only strings and NumPy arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage.synthetic import SimulatedTextEncoder
    >>> bank = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> encoder = SimulatedTextEncoder(["a photo of a {}."], ["cat", "dog"], bank)
    >>> encoder.encode_text(["a photo of a dog.", "a photo of a cat."])
    array([[0., 1.],
           [1., 0.]], dtype=float32)
    """

    def __init__(self, templates, class_names, text_embeddings, *, logit_scale=CLIP_LOGIT_SCALE, extra_embeddings=None):
        bank = np.asarray(text_embeddings, dtype=np.float32)
        templates, class_names = list(templates), list(class_names)
        if bank.ndim != 3 or bank.shape[:2] != (len(templates), len(class_names)):
            raise ValueError(
                f"SimulatedTextEncoder: text_embeddings must have shape (n_templates, n_classes, "
                f"embedding_dim) = ({len(templates)}, {len(class_names)}, D); got {bank.shape}."
            )
        self.templates = templates
        self.class_names = class_names
        self.text_embeddings = bank
        self.embedding_dim = int(bank.shape[2])
        self.logit_scale = float(logit_scale)
        # Rows are looked up by prompt text; building the index once keeps
        # encode_text a dictionary lookup per prompt.
        self._rows = {
            template.format(name): (t, c) for t, template in enumerate(templates) for c, name in enumerate(class_names)
        }
        if len(self._rows) != bank.shape[0] * bank.shape[1]:
            raise ValueError(
                "SimulatedTextEncoder: two template x class combinations give the same prompt; "
                "make the templates and class names distinct."
            )
        extras = {} if extra_embeddings is None else dict(extra_embeddings)
        clashes = sorted(set(extras) & set(self._rows))
        if clashes:
            raise ValueError(f"SimulatedTextEncoder: extra_embeddings repeat prompts of the simulation: {clashes[:3]}.")
        extra_matrix = np.asarray(list(extras.values()), dtype=np.float32).reshape(len(extras), -1 if extras else 0)
        if extras and extra_matrix.shape[1] != self.embedding_dim:
            raise ValueError(
                f"SimulatedTextEncoder: extra_embeddings must be {self.embedding_dim} wide; got {extra_matrix.shape[1]}."
            )
        self.extra_texts = list(extras)
        self._extra_rows = dict(zip(extras, extra_matrix))
        digest = hashlib.sha256(
            repr((templates, class_names, self.extra_texts)).encode() + bank.tobytes() + extra_matrix.tobytes()
        ).hexdigest()
        self.identity = f"simulated-text:{digest[:16]}"

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Return the simulated embedding of each prompt.

        Parameters
        ----------
        texts : sequence of str
            Prompts ``template.format(class_name)`` of this simulation.

        Returns
        -------
        embeddings : ndarray of shape (len(texts), embedding_dim), float32
        """
        unknown = [text for text in texts if text not in self._rows and text not in self._extra_rows]
        if unknown:
            raise ValueError(
                f"SimulatedTextEncoder knows only the {len(self._rows)} prompts and {len(self._extra_rows)} "
                "concept texts of its simulation; "
                f"got {len(unknown)} others, e.g. {unknown[:3]}. Pass templates=simulation.templates "
                "and class_names=simulation.class_names (or a subset of the templates) to the classifier."
            )
        if not texts:
            return np.empty((0, self.embedding_dim), dtype=np.float32)
        return np.stack(
            [
                self._extra_rows[text] if text in self._extra_rows else self.text_embeddings[self._rows[text]]
                for text in texts
            ]
        )

    def __repr__(self):
        return (
            f"SimulatedTextEncoder(n_templates={len(self.templates)}, class_names={self.class_names}, "
            f"embedding_dim={self.embedding_dim})"
        )
