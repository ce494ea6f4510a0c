"""``python -m flolive``: the ``flolive`` command."""

import sys

from .cli import main

sys.exit(main())
