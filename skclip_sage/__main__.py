"""``python -m skclip_sage``: the same as the ``skclip-sage`` command."""

import sys

from skclip_sage.cli import main

if __name__ == "__main__":
    sys.exit(main())
