"""``python -m ltvxl.cli``: the ``ltvxl`` command."""

import sys

from . import main

sys.exit(main())
