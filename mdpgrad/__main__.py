"""``python -m mdpgrad``: the same as the ``mdpgrad`` command."""

import sys

from .cli import main

sys.exit(main())
