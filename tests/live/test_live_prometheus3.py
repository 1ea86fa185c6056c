"""The Prometheus-version dimension: the healthy stack and a broken one again, on Prometheus 3.x.

The other live modules run Prometheus from PATH (Debian 12: 2.42). Here the same suite runs against the
3.x the bootstrap fetches from Debian sid (``.tools/bin/prometheus3``, StackSpec.prometheus), which words
its log lines differently and serves a different UI: the harness and the suite must not care. Both stacks
start and both suite runs go side by side, in the session's shared pool (tests/live/background.py).
"""

from __future__ import annotations

import os
import time

import pytest
import requests

from monitoring_conformance.errors import ToolError
from monitoring_conformance.localstack import LocalStack, StackSpec, prometheus_executable
from tests.live.background import Background
from tests.live.live_support import FIGURES, SuiteRun, SuiteRunner, host_requirements, require_tools
from tests.live.test_live_broken_stacks import BROKEN_TIMEOUT_SCALE, SCENARIOS

pytestmark = pytest.mark.live

PROMETHEUS3 = "prometheus3"
BROKEN = "node-not-scraped"


def _require_prometheus3() -> None:
    try:
        prometheus_executable(PROMETHEUS3)
    except ToolError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the live tier's 3.x runs need it: {exc}", pytrace=False)
        pytest.skip(f"no Prometheus 3.x: {exc}")


SPECS = {
    "healthy": (StackSpec(prometheus=PROMETHEUS3), 1.0),
    BROKEN: (StackSpec(scrape_node=False, prometheus=PROMETHEUS3), BROKEN_TIMEOUT_SCALE),
}


def _run(name: str, stack: LocalStack, suite: SuiteRunner, scale: float) -> tuple[SuiteRun, str]:
    """Start the stack, run the suite, read the Prometheus version it ran; the stack stops after."""
    started = time.monotonic()
    with stack:
        FIGURES[f"Prometheus 3.x {name} stack start-up (s)"] = round(time.monotonic() - started, 2)
        run = suite.run(f"prom3-{name}", prometheus_url=stack.prometheus_url, app_url=stack.app_url,
                        timeout_scale=scale)  # fmt: skip
        info = requests.get(f"{stack.prometheus_url}/api/v1/status/buildinfo", timeout=5).json()
    return run, str(info["data"]["version"])


def start_in_background(background: Background) -> None:
    """Both stacks and both suite runs, side by side in the session's shared pool."""
    try:
        prometheus_executable(PROMETHEUS3)
    except ToolError:
        return  # the module's fixture skips (or fails, in CI) saying why
    for name, (spec, scale) in SPECS.items():
        stack = background.stack(spec, f"prom3-{name}")
        background.submit("prometheus3", name, _run, name, stack, background.suite, scale)


@pytest.fixture(scope="module")
def runs(background: Background) -> dict[str, tuple[SuiteRun, str]]:
    """``{"healthy"|BROKEN: (suite run, Prometheus version the stack ran)}``."""
    require_tools()
    _require_prometheus3()
    results = background.results("prometheus3")
    for result in results.values():
        if isinstance(result, BaseException):
            raise result
    return results


def test_the_stacks_really_run_prometheus_3(runs: dict[str, tuple[SuiteRun, str]]) -> None:
    for name, (_, version) in runs.items():
        assert version.startswith("3."), f"{name}: the stack ran Prometheus {version}"


def test_the_healthy_stack_passes_on_prometheus_3(runs: dict[str, tuple[SuiteRun, str]]) -> None:
    run, _ = runs["healthy"]
    assert run.returncode == 0, run.describe()
    assert run.report["verdict"] == "pass", run.describe()
    for rid in sorted(host_requirements()):
        entry = run.requirements[rid]
        assert entry["status"] == "pass", f"{rid}: {entry['status']}: {entry['message']}"


def test_a_broken_stack_fails_exactly_its_requirements_on_prometheus_3(
    runs: dict[str, tuple[SuiteRun, str]],
) -> None:
    run, _ = runs[BROKEN]
    scenario = SCENARIOS[BROKEN]
    assert run.returncode != 0, run.describe()
    assert run.ids_with("fail") == scenario.fails, run.describe()
    for rid, words in scenario.words.items():
        message = run.requirements[rid]["message"]
        assert all(word in message for word in words), f"{rid} lacks {words}: {message}"
