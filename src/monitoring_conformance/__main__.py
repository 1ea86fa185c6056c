"""``python -m monitoring_conformance``: see :mod:`monitoring_conformance.cli`."""

from monitoring_conformance.cli import main

raise SystemExit(main())
