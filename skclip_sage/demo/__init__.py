"""A learned, offline demo: a tiny CLIP trained on spuriously coloured digits.

:func:`write_coloured_digits` writes the benchmark (scikit-learn's digits, coloured so
that colour predicts the class in training), :func:`caption_sources` and
:func:`design_captions` the caption design that plants the spurious bias in the text
tower (two caption sources with different colour leakage, or the uniform control),
:func:`train_tiny_clip` trains an open_clip model on them,
:func:`coloured_digits_concepts` gives the debiasing methods their texts, and
:func:`run_demo` runs the whole comparison on its images.
torch and open_clip are imported only by the functions that train or embed.
"""

from ._captions import CAPTION_TEMPLATES, COLOUR_CAPTION_TEMPLATES, digit_captions
from ._concepts import coloured_digits_concepts
from ._design import DESIGNS, SOURCE_LABELS, caption_sources, design_captions, pool_sources, source_templates
from ._digits import COLOURS, DIGIT_NAMES, load_coloured_digits, write_coloured_digits
from ._files import DemoFilesError
from ._run import run_demo
from ._training import TrainingSummary, tiny_clip_config, train_tiny_clip

__all__ = [
    "CAPTION_TEMPLATES",
    "COLOURS",
    "COLOUR_CAPTION_TEMPLATES",
    "DESIGNS",
    "DIGIT_NAMES",
    "DemoFilesError",
    "SOURCE_LABELS",
    "TrainingSummary",
    "caption_sources",
    "coloured_digits_concepts",
    "design_captions",
    "digit_captions",
    "load_coloured_digits",
    "pool_sources",
    "run_demo",
    "source_templates",
    "tiny_clip_config",
    "train_tiny_clip",
    "write_coloured_digits",
]
