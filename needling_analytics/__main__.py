"""``python -m needling_analytics``: the same as the ``needling-analytics`` command."""

import sys

from .cli import main

sys.exit(main())
