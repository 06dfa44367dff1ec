"""Template selection: the pure array math of SAGE and its baselines.

Arrays in, arrays out (NumPy, or torch tensors on CPU or CUDA): nothing here
knows files, models or scikit-learn. :func:`score_embeddings` is the entry
point the estimators use; the rest is exposed for tests and benchmarks.
"""

from ._baselines import random_template_indices, text_selected_templates, worst_class_pair_similarity
from ._methods import SELECTION_METHODS, SELECTIONS, SELECTIONS_USING_K, SelectionMethod, describe_selections
from ._norms import RowScaling, row_scaling
from ._prototypes import class_gram_matrices, fixed_prototypes, l2_normalize, prototype_scores
from ._sage import sage_scores, score_in_chunks, template_separation, template_similarities
from ._scoring import score_embeddings, softmax
from ._top_k import top_k_templates

__all__ = [
    "SELECTIONS",
    "SELECTIONS_USING_K",
    "SELECTION_METHODS",
    "RowScaling",
    "SelectionMethod",
    "class_gram_matrices",
    "describe_selections",
    "fixed_prototypes",
    "l2_normalize",
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
    "worst_class_pair_similarity",
]
