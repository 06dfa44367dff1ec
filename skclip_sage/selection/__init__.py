"""Selection: the pure array math of SAGE, its baselines and its training-free relatives.

Arrays in, arrays out (NumPy, or torch tensors on CPU or CUDA): nothing here
knows files, models or scikit-learn. :func:`score_embeddings` is the entry
point the estimators use; the rest is exposed for tests and benchmarks. The
methods (SAGE, the template baselines, AutoCLIP, ZPE, PerceptionCLIP and the
score average WaffleCLIP uses) are one table, ``SELECTION_METHODS``; a method with options
is also an object (:class:`ZPE`, :class:`AutoCLIP`, :class:`PerceptionCLIP`) that
``SageZeroShotClassifier(selection=...)`` takes, and :func:`register_selection` adds one.
"""

from ._aggregation import Scoring, aggregate_in_chunks, mean_similarity_head, weighted_similarity_head
from ._autoclip import autoclip_scores, autoclip_step_sizes, autoclip_weights
from ._baselines import random_template_indices, text_selected_templates, worst_class_pair_similarity
from ._chunks import score_in_chunks, template_similarities
from ._fitting import (
    LEGACY_PARAMETERS,
    fit_selection,
    fitted_scores,
    image_learner,
    images_to_learn_from,
    pool_templates,
    resolve,
)
from ._methods import (
    POOL_METHODS,
    POOL_NAMES,
    SELECTION_METHODS,
    SELECTION_NAMES,
    SELECTIONS,
    SELECTIONS_LEARNING_FROM_IMAGES,
    SELECTIONS_USING_K,
    Aggregation,
    SelectionMethod,
    TemplateChoice,
    check_count,
    check_k,
    describe_selections,
    register_selection,
    selection_record,
    templates_per_image,
    unregister_selection,
)
from ._norms import RowScaling, row_scaling
from ._options import PERCEPTION_MIN_TEMPERATURE, ZPE, AutoCLIP, PerceptionCLIP, ScoreAverage, SelectionOptions
from ._perception import perception_log_probabilities, perception_scores
from ._prototypes import class_gram_matrices, fixed_prototypes, l2_normalize, prototype_scores
from ._sage import sage_scores, template_separation
from ._scoring import score_embeddings, softmax
from ._top_k import top_k_templates
from ._zpe import zpe_keep, zpe_template_scores, zpe_weights

__all__ = [
    "LEGACY_PARAMETERS",
    "PERCEPTION_MIN_TEMPERATURE",
    "POOL_METHODS",
    "POOL_NAMES",
    "SELECTION_NAMES",
    "ZPE",
    "Aggregation",
    "AutoCLIP",
    "PerceptionCLIP",
    "ScoreAverage",
    "SelectionOptions",
    "TemplateChoice",
    "check_count",
    "check_k",
    "fit_selection",
    "fitted_scores",
    "image_learner",
    "images_to_learn_from",
    "pool_templates",
    "register_selection",
    "resolve",
    "selection_record",
    "templates_per_image",
    "unregister_selection",
    "SELECTIONS",
    "SELECTIONS_LEARNING_FROM_IMAGES",
    "SELECTIONS_USING_K",
    "SELECTION_METHODS",
    "RowScaling",
    "Scoring",
    "SelectionMethod",
    "aggregate_in_chunks",
    "autoclip_scores",
    "autoclip_step_sizes",
    "autoclip_weights",
    "class_gram_matrices",
    "describe_selections",
    "fixed_prototypes",
    "l2_normalize",
    "mean_similarity_head",
    "perception_log_probabilities",
    "perception_scores",
    "prototype_scores",
    "random_template_indices",
    "row_scaling",
    "sage_scores",
    "score_embeddings",
    "score_in_chunks",
    "softmax",
    "template_separation",
    "template_similarities",
    "text_selected_templates",
    "top_k_templates",
    "weighted_similarity_head",
    "worst_class_pair_similarity",
    "zpe_keep",
    "zpe_template_scores",
    "zpe_weights",
]
