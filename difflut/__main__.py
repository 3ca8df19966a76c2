"""``python -m difflut``: the command line of :mod:`difflut.cli`."""

import sys

from .cli import main

sys.exit(main())
