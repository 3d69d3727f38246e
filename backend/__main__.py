"""``python -m backend`` is the ``dimgesture`` command."""

import sys

from .cli import main

sys.exit(main())
