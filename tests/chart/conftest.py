"""Fixtures of the chart tier: real helm and promtool, the chart rendered once per scenario, broken copies.

Missing tools are errors that carry the bootstrap's fix, never skips: CI must run this tier.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from monitoring_conformance.chartcheck.promql import SeriesFile, load_series
from monitoring_conformance.chartcheck.promtool import Promtool
from monitoring_conformance.chartcheck.render import Manifest, dependencies, offline_copy, render_manifests
from monitoring_conformance.chartcheck.values import Values, merged_values
from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.helm import Helm
from tests.chart.support import CHART, SERIES, Render, ScenarioValues

T = TypeVar("T")


def _tool_or_fail(make: Callable[[], T]) -> T:
    """The tool, or a one-line failure with the bootstrap's fix (no skip: CI must run this tier)."""
    try:
        return make()
    except ToolError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)


def _checked_helm() -> Helm:
    tool = Helm()
    tool.version()  # refuses an unsupported major once, up front
    return tool


def _checked_promtool() -> Promtool:
    tool = Promtool()
    tool.version()
    return tool


@pytest.fixture(scope="session")
def helm() -> Helm:
    return _tool_or_fail(_checked_helm)


@pytest.fixture(scope="session")
def promtool() -> Promtool:
    return _tool_or_fail(_checked_promtool)


@pytest.fixture(scope="session")
def offline_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One offline copy of the real chart (stand-in subcharts) for the whole session."""
    return offline_copy(CHART, tmp_path_factory.mktemp("offline"))


@pytest.fixture(scope="session")
def render(helm: Helm, offline_chart: Path) -> Render:
    """``render(scenario, kube_version=None)``: the scenario's manifests, rendered once per session."""
    cache: dict[tuple[str | None, str | None], list[Manifest]] = {}

    def rendered(scenario: str | None, kube_version: str | None = None) -> list[Manifest]:
        key = (scenario, kube_version)
        if key not in cache:
            values = [offline_chart / "ci" / scenario] if scenario else []
            cache[key] = render_manifests(helm, offline_chart, values, kube_version=kube_version)
        return cache[key]

    return rendered


@pytest.fixture(scope="session")
def scenario_values() -> ScenarioValues:
    """``scenario_values(name)``: values.yaml merged with ci/<name>."""
    cache: dict[str, Values] = {}

    def values(scenario: str) -> Values:
        if scenario not in cache:
            cache[scenario] = merged_values(CHART, CHART / "ci" / scenario)
        return cache[scenario]

    return values


@pytest.fixture(scope="session")
def conditions() -> dict[str, str]:
    """Subchart values key -> its Chart.yaml condition."""
    return {dep.key: dep.condition for dep in dependencies(CHART) if dep.condition}


@pytest.fixture(scope="session")
def kps_series() -> SeriesFile:
    return load_series(SERIES)


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    """A private, writable copy of the chart for a test to break."""
    return Path(shutil.copytree(CHART, tmp_path / "monitoring"))


@pytest.fixture
def offline_chart_copy(tmp_path: Path) -> Path:
    """A private offline copy (stand-in subcharts) for a test to break and render."""
    return offline_copy(CHART, tmp_path / "offline")
