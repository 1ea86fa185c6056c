"""Where the suite finds the files it runs on: the chart, the profiles, the kind config, the Todo backend
and the conformance tests themselves.

Three places, first match wins:

* ``MC_RESOURCES``: a folder laid out like the checkout (a fork's chart and profiles, say);
* the wheel: setup.py copies :data:`BUNDLED` into ``monitoring_conformance/bundle/``, same layout;
* the checkout this module sits in (``src/monitoring_conformance/``, an editable install).

Standard library only: the bootstrap (scripts/mc_devtools) imports it through ``tools.runner`` before the
project's dependencies are installed, and setup.py reads :data:`BUNDLED` from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV = "MC_RESOURCES"
#: What the installed suite needs at run time, as paths relative to the checkout (setup.py bundles these).
BUNDLED = (
    "charts/monitoring",
    "fixtures/profiles",
    "fixtures/kind/cluster.yaml",
    "fixtures/todo-backend",
    "tests/conformance",
)
#: A file every resource folder has; its absence means the folder is not one.
MARKER = "charts/monitoring/Chart.yaml"
_PACKAGE = Path(__file__).resolve().parent
BUNDLE = _PACKAGE / "bundle"


def find_root(env: Mapping[str, str] = os.environ) -> tuple[Path, str]:
    """The resource folder and how it was chosen (``MC_RESOURCES``, ``wheel`` or ``checkout``)."""
    given = env.get(ENV, "").strip()
    if given:
        return Path(given).expanduser().resolve(), ENV
    if (BUNDLE / MARKER).is_file():
        return BUNDLE, "wheel"
    return _PACKAGE.parent.parent, "checkout"


ROOT, SOURCE = find_root()
CHART = ROOT / "charts" / "monitoring"
PROFILES = ROOT / "fixtures" / "profiles"
KIND_CLUSTER = ROOT / "fixtures" / "kind" / "cluster.yaml"
TODO_BACKEND = ROOT / "fixtures" / "todo-backend"
SUITE = ROOT / "tests" / "conformance"
#: Where the bootstrap puts the tools it fetches (git-ignored), searched before PATH; env MC_TOOLS_DIR.
TOOLS_DIR = Path(os.environ.get("MC_TOOLS_DIR") or ROOT / ".tools" / "bin")


def problem(root: Path = ROOT, source: str = SOURCE) -> str | None:
    """One line when ``root`` lacks a resource the suite needs, naming it and the fix; else None."""
    missing = next((rel for rel in (MARKER, *BUNDLED) if not (root / rel).exists()), None)
    if missing is None:
        return None
    if source == ENV:
        return f"{ENV}={root}: {missing} is missing; point {ENV} at a folder laid out like the checkout"
    return (
        f"{root / missing} is missing ({source} install); reinstall monitoring-conformance, or set {ENV} "
        "to a folder laid out like the checkout"
    )
