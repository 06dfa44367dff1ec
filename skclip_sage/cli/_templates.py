"""``skclip-sage templates``: list the built-in template sets, print or check one."""

from __future__ import annotations

import sys

from ..utils._docstrings import fill_docstring
from ._errors import ExitCode
from ._options import ADD_PARSER_SECTIONS, TEMPLATES_HELP, command_parser

EXAMPLES = """\
  skclip-sage templates                            # the built-in sets
  skclip-sage templates simple                     # one template per line
  skclip-sage templates simple > mine.txt          # start your own file from a set,
  skclip-sage classify photos/ --classes cat dog --templates mine.txt   # then use it
  skclip-sage templates mine.txt                   # check a file: exit 3 names a bad line
"""


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``templates`` and its options.

    %(add_parser_sections)s
    """
    parser = command_parser(
        subparsers,
        "templates",
        help="list the built-in prompt-template sets or print one",
        description="Without NAME, list the built-in prompt-template sets. With NAME, print its "
        "templates one per line, in index order (the indices classify reports), ready "
        "to be edited into a file for --templates.",
        examples=EXAMPLES,
        parents=parents,
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help=TEMPLATES_HELP)
    parser.add_argument("-n", "--numbered", action="store_true", help="prefix each template with its index")
    parser.set_defaults(run=run, uses_models=False)
    return parser


def run(args):
    """Run ``templates``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    exit_code : ExitCode
        ``OK``; an unknown set or a bad file is raised as an error.
    """
    from ..prompts import TEMPLATE_SETS
    from ._text_inputs import resolve_templates_option

    if args.name is None:
        width = max(map(len, TEMPLATE_SETS))
        for name, templates in TEMPLATE_SETS.items():
            sys.stdout.write(f"{name:<{width}}  {len(templates):>3} templates  e.g. {templates[0]!r}\n")
        return ExitCode.OK
    for index, template in enumerate(resolve_templates_option(args.name, "NAME")):
        sys.stdout.write(f"{index}\t{template}\n" if args.numbered else f"{template}\n")
    return ExitCode.OK
