"""``python -m monitoring_conformance.bootstrap``."""

import sys

from monitoring_conformance.bootstrap.cli import main

sys.exit(main())
