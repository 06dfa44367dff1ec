"""Prompts: template sets and checks, classes and their texts, and the encoded text bank.

Also the template generators of two training-free methods: WaffleCLIP's seeded
random-descriptor templates (:func:`waffle_templates`) and PerceptionCLIP's
contextual-attribute presets (:func:`perception_templates`, and the
``"perception_*"`` built-in sets).

Template files (one template per line, ``#`` comments) are read by
:func:`read_template_file`, as the command line reads ``--templates``; a path object
given as ``templates=`` is read with it.

Plain Python and NumPy; the text bank calls the encoder object it is given and
caches what it returns, in memory and (with ``cache_dir``) on disk.
"""

from ._class_names import check_class_names, class_names_for, resolve_classes, sorted_labels
from ._line_files import read_line_file
from ._perception import PERCEPTION_ATTRIBUTES, PERCEPTION_TEMPLATE_SETS, perception_templates
from ._prompts import check_prompt_lengths, expand_prompts, read_template_file, resolve_templates
from ._template_sets import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES, TEMPLATE_SETS
from ._text_bank import clear_text_bank_cache, encode_text_bank
from ._waffle import WAFFLE_CHARACTERS, waffle_templates, waffle_words

__all__ = [
    "OPENAI_IMAGENET_TEMPLATES",
    "PERCEPTION_ATTRIBUTES",
    "PERCEPTION_TEMPLATE_SETS",
    "SIMPLE_IMAGENET_TEMPLATES",
    "TEMPLATE_SETS",
    "WAFFLE_CHARACTERS",
    "check_class_names",
    "check_prompt_lengths",
    "class_names_for",
    "clear_text_bank_cache",
    "encode_text_bank",
    "expand_prompts",
    "perception_templates",
    "read_line_file",
    "read_template_file",
    "resolve_classes",
    "resolve_templates",
    "sorted_labels",
    "waffle_templates",
    "waffle_words",
]
