"""Test package marker: lets tests import the shared doubles as `tests.doubles`."""

from pathlib import Path

#: The checkout the tests run from (the runtime finds its files through monitoring_conformance.resources).
REPO_ROOT = Path(__file__).resolve().parent.parent
