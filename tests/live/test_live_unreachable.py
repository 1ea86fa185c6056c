"""A Prometheus URL where nothing listens: one line on stderr naming the option and the URL, at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitoring_conformance.localstack import LocalStack, free_port
from tests.live.live_support import FIGURES, SuiteRun, SuiteRunner

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def unreachable_run(suite: SuiteRunner, healthy_stack: LocalStack) -> SuiteRun:
    nowhere = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens there now
    return suite.run("unreachable", prometheus_url=nowhere, app_url=healthy_stack.app_url)


def test_exit_code_is_non_zero(
    unreachable_run: SuiteRun, record_testsuite_property: Callable[[str, object], None]
) -> None:
    record_testsuite_property("unreachable_prometheus_seconds", round(unreachable_run.seconds, 2))
    FIGURES["unreachable Prometheus URL: CLI run (s)"] = round(unreachable_run.seconds, 2)
    assert unreachable_run.returncode != 0, unreachable_run.describe()


def test_stderr_is_one_line_naming_the_option_and_the_url(unreachable_run: SuiteRun) -> None:
    lines = [line for line in unreachable_run.stderr.splitlines() if line.strip()]
    url = unreachable_run.argv[unreachable_run.argv.index("--prometheus-url") + 1]
    assert len(lines) == 1, unreachable_run.describe()
    assert "--prometheus-url" in lines[0], lines[0]
    assert url in lines[0], lines[0]


def test_no_traceback_and_no_wait(unreachable_run: SuiteRun) -> None:
    output = unreachable_run.stdout + unreachable_run.stderr
    assert "Traceback" not in output, unreachable_run.describe()
    # A wait that ran out would say "not met after <s>s"; an unreachable URL must fail before any wait.
    assert "not met after" not in output, unreachable_run.describe()
