"""Live tier fixtures: real local stacks and a runner for the conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.live.live_support import SuiteRunner, require_tools

from monitoring_conformance.localstack import LocalStack, StackSpec


@pytest.fixture(scope="session")
def suite(tmp_path_factory: pytest.TempPathFactory) -> SuiteRunner:
    return SuiteRunner(tmp_path_factory.mktemp("suite-runs"))


@pytest.fixture(scope="session")
def healthy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Prometheus + node_exporter + the Todo backend, all scraped: the stack the host profile expects."""
    require_tools()
    with LocalStack(StackSpec(), workdir=tmp_path_factory.mktemp("stack-healthy")) as stack:
        yield stack
