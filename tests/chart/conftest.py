"""Fixtures of the chart tier: real helm and promtool, the chart rendered once per scenario, broken copies.

Missing tools are errors that carry the bootstrap's fix, never skips: CI must run this tier.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from monitoring_conformance.errors import ConformanceError, ToolError
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.helm_offline import Manifest, offline_copy, render_manifests
from tests.chart.chartcheck.budget import MAX_CPU, MAX_MEMORY, format_cpu, format_memory, requests_budget
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.kube import load_manifest_dir
from tests.chart.chartcheck.logs import read_alloy, todo_stream
from tests.chart.chartcheck.promql import SeriesFile, load_series
from tests.chart.chartcheck.promtool import Promtool
from tests.chart.chartcheck.render import subchart_conditions
from tests.chart.chartcheck.values import Values, merged_values
from tests.chart.support import (
    APP_MANIFESTS,
    CHART,
    KIND_SCENARIO,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    SERIES,
    Render,
    ScenarioValues,
    source_of,
)

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
    return subchart_conditions(CHART)


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


@pytest.fixture(scope="session")
def app_manifests() -> list[Manifest]:
    """The Todo backend's Namespace, Deployment and Service (fixtures/todo-backend/manifests)."""
    return load_manifest_dir(APP_MANIFESTS)


@pytest.fixture(scope="session")
def todo_log_stream(scenario_values: ScenarioValues, app_manifests: list[Manifest]) -> dict[str, str]:
    """The Loki stream of the Todo backend's logs, derived from the kind scenario's Alloy config."""
    pipeline = read_alloy(
        scenario_values(KIND_SCENARIO), source_of(KIND_SCENARIO), release=RELEASE, namespace=NAMESPACE
    )
    stream, findings = todo_stream(pipeline, app_manifests, source_of(KIND_SCENARIO))
    findings = pipeline.findings + findings
    if stream is None or findings:
        pytest.fail(format_findings(findings) or "no stream derived", pytrace=False)
    return stream


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The kind scenario's requests budget, per component and in total, in every run's log.

    Worked out from the chart's files here (not taken from a test), so that it shows whichever tests ran;
    test_budget.py records the same totals as JUnit properties and asserts the limits.
    """
    terminalreporter.section("chart tier figures")
    try:
        values = merged_values(CHART, CHART / "ci" / KIND_SCENARIO)
        budget = requests_budget(values, source_of(KIND_SCENARIO), conditions=subchart_conditions(CHART))
    except ConformanceError as exc:
        terminalreporter.write_line(f"requests budget of ci/{KIND_SCENARIO}: not computed ({exc})")
        return
    terminalreporter.write_line(
        f"requests budget of ci/{KIND_SCENARIO} (limit {format_cpu(MAX_CPU)} CPU, "
        f"{format_memory(MAX_MEMORY)} memory): {budget.summary()}"
    )
    for scenario in (name for name in SCENARIOS if name != KIND_SCENARIO):
        try:
            values = merged_values(CHART, CHART / "ci" / scenario)
        except ConformanceError as exc:
            terminalreporter.write_line(f"requests of ci/{scenario}: not computed ({exc})")
            continue
        other = requests_budget(values, source_of(scenario), conditions=subchart_conditions(CHART))
        terminalreporter.write_line(
            f"requests of ci/{scenario} (no limit here): "
            f"{format_cpu(other.cpu)} CPU, {format_memory(other.memory)} memory"
        )
