"""``python -m zoom_sandbox``: the same command line as ``manage.py zoom_sandbox``."""

import sys

from .cli import main

sys.exit(main())
