"""Live tier fixtures: real local stacks and a runner for the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitoring_conformance.localstack import LocalStack, StackSpec
from tests.live.live_support import FIGURES, SuiteRunner, require_tools


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> SuiteRunner:
    return SuiteRunner(tmp_path_factory.mktemp("suite-runs"))


@pytest.fixture(scope="session")
def healthy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Prometheus + node_exporter + the Todo backend, all scraped: the stack the host profile expects."""
    require_tools()
    with LocalStack(StackSpec(), workdir=tmp_path_factory.mktemp("stack-healthy")) as stack:
        FIGURES["healthy stack start-up (s per phase)"] = {k: round(v, 2) for k, v in stack.timings.items()}
        yield stack


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show the benchmark figures the live tests measured (also recorded as JUnit properties)."""
    if FIGURES:
        terminalreporter.section("live tier figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
