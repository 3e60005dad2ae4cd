"""``python -m cli``: the same as the ``gatewatch`` command."""

import sys

from cli.main import main

sys.exit(main())
