"""`python -m emulator --seed P ...`"""

import sys

from emulator.cli import main

sys.exit(main())
