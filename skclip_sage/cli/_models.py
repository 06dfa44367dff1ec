"""``skclip-sage models``: what ``--model`` accepts, the paper's backbones, open_clip's names and tags."""

from __future__ import annotations

import json
import sys

from ..encoders import BACKENDS
from ..utils._docstrings import fill_docstring
from ._errors import ExitCode
from ._options import ADD_PARSER_SECTIONS, command_parser

EXAMPLES = """\
  skclip-sage models                               # every form, the paper's backbones, open_clip names
  skclip-sage models ViT-B                         # only open_clip names containing 'ViT-B'
  skclip-sage models --json > models.json          # the same, machine-readable
  skclip-sage classify photos/ --classes cat dog --model transformers:kakaobrain/align-base
"""


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``models`` and its options.

    %(add_parser_sections)s
    """
    parser = command_parser(
        subparsers,
        "models",
        help="list the model strings --model accepts and the paper's backbones",
        description="List every form of model string (open_clip names with pretrained tags, model folders, "
        f"{', '.join(backend.scheme for backend in BACKENDS if backend.scheme)}), the model string of each "
        "backbone of the SAGE paper, and the open_clip architecture names with the pretrained tags the "
        "installed open_clip knows. Nothing is downloaded.",
        examples=EXAMPLES,
        parents=parents,
    )
    parser.add_argument(
        "filter", nargs="?", metavar="TEXT", help="show only open_clip names containing TEXT (case-insensitive)"
    )
    parser.add_argument("--json", action="store_true", help="write one JSON object instead of text")
    parser.set_defaults(run=run, uses_models=False)
    return parser


def run(args):
    """Run ``models``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    exit_code : ExitCode
        ``OK``.
    """
    from ..encoders import available_models

    catalogue = available_models()
    names = {
        name: tags
        for name, tags in catalogue.open_clip.items()
        if args.filter is None or args.filter.lower() in name.lower()
    }
    if args.json:
        document = {
            "forms": [dict(zip(("library", "form", "description"), form)) for form in catalogue.forms],
            "paper_backbones": [backbone._asdict() for backbone in catalogue.paper_backbones],
            "transformers_examples": list(catalogue.transformers_examples),
            "open_clip": names,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return ExitCode.OK
    write = sys.stdout.write
    write("Model strings (--model):\n")
    for library, form, description in catalogue.forms:
        write(f"  {form}\n      {library}: {description}\n")
    write("\nThe SAGE paper's backbones:\n")
    width = max(len(backbone.paper_name) for backbone in catalogue.paper_backbones)
    for backbone in catalogue.paper_backbones:
        pretrained = "" if backbone.pretrained is None else f" --pretrained {backbone.pretrained}"
        write(f"  {backbone.paper_name:<{width}}  --model {backbone.model}{pretrained}\n")
    write("\nAlso common: " + ", ".join(catalogue.transformers_examples) + "\n")
    shown = "" if args.filter is None else f" containing {args.filter!r}"
    write(f"\nopen_clip names{shown} and their pretrained tags ({len(names)} names; none: random weights only):\n")
    for name, tags in names.items():
        write(f"  {name}: {', '.join(tags) if tags else '(none)'}\n")
    return ExitCode.OK
