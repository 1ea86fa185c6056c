"""The Prometheus checks against PrometheusDouble: what passes, what fails, and how the failure reads."""

from __future__ import annotations

from typing import Any

import pytest
from tests.doubles import FakeClock, PrometheusDouble, TodoAppDouble, vector
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import prometheus as checks
from monitoring_conformance.checks.base import CheckFailed

pytestmark = pytest.mark.unit

NODE = 'node_cpu_seconds_total{job="node"}'
APP = 'process_cpu_seconds_total{job="todo-backend"}'


def client(double: PrometheusDouble) -> Prometheus:
    return Prometheus(double.endpoint(name="Prometheus"))


def test_jobs_up_passes_when_every_job_has_a_healthy_target(fake_clock: FakeClock) -> None:
    double = PrometheusDouble()
    spec = make_spec("stack.prometheus_targets", jobs=("kubelet", "todo-backend"), threshold=1)
    record = make_record("stack.prometheus_targets")

    counts = checks.jobs_up(client(double), spec, record, clock=fake_clock.clock)

    assert counts == {"kubelet": 1, "todo-backend": 1}
    assert record.measured == 2
    assert record.threshold == 2
    assert [c.path for c in double.calls] == ["/-/ready", "/api/v1/targets"]
    assert "kubelet 1, todo-backend 1" in record.message


def test_jobs_up_fails_naming_the_down_job_its_error_and_where_to_look(fake_clock: FakeClock) -> None:
    double = PrometheusDouble()
    spec = make_spec("stack.prometheus_targets", jobs=("kubelet", "kube-controller-manager"), threshold=1)
    record = make_record("stack.prometheus_targets")

    with pytest.raises(CheckFailed) as caught:
        checks.jobs_up(client(double), spec, record, clock=fake_clock.clock)

    lines = str(caught.value).splitlines()
    assert lines[0] == (
        "stack.prometheus_targets FAILED after 10.0s (21 attempts):"
        " scrape jobs kubelet, kube-controller-manager with at least 1 target(s) up each"
    )
    assert lines[1].startswith(
        '  last observation: job=kube-controller-manager: 0 of 1 targets up (last error: "Get'
    )
    where = "Prometheus at http://prometheus.test (direct)"
    assert lines[2] == f"  request: GET /api/v1/targets?state=active -> 200 ({where})"
    assert lines[3].startswith("  look next: Prometheus targets (job=kube-controller-manager is DOWN:")
    assert record.measured == 1
    assert (
        record.evidence[0]["response"]
        == '{"up_targets_per_job": {"kube-controller-manager": 0, "kubelet": 1}}'
    )


def test_jobs_up_names_a_job_without_targets(fake_clock: FakeClock) -> None:
    spec = make_spec("stack.prometheus_targets", jobs=("node-exporter",), threshold=1)

    with pytest.raises(CheckFailed, match="job=node-exporter: no targets"):
        checks.jobs_up(
            client(PrometheusDouble()), spec, make_record("stack.prometheus_targets"), clock=fake_clock.clock
        )


def test_jobs_up_waits_for_prometheus_to_be_ready(fake_clock: FakeClock) -> None:
    double = PrometheusDouble(ready="Service Unavailable")
    spec = make_spec("stack.prometheus_targets", jobs=("kubelet",), threshold=1, timeout=2)

    with pytest.raises(CheckFailed, match=r"last observation: GET http://prometheus.test/-/ready -> 503"):
        checks.jobs_up(client(double), spec, make_record("stack.prometheus_targets"), clock=fake_clock.clock)
    assert len(double.calls_to("/-/ready")) == 5


def test_series_present_passes_with_one_request(fake_clock: FakeClock) -> None:
    double = PrometheusDouble(vectors={NODE: [({"cpu": "0"}, 1.0), ({"cpu": "1"}, 2.0)], APP: [({}, 3.0)]})
    spec = make_spec("metrics.cpu", queries={"node_cpu": NODE, "app_cpu": APP}, threshold=1)
    record = make_record("metrics.cpu")

    counts = checks.series_present(client(double), spec, record, clock=fake_clock.clock)

    assert counts == {"node_cpu": 2, "app_cpu": 1}
    assert record.measured == 1
    assert len(double.calls) == 1
    assert record.message == "series per query: node_cpu 2, app_cpu 1"


def test_series_present_costs_one_request_per_attempt_whatever_the_number_of_queries(
    fake_clock: FakeClock,
) -> None:
    queries = {f"q{i}": f'metric_{i}{{job="x"}}' for i in range(25)}
    double = PrometheusDouble(vectors={expr: [({}, 1.0)] for expr in list(queries.values())[:24]})
    spec = make_spec("metrics.memory", queries=queries, threshold=1, timeout=3)

    with pytest.raises(CheckFailed, match=r"\(7 attempts\)"):
        checks.series_present(client(double), spec, make_record("metrics.memory"), clock=fake_clock.clock)

    assert len(double.queries) == 7  # one combined query per attempt (the hint asks /api/v1/targets)


def test_series_present_fails_naming_the_missing_series(fake_clock: FakeClock) -> None:
    double = PrometheusDouble(vectors={APP: [({}, 3.0)]})
    spec = make_spec("metrics.cpu", queries={"node_cpu": NODE, "app_cpu": APP}, threshold=1, timeout=60)
    record = make_record("metrics.cpu")

    with pytest.raises(CheckFailed) as caught:
        checks.series_present(client(double), spec, record, clock=fake_clock.clock)

    message = str(caught.value)
    assert message.startswith("metrics.cpu FAILED after 60.0s (121 attempts): expected at least 1 series")
    assert f"last observation: 0 series for node_cpu: {NODE}" in message
    assert "request: GET /api/v1/query?query=label_replace(count(" in message
    assert "look next: Prometheus targets (job=kube-controller-manager is DOWN" in message
    assert record.measured == 0
    assert '"node_cpu": 0' in record.evidence[0]["response"]


def test_series_present_respects_the_threshold(fake_clock: FakeClock) -> None:
    double = PrometheusDouble(vectors={NODE: [({"cpu": "0"}, 1.0)]})
    spec = make_spec("metrics.cpu", queries={"node_cpu": NODE}, threshold=2, timeout=1)

    with pytest.raises(CheckFailed, match="1 series for node_cpu"):
        checks.series_present(client(double), spec, make_record("metrics.cpu"), clock=fake_clock.clock)


def test_polls_react_within_half_a_second(fake_clock: FakeClock) -> None:
    spec = make_spec("metrics.cpu", queries={"node_cpu": NODE}, threshold=1, timeout=5)

    with pytest.raises(CheckFailed):
        checks.series_present(
            client(PrometheusDouble()), spec, make_record("metrics.cpu"), clock=fake_clock.clock
        )

    assert fake_clock.sleeps
    assert max(fake_clock.sleeps) <= 0.5


RATE = 'sum(rate(http_requests_total{job="todo-backend",handler!="/metrics"}[30s]))'


class RateAfter:
    """Answers the rate query with an empty vector for the first ``empty`` calls, then with ``value``."""

    def __init__(self, empty: int, value: float) -> None:
        self.empty = empty
        self.value = value
        self.calls = 0

    def __call__(self, expr: str) -> Any:
        self.calls += 1
        return vector([] if self.calls <= self.empty else [({}, self.value)])


def test_request_rate_passes_after_generated_traffic(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    double = PrometheusDouble(query=RateAfter(empty=3, value=2.5))
    spec = make_spec("metrics.request_rate", query=RATE, traffic=9, threshold=0)
    record = make_record("metrics.request_rate")

    rate = checks.request_rate(
        client(double),
        TodoApp(app_double.endpoint(name="Todo backend")),
        spec,
        record,
        clock=fake_clock.clock,
    )

    assert rate == 2.5
    assert record.measured == 2.5
    assert len(app_double.calls) == 9  # one burst: the rate showed within 5 s
    assert record.message == "2.5 req/s after 9 generated requests"


def test_request_rate_fails_with_the_query_and_bounded_traffic(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    double = PrometheusDouble(query=RateAfter(empty=10**6, value=0))
    spec = make_spec("metrics.request_rate", query=RATE, traffic=4, threshold=0, timeout=30)
    record = make_record("metrics.request_rate")

    with pytest.raises(CheckFailed) as caught:
        checks.request_rate(
            client(double),
            TodoApp(app_double.endpoint(name="Todo backend")),
            spec,
            record,
            clock=fake_clock.clock,
        )

    message = str(caught.value)
    assert f"request rate is no series after 28 requests: {RATE}" in message
    assert len(app_double.calls) == 28  # 4 per burst, one burst every 5 s over 30 s: 7 bursts
    assert record.evidence[0]["response"] == '{"rate": 0.0, "requests_sent": 28}'


def test_request_rate_zero_is_not_enough(fake_clock: FakeClock) -> None:
    double = PrometheusDouble(query=RateAfter(empty=0, value=0.0))
    spec = make_spec("metrics.request_rate", query=RATE, traffic=1, threshold=0, timeout=1)

    with pytest.raises(CheckFailed, match="request rate is 0 after"):
        checks.request_rate(
            client(double),
            TodoApp(TodoAppDouble().endpoint(name="Todo backend")),
            spec,
            make_record("metrics.request_rate"),
            clock=fake_clock.clock,
        )
