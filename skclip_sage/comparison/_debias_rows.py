"""The debiasing rows of a comparison: RoboShot, TIE*, Orth-Proj, Orth-Cali, and two stacked with SAGE."""

from __future__ import annotations

from sklearn.pipeline import make_pipeline

from .._classifier import SageZeroShotClassifier
from ..debias import CONCEPT_PRESETS, OrthogonalCalibration, RoboShotProjection, SpuriousTranslation
from ._methods import ComparisonMethod

__all__ = ["DEBIAS_MODES", "debias_methods"]

DEBIAS_MODES = ("roboshot", "tie*", "orth_proj", "orth_cali", "roboshot+sage", "orth_cali+sage")
"""The debiasing rows, in table order."""

# Parameters the image-side transformers share with the classifier (the text-encoding path).
ENCODER_PARAMETERS = ("pretrained", "device", "precision", "batch_size", "truncate", "cache_dir")
CONCEPT_FIELDS = ("harmful", "helpful", "spurious_prompts", "orthogonal_prompts", "pairs")

DESCRIPTIONS = {
    "roboshot": "RoboShot: harmful concept directions rejected from, helpful ones boosted in, the image "
    "embeddings; then zero-shot with template 0",
    "tie*": "TIE*: each image translated away from its inferred attribute's prompt, scales from {fit_on} "
    "images; then zero-shot with template 0",
    "orth_proj": "Orth-Proj: class text embeddings projected off the spurious prompts' span; template 0",
    "orth_cali": "Orth-Cali: Orth-Proj calibrated to treat class x attribute pairs alike (lam={lam:g}); template 0",
    "roboshot+sage": "RoboShot on the images, then SAGE (K={k})",
    "orth_cali+sage": "Orth-Cali on the whole text bank, then SAGE (K={k})",
}


def debias_methods(
    model,
    *,
    class_names,
    concepts,
    templates="openai_imagenet",
    modes=DEBIAS_MODES,
    lam=1000.0,
    sage_k=1,
    tie_fit_on="train",
    **classifier_parameters,
):
    """One row per debiasing method, each with the same model and prompts as the selection rows.

    Parameters
    ----------
    model : str or TextImageEncoder
        As :class:`~skclip_sage.SageZeroShotClassifier`'s ``model``; shared by the
        transformers, so a row loads it once.
    class_names : dict or list of str
        Text of each class.
    concepts : str or ConceptPreset
        A preset name of ``skclip_sage.debias.CONCEPT_PRESETS`` or an object
        with its fields (``harmful``, ``helpful``, ``spurious_prompts``,
        ``orthogonal_prompts``, ``pairs``), e.g. a simulation's ``concepts``.
    templates : str or list of str, default="openai_imagenet"
        The template pool; the single-template rows use its first template.
    modes : sequence of str, default=DEBIAS_MODES
        Which rows, in order.
    lam : float, default=1000.0
        Orth-Cali's calibration weight.
    sage_k : int, default=1
        K of the rows stacked with SAGE.
    tie_fit_on : {"train", "evaluation"}, default="train"
        Where TIE* estimates its scales: the unlabelled training split (the
        method's protocol) or the evaluated images (a deviation, for datasets
        without a training split).
    **classifier_parameters : dict
        Other classifier parameters (``pretrained``, ``device``, ``cache_dir``,
        ...); the encoder ones are passed to the transformers too.

    Returns
    -------
    methods : list of ComparisonMethod

    Examples
    --------
    >>> methods = debias_methods("ViT-B-32", class_names=["landbird", "waterbird"], concepts="waterbirds")
    >>> [(method.name, method.k, method.fit_on) for method in methods][:2]
    [('roboshot', 1, 'evaluation'), ('tie*', 1, 'train')]
    """
    unknown = [mode for mode in modes if mode not in DEBIAS_MODES]
    if unknown:
        raise ValueError(f"debias_methods: unknown modes {unknown}; choose from {DEBIAS_MODES}.")
    texts = _concept_texts(concepts)
    encoder_parameters = {
        name: classifier_parameters[name] for name in ENCODER_PARAMETERS if name in classifier_parameters
    }

    def classifier(selection="single", k=1, text_debias=None):
        return SageZeroShotClassifier(
            model,
            templates=templates,
            class_names=class_names,
            selection=selection,
            k=k,
            text_debias=text_debias,
            **classifier_parameters,
        )

    def roboshot():
        return RoboShotProjection(model, harmful=texts["harmful"], helpful=texts["helpful"], **encoder_parameters)

    calibration = OrthogonalCalibration(spurious_prompts=texts["orthogonal_prompts"], pairs=texts["pairs"], lam=lam)
    builders = {
        "roboshot": lambda: make_pipeline(roboshot(), classifier()),
        "tie*": lambda: make_pipeline(
            SpuriousTranslation(model, spurious_prompts=texts["spurious_prompts"], **encoder_parameters),
            classifier(),
        ),
        "orth_proj": lambda: classifier(
            text_debias=OrthogonalCalibration(spurious_prompts=texts["orthogonal_prompts"], lam=0.0)
        ),
        "orth_cali": lambda: classifier(text_debias=calibration),
        "roboshot+sage": lambda: make_pipeline(roboshot(), classifier("sage", sage_k)),
        "orth_cali+sage": lambda: classifier("sage", sage_k, text_debias=calibration),
    }
    fit_on_text = "training-split" if tie_fit_on == "train" else "the evaluated (a deviation: no training split)"
    methods = []
    for mode in modes:
        k = sage_k if mode.endswith("+sage") else 1
        description = DESCRIPTIONS[mode].format(fit_on=fit_on_text, lam=lam, k=k)
        fit_on = tie_fit_on if mode == "tie*" else "evaluation"
        methods.append(ComparisonMethod(mode, builders[mode](), k=k, fit_on=fit_on, description=description))
    return methods


def _concept_texts(concepts):
    if isinstance(concepts, str):
        if concepts not in CONCEPT_PRESETS:
            raise ValueError(
                f"debias_methods: concepts={concepts!r} is not a preset; choose one of {sorted(CONCEPT_PRESETS)}."
            )
        concepts = CONCEPT_PRESETS[concepts]
    missing = [name for name in CONCEPT_FIELDS if not hasattr(concepts, name) and name not in concepts]
    if missing:
        raise ValueError(f"debias_methods: concepts lacks {missing}; give a preset name or a ConceptPreset.")
    return {name: getattr(concepts, name) if hasattr(concepts, name) else concepts[name] for name in CONCEPT_FIELDS}
