"""Paths and names the chart-tier tests share (imported by conftest.py and the test modules)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from monitoring_conformance.tools.helm_offline import DEFAULT_NAMESPACE, DEFAULT_RELEASE, Manifest
from tests.chart.chartcheck.values import Values

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "monitoring"
APP_MANIFESTS = ROOT / "fixtures" / "todo-backend" / "manifests"
SERIES = Path(__file__).resolve().parent / "data" / "kps-series.yaml"
#: The ci/*-values.yaml scenarios, by file name (collected once, at import).
SCENARIOS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
KIND_SCENARIO = "kind-values.yaml"
RELEASE = DEFAULT_RELEASE
NAMESPACE = DEFAULT_NAMESPACE

#: ``render(scenario, kube_version=None)`` -> manifests (the session fixture ``render``).
Render = Callable[..., list[Manifest]]
#: ``scenario_values(name)`` -> values.yaml merged with ci/<name> (the session fixture ``scenario_values``).
ScenarioValues = Callable[[str], Values]


def source_of(scenario: str) -> str:
    """How findings name the merged values of a scenario."""
    return f"charts/monitoring/values.yaml + ci/{scenario}"
