"""Benchmarks on local stacks: how long the host profile takes on a warm stack and on a fresh one (no
counted request yet: the worst case for metrics.request_rate), how many requests Prometheus gets, and how
soon a poll notices a condition that became true.

These report figures (JUnit properties and the terminal summary); they assert that each figure was
measured and is sane, never that it beats a time limit: a time limit in an ordinary test is a flaky test.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import pytest
import requests
import yaml

from monitoring_conformance.localstack import LocalStack, StackSpec
from monitoring_conformance.wait import eventually
from tests.live.live_support import (
    FIGURES,
    HOST_PROFILE,
    SuiteRun,
    SuiteRunner,
    host_requirements,
    require_tools,
)

pytestmark = pytest.mark.live

Recorder = Callable[[str, object], None]
#: Prometheus's own request counter; its scrapes of itself (handler="/metrics") are not the suite's.
_COUNTER = re.compile(r'^prometheus_http_requests_total\{code="[^"]*",handler="([^"]*)"\} (\S+)$')


def requests_by_handler(exposition: str) -> dict[str, float]:
    """``{handler: requests}`` of Prometheus's own request counter, summed over codes, without /metrics."""
    counts: dict[str, float] = {}
    for line in exposition.splitlines():
        match = _COUNTER.match(line)
        if match and match.group(1) != "/metrics":
            counts[match.group(1)] = counts.get(match.group(1), 0.0) + float(match.group(2))
    return counts


def prometheus_requests(base_url: str) -> dict[str, float]:
    return requests_by_handler(requests.get(f"{base_url}/metrics", timeout=5).text)


def test_request_counter_parser_skips_scrapes_and_other_metrics() -> None:
    sample = "\n".join(
        [
            'prometheus_http_requests_total{code="200",handler="/api/v1/query"} 3',
            'prometheus_http_requests_total{code="400",handler="/api/v1/query"} 1',
            'prometheus_http_requests_total{code="200",handler="/metrics"} 50',
            'prometheus_http_request_duration_seconds_count{handler="/api/v1/query"} 4',
        ]
    )
    assert requests_by_handler(sample) == {"/api/v1/query": 4.0}


@pytest.fixture(scope="module")
def measured_run(suite: SuiteRunner, healthy_stack: LocalStack) -> tuple[SuiteRun, dict[str, float]]:
    """A suite run on the ready stack, and the requests Prometheus served during it, by handler."""
    before = prometheus_requests(healthy_stack.prometheus_url)
    run = suite.run("speed", prometheus_url=healthy_stack.prometheus_url, app_url=healthy_stack.app_url)
    after = prometheus_requests(healthy_stack.prometheus_url)
    served = {h: after[h] - before.get(h, 0.0) for h in after if after[h] - before.get(h, 0.0) > 0}
    return run, served


def test_host_profile_duration_is_recorded(
    measured_run: tuple[SuiteRun, dict[str, float]],
    healthy_stack: LocalStack,
    record_testsuite_property: Recorder,
) -> None:
    run, _ = measured_run
    assert run.returncode == 0, run.describe()
    checks = run.report.get("duration_s")
    assert isinstance(checks, int | float), f"acceptance.json records no duration_s: {run.report.keys()}"
    assert checks > 0, f"duration_s is {checks}"
    target = 2 * healthy_stack.spec.interval_s + 5
    record_testsuite_property("host_profile_checks_seconds", checks)
    record_testsuite_property("host_profile_cli_seconds", round(run.seconds, 2))
    FIGURES["host profile checks (s, acceptance.json duration_s)"] = checks
    FIGURES["host profile CLI run (s, incl. interpreter start-up)"] = round(run.seconds, 2)
    FIGURES["host profile target (s, 2 x scrape interval + 5)"] = target


@pytest.fixture(scope="module")
def fresh_run(suite: SuiteRunner, tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    """A suite run on a stack of its own that has served no counted request yet (only /healthz probes
    and scrapes, which the rate query leaves out): the worst case, where the request-rate series is born
    in the suite's first burst and ``rate()`` needs a second burst and one more scrape."""
    require_tools()
    with LocalStack(StackSpec(), workdir=tmp_path_factory.mktemp("stack-fresh")) as stack:
        return suite.run("speed-fresh", prometheus_url=stack.prometheus_url, app_url=stack.app_url)


def test_host_profile_duration_on_a_fresh_stack_is_recorded(
    fresh_run: SuiteRun, record_testsuite_property: Recorder
) -> None:
    assert fresh_run.returncode == 0, fresh_run.describe()
    checks = fresh_run.report.get("duration_s")
    assert isinstance(checks, int | float), f"no duration_s: {fresh_run.report.keys()}"
    assert checks > 0, f"duration_s is {checks}"
    rate = fresh_run.requirements["metrics.request_rate"]
    assert rate["status"] == "pass", rate["message"]
    record_testsuite_property("host_profile_checks_fresh_stack_seconds", checks)
    FIGURES["host profile checks, fresh stack (s, first burst; rate needs a 2nd scrape)"] = checks
    FIGURES["host profile CLI run, fresh stack (s)"] = round(fresh_run.seconds, 2)
    FIGURES["request rate on the fresh stack"] = rate["message"]


def test_prometheus_requests_per_requirement_are_recorded(
    measured_run: tuple[SuiteRun, dict[str, float]], record_testsuite_property: Recorder
) -> None:
    run, served = measured_run
    assert run.returncode == 0, run.describe()
    total = sum(served.values())
    per_requirement = total / len(host_requirements())
    record_testsuite_property("prometheus_requests_total", total)
    record_testsuite_property("prometheus_requests_per_requirement", round(per_requirement, 2))
    FIGURES["Prometheus requests during the run"] = {h: int(n) for h, n in sorted(served.items())}
    FIGURES["Prometheus requests per requirement"] = round(per_requirement, 2)
    assert total > 0, "the suite ran without asking Prometheus anything"
    assert "/api/v1/query" in served, served


def test_poll_reaction_to_a_condition_becoming_true(record_testsuite_property: Recorder) -> None:
    """Start polling, make the condition true from another thread, and measure how late the poll noticed."""
    interval = float(yaml.safe_load(HOST_PROFILE.read_text())["interval"])
    became_true = threading.Event()
    flipped_at: list[float] = []

    def flip() -> None:
        flipped_at.append(time.monotonic())
        became_true.set()

    timer = threading.Timer(1.3, flip)
    timer.start()
    try:

        def condition() -> None:
            assert became_true.is_set(), "not yet"

        eventually(condition, timeout=10, interval=interval, what="condition set by the timer")
        noticed_at = time.monotonic()
    finally:
        timer.cancel()
    lag = noticed_at - flipped_at[0]
    record_testsuite_property("poll_reaction_seconds", round(lag, 3))
    FIGURES[f"poll reaction (s, interval {interval:g} s)"] = round(lag, 3)
    assert lag >= 0, "the poll returned before the condition was true"
