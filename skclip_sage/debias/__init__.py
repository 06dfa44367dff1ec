"""Training-free debiasing of CLIP embeddings, composable with SAGE.

- :class:`RoboShotProjection` (RoboShot): removes harmful concept directions from
  image embeddings and boosts helpful ones; a transformer.
- :class:`SpuriousTranslation` (TIE*): translates each image embedding away from
  the text direction of its inferred spurious attribute, with scales estimated on
  unlabelled images; a transformer.
- :class:`OrthogonalCalibration` (Orth-Proj / Orth-Cali): projects class text
  embeddings off a spurious concept; the classifier's ``text_debias``.

Put a transformer before :class:`~skclip_sage.SageZeroShotClassifier` in a
pipeline, or pass the calibration as ``text_debias=``; none needs labels.
"""

from ._orthogonal import OrthogonalCalibration
from ._presets import CONCEPT_PRESETS, ConceptPreset
from ._roboshot import RoboShotProjection
from ._translation import SpuriousTranslation

__all__ = [
    "CONCEPT_PRESETS",
    "ConceptPreset",
    "OrthogonalCalibration",
    "RoboShotProjection",
    "SpuriousTranslation",
]
