"""`python -m core.cli` is the `driftwatch` command."""

import sys

from core.cli.app import main

sys.exit(main())
