"""Poll: the one wait of a check, and the failure message it builds (STYLE.md's shape)."""

from __future__ import annotations

import pytest
from tests.doubles import FakeClock, PrometheusDouble
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance.checks.base import CheckFailed, Poll, expect, fail
from monitoring_conformance.errors import EndpointError, Unrecoverable

pytestmark = pytest.mark.unit


def poll(fake: FakeClock, timeout: float = 60.0, **options: object) -> Poll:
    spec = make_spec("metrics.cpu", timeout=timeout)
    endpoint = PrometheusDouble().endpoint(name="Prometheus")
    endpoint.last_request = "GET /api/v1/query?query=up -> 200"
    return Poll(make_record("metrics.cpu"), spec, clock=fake.clock, endpoints=(endpoint,), **options)  # type: ignore[arg-type]


def test_returns_the_probe_value_once_it_passes(fake_clock: FakeClock) -> None:
    answers: list[Exception | int] = [AssertionError("0 series"), EndpointError("GET x -> 503"), 7]

    def probe() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    the_poll = poll(fake_clock)

    assert the_poll.until(probe, what="cpu series", look_next="x") == 7
    assert the_poll.attempts == 3
    assert the_poll.elapsed == 1.0


def test_timeout_message_reads_like_style_md(fake_clock: FakeClock) -> None:
    def probe() -> None:
        expect(False, '0 series for container_cpu_usage_seconds_total{namespace="todo"}')

    with pytest.raises(CheckFailed) as caught:
        poll(fake_clock).until(
            probe,
            what='container CPU series for namespace "todo" never appeared',
            look_next=lambda: "targets",
        )

    assert str(caught.value).splitlines() == [
        "metrics.cpu FAILED after 60.0s (121 attempts): "
        'container CPU series for namespace "todo" never appeared',
        '  last observation: 0 series for container_cpu_usage_seconds_total{namespace="todo"}',
        "  request: GET /api/v1/query?query=up -> 200 (Prometheus at http://prometheus.test (direct))",
        "  look next: targets",
    ]


def test_the_timeout_is_scaled(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed, match=r"after 6\.0s \(13 attempts\)"):
        poll(fake_clock, scale=0.1).until(lambda: expect(False, "no"), what="x", look_next="y")


def test_unrecoverable_ends_the_wait_at_once(fake_clock: FakeClock) -> None:
    def probe() -> None:
        raise Unrecoverable("Grafana answered 401 Unauthorized")

    with pytest.raises(CheckFailed) as caught:
        poll(fake_clock).until(probe, what="x", look_next="the credentials")

    assert str(caught.value).startswith(
        "metrics.cpu FAILED at once after 0.0s (1 attempts, unrecoverable): x\n"
        "  last observation: Grafana answered 401 Unauthorized"
    )
    assert fake_clock.sleeps == []


def test_other_errors_propagate_unchanged(fake_clock: FakeClock) -> None:
    def probe() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        poll(fake_clock).until(probe, what="x", look_next="y")


def test_a_broken_hint_does_not_hide_the_failure(fake_clock: FakeClock) -> None:
    def hint() -> str:
        raise EndpointError("GET /api/v1/targets -> connection refused")

    with pytest.raises(CheckFailed, match=r"look next: \(could not build a hint: GET /api/v1/targets"):
        poll(fake_clock, timeout=1).until(lambda: expect(False, "no"), what="x", look_next=hint)


def test_multi_line_observations_become_one_line(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed, match=r"last observation: first \| second\n"):
        poll(fake_clock, timeout=1).until(lambda: expect(False, "first\nsecond"), what="x", look_next="y")


def test_fail_without_waiting() -> None:
    error = fail(make_record("app.unchanged"), "2 restarts", "counter 2", request="GET /q", look_next="pods")

    assert str(error).splitlines() == [
        "app.unchanged FAILED: 2 restarts",
        "  last observation: counter 2",
        "  request: GET /q",
        "  look next: pods",
    ]
