"""``python -m mc_devtools.bootstrap``."""

import sys

from mc_devtools.bootstrap.cli import main

sys.exit(main())
