"""The ``skclip-sage`` command line: classify, evaluate, embed and templates.

The only part of skclip-sage that prints. Run ``skclip-sage --help`` (or
``python -m skclip_sage --help``) for the commands, their examples and the exit
codes: 0 success, 1 some images could not be read and were skipped
(``--on-error skip``), 2 usage error, 3 input or model error, 4 internal error,
130 interrupted.
"""

from ._main import main

__all__ = ["main"]
