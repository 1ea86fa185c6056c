"""Live tier fixtures: real local stacks and a runner for the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitoring_conformance.localstack import LocalStack, StackSpec
from tests.live.background import Background
from tests.live.live_support import FIGURES, SuiteRunner, require_tools


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> SuiteRunner:
    return SuiteRunner(tmp_path_factory.mktemp("suite-runs"))


@pytest.fixture(scope="session", autouse=True)
def background(
    request: pytest.FixtureRequest, suite: SuiteRunner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Background]:
    """The shared pool of background runs (tests/live/background.py), started with the first live test
    for the modules of the selected tests."""
    pool = Background(suite, tmp_path_factory)
    try:
        require_tools()
    except (pytest.skip.Exception, pytest.fail.Exception):
        pass  # nothing starts; each module's own fixture skips or fails, saying why
    else:
        modules = {item.module for item in request.session.items if isinstance(item, pytest.Function)}
        pool.start(sorted(modules, key=lambda m: m.__name__))
    yield pool
    pool.close()


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
