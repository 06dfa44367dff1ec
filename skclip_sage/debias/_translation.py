"""SpuriousTranslation (TIE*): translate each image embedding away from its inferred spurious attribute."""

from __future__ import annotations

from sklearn.utils._param_validation import StrOptions

from ..utils._docstrings import fill_docstring
from ._base import MODEL_PARAMETERS, ConceptTransformer
from ._linear_algebra import translate, translation_scales
from ._presets import CONCEPT_PRESETS, concept_preset
from ._texts import check_texts

__all__ = ["SpuriousTranslation"]


@fill_docstring(model_parameters=MODEL_PARAMETERS)
class SpuriousTranslation(ConceptTransformer):
    """TIE*: subtract from each image embedding its spurious attribute's text direction.

    ``v_a`` is the unit embedding of the prompt of attribute value ``a`` (e.g. "a
    photo with a water background"). Each image is given the attribute it is most
    similar to, ``a = argmax_a x . v_a`` (no labels: TIE proper uses the true
    attribute, an oracle; TIE* is the label-free variant). ``fit`` estimates, from
    the unlabelled images it is given, ``lambda_a`` = the mean of ``x . v_a`` over
    the images given ``a``; ``transform`` returns ``normalize(x - lambda_a v_a)``.

    Parameters
    ----------
    %(model_parameters)s
    spurious_prompts : list of str, default=None
        One prompt per value of the spurious attribute (at least two).
    concepts : {"waterbirds", "celeba", "pacs", "vlcs"}, default=None
        A preset of the prompts (see ``skclip_sage.debias.CONCEPT_PRESETS``);
        then ``spurious_prompts`` must be None.

    Attributes
    ----------
    prompt_embeddings_ : ndarray of shape (n_attributes, n_features)
        Unit embeddings ``v_a`` of the prompts.
    scales_ : ndarray of shape (n_attributes,)
        ``lambda_a``. An attribute no fitted image was given gets the mean
        similarity of all fitted images to its prompt.
    attribute_counts_ : ndarray of shape (n_attributes,)
        How many fitted images were given each attribute.
    n_features_in_ : int
        Width of the embeddings.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of ``X``, when it is a DataFrame with string column names.

    See Also
    --------
    RoboShotProjection : RoboShot, projecting off concept directions.

    Notes
    -----
    Fit on the *training* split's images (unlabelled), as TIE does; fitting on the
    images to be classified is a deviation from the method. The reference CelebA
    notebook (``lu876/TIE``) translates the raw, unnormalised embedding; this
    implementation, like its Waterbirds notebook, normalises first.

    References
    ----------
    Lu, Chai, Wang. "Mitigating Spurious Correlations in Zero-Shot Multimodal
    Models", ICLR 2025.

    Examples
    --------
    >>> import numpy as np
    >>> from skclip_sage.debias import SpuriousTranslation
    >>> class AxisEncoder:  # "land" along (0, -1), "water" along (0, 1)
    ...     identity, embedding_dim, logit_scale = "axes", 2, 100.0
    ...     def encode_text(self, texts):
    ...         return np.array([[0.0, -1.0] if "land" in t else [0.0, 1.0] for t in texts])
    >>> tie = SpuriousTranslation(AxisEncoder(), spurious_prompts=["land", "water"])
    >>> tie.fit([[0.6, 0.8], [0.6, -0.8]]).scales_.round(2).tolist()
    [0.8, 0.8]
    >>> tie.transform([[0.6, 0.8]])
    array([[1., 0.]], dtype=float32)
    """

    _parameter_constraints: dict = {
        **ConceptTransformer._parameter_constraints,
        "spurious_prompts": [list, tuple, None],
        "concepts": [StrOptions(set(CONCEPT_PRESETS)), None],
    }

    def __init__(
        self,
        model="ViT-B-32",
        *,
        spurious_prompts=None,
        concepts=None,
        pretrained="laion2b_s34b_b79k",
        device="auto",
        precision="auto",
        batch_size=256,
        truncate=False,
        cache_dir=None,
        on_nan="raise",
    ):
        self.model = model
        self.spurious_prompts = spurious_prompts
        self.concepts = concepts
        self.pretrained = pretrained
        self.device = device
        self.precision = precision
        self.batch_size = batch_size
        self.truncate = truncate
        self.cache_dir = cache_dir
        self.on_nan = on_nan

    def _prompts(self):
        owner = type(self).__name__
        if self.concepts is not None:
            if self.spurious_prompts is not None:
                raise ValueError(f"{owner}: pass either concepts={self.concepts!r} or spurious_prompts, not both.")
            prompts = concept_preset(self.concepts, owner).spurious_prompts
        elif self.spurious_prompts is None:
            raise ValueError(
                f"{owner} needs spurious_prompts (one prompt per attribute value, e.g. ['a photo with a land "
                f"background', 'a photo with a water background']) or a preset: concepts in "
                f"{sorted(CONCEPT_PRESETS)}."
            )
        else:
            prompts = self.spurious_prompts
        return check_texts(prompts, name="spurious_prompts", owner=owner, minimum=2)

    def _check_texts(self):
        self._prompts()

    def _fit_texts(self, encoder, X):
        self.prompt_embeddings_ = self._encode(encoder, self._prompts())
        self.scales_, self.attribute_counts_ = translation_scales(X, self.prompt_embeddings_)

    def _transform(self, X):
        return translate(X, self.prompt_embeddings_, self.scales_)
