"""The Prometheus checks against PrometheusDouble: what passes, what fails, and how the failure reads."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from tests.doubles import FakeClock, PrometheusDouble, TodoAppDouble, connection_refused
from tests.unit.core.helpers import make_record, make_spec, targets_payload

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
    assert "kubelet 1/1, todo-backend 1/1" in record.message


def test_jobs_up_fails_naming_the_down_job_its_error_and_where_to_look(fake_clock: FakeClock) -> None:
    double = PrometheusDouble()
    spec = make_spec("stack.prometheus_targets", jobs=("kubelet", "kube-controller-manager"), threshold=1)
    record = make_record("stack.prometheus_targets")

    with pytest.raises(CheckFailed) as caught:
        checks.jobs_up(client(double), spec, record, clock=fake_clock.clock)

    lines = str(caught.value).splitlines()
    assert lines[0] == (
        "stack.prometheus_targets FAILED after 10.0s (21 attempts):"
        " scrape jobs kubelet, kube-controller-manager: every target up, at least 1 per job"
    )
    assert lines[1].startswith(
        "  last observation: job=kube-controller-manager: 0 of 1 targets up, need all and at least 1;"
        ' down: https://172.19.0.3:10257/metrics (last error: "Get'
    )
    where = "Prometheus at http://prometheus.test (direct)"
    assert lines[2] == f"  request: GET /api/v1/targets?state=active -> 200 ({where})"
    assert lines[3].startswith("  look next: Prometheus targets (job=kube-controller-manager is DOWN:")
    assert record.measured == 1
    evidence = json.loads(record.evidence[0]["response"])
    assert evidence["targets_up_per_job"] == {"kubelet": "1/1", "kube-controller-manager": "0/1"}
    assert [(t["job"], t["scrape_url"]) for t in evidence["down_targets"]] == [
        ("kube-controller-manager", "https://172.19.0.3:10257/metrics")
    ]
    assert evidence["down_targets"][0]["last_error"].startswith('Get "https://172.19.0.3:10257/metrics"')


def test_jobs_up_fails_when_one_target_of_a_required_job_is_down(fake_clock: FakeClock) -> None:
    targets = targets_payload("prometheus", "todo-backend", "todo-backend")
    second = targets["data"]["activeTargets"][2]
    second.update(health="down", scrapeUrl="http://10.0.0.9:8000/metrics", lastError="connection refused")
    spec = make_spec("stack.prometheus_targets", jobs=("prometheus", "todo-backend"), threshold=1, timeout=2)
    record = make_record("stack.prometheus_targets")

    with pytest.raises(CheckFailed) as caught:
        checks.jobs_up(client(PrometheusDouble(targets=targets)), spec, record, clock=fake_clock.clock)

    assert (
        "last observation: job=todo-backend: 1 of 2 targets up, need all and at least 1;"
        ' down: http://10.0.0.9:8000/metrics (last error: "connection refused")'
    ) in str(caught.value)
    assert record.measured == 1  # prometheus only
    evidence = json.loads(record.evidence[0]["response"])
    assert evidence["targets_up_per_job"] == {"prometheus": "1/1", "todo-backend": "1/2"}
    assert evidence["down_targets"] == [
        {
            "job": "todo-backend",
            "scrape_url": "http://10.0.0.9:8000/metrics",
            "health": "down",
            "last_error": "connection refused",
        }
    ]


def test_jobs_up_needs_threshold_targets_even_when_all_are_up(fake_clock: FakeClock) -> None:
    spec = make_spec("stack.prometheus_targets", jobs=("todo-backend",), threshold=2, timeout=1)
    double = PrometheusDouble(targets=targets_payload("todo-backend"))

    with pytest.raises(CheckFailed, match="job=todo-backend: 1 of 1 targets up, need all and at least 2"):
        checks.jobs_up(client(double), spec, make_record("stack.prometheus_targets"), clock=fake_clock.clock)


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


def test_series_present_passes_with_one_query(fake_clock: FakeClock) -> None:
    double = PrometheusDouble(vectors={NODE: [({"cpu": "0"}, 1.0), ({"cpu": "1"}, 2.0)], APP: [({}, 3.0)]})
    spec = make_spec("metrics.cpu", queries={"node_cpu": NODE, "app_cpu": APP}, threshold=1)
    record = make_record("metrics.cpu")

    counts = checks.series_present(client(double), spec, record, clock=fake_clock.clock)

    assert counts == {"node_cpu": 2, "app_cpu": 1}
    assert record.measured == 1
    assert [c.path for c in double.calls] == ["/api/v1/targets", "/api/v1/query"]
    assert record.message == "fresh series per query: node_cpu 2, app_cpu 1; newest sample age at most 0.5s"


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
    head = "metrics.cpu FAILED after 60.0s (121 attempts): expected at least 1 fresh series"
    assert message.startswith(head)
    assert f"last observation: 0 series, 0 fresh for node_cpu: {NODE}" in message
    assert "request: GET /api/v1/query?query=label_replace(time() - timestamp(" in message
    assert "look next: Prometheus targets (job=kube-controller-manager is DOWN" in message
    assert record.measured == 0
    assert '"node_cpu": 0' in record.evidence[0]["response"]


def test_series_present_respects_the_threshold(fake_clock: FakeClock) -> None:
    double = PrometheusDouble(vectors={NODE: [({"cpu": "0"}, 1.0)]})
    spec = make_spec("metrics.cpu", queries={"node_cpu": NODE}, threshold=2, timeout=1)

    with pytest.raises(CheckFailed, match="1 series, 1 fresh for node_cpu"):
        checks.series_present(client(double), spec, make_record("metrics.cpu"), clock=fake_clock.clock)


def test_polls_react_within_half_a_second(fake_clock: FakeClock) -> None:
    spec = make_spec("metrics.cpu", queries={"node_cpu": NODE}, threshold=1, timeout=5)

    with pytest.raises(CheckFailed):
        checks.series_present(
            client(PrometheusDouble()), spec, make_record("metrics.cpu"), clock=fake_clock.clock
        )

    assert fake_clock.sleeps
    assert max(fake_clock.sleeps) <= 0.5


RATE = 'sum(rate(http_requests_total{job="todo-backend",handler!~"/metrics|/healthz"}[30s]))'
COUNTER = 'sum(http_requests_total{job="todo-backend",handler="/api/{user_id}/tasks",method="POST"})'


class RateAfter:
    """Answers the rate query with an empty vector for the first ``empty`` calls, then with ``value``."""

    def __init__(self, empty: int, value: float) -> None:
        self.empty = empty
        self.value = value
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return [] if self.calls <= self.empty else [({}, self.value)]


def created(app: TodoAppDouble, *, before: float = 100.0) -> Any:
    """The POST counter as the backend keeps it: ``before`` plus every task the double created."""
    return lambda: [({"status": "2xx"}, before + app.next_id - 1)]


def rate_double(app: TodoAppDouble, rate: Any, counter: Any = None) -> PrometheusDouble:
    return PrometheusDouble(
        vectors={RATE: rate, COUNTER: counter if counter is not None else created(app)},
        targets=targets_payload("prometheus", "todo-backend", interval="1s"),
    )


def run_rate(
    prometheus: PrometheusDouble, app: TodoAppDouble, fake_clock: FakeClock, **spec: Any
) -> tuple[float, Any]:
    record = make_record("metrics.request_rate")
    options = {"query": RATE, "counter": COUNTER, "traffic": 9, "threshold": 0, **spec}
    rate = checks.request_rate(
        client(prometheus),
        TodoApp(app.endpoint(name="Todo backend")),
        make_spec("metrics.request_rate", **options),
        record,
        clock=fake_clock.clock,
    )
    return rate, record


def test_request_rate_passes_when_its_posts_are_counted_and_the_rate_is_positive(
    fake_clock: FakeClock,
) -> None:
    app_double = TodoAppDouble()
    double = rate_double(app_double, RateAfter(empty=1, value=2.5))

    rate, record = run_rate(double, app_double, fake_clock)

    assert rate == 2.5
    assert record.measured == 2.5
    assert len(app_double.calls) == 9  # one burst: the rate showed at the next poll
    assert record.message == (
        f"2.5 req/s; {COUNTER} grew by 3 for 3 acknowledged POSTs (9 generated requests)"
    )
    assert double.queries[0] == COUNTER  # the counter is read before the first burst
    evidence = record.evidence[0]["response"]
    assert '"counter_before": 100.0' in evidence
    assert '"posts_acknowledged": 3' in evidence


def test_a_second_burst_follows_once_prometheus_counted_the_first(fake_clock: FakeClock) -> None:
    """A fresh stack: the series is born in the first burst, so the rate needs a second one."""
    app_double = TodoAppDouble()
    double = rate_double(app_double, RateAfter(empty=3, value=2.5))

    rate, record = run_rate(double, app_double, fake_clock)

    assert rate == 2.5
    # burst 1 at 0 s; the counter shows it at once, so burst 2 goes out after MIN_BURST_GAP_S, not 5 s
    assert len(app_double.calls) == 18
    assert fake_clock.now() - 1000.0 == pytest.approx(checks.MIN_BURST_GAP_S + 0.5)
    assert "grew by 6 for 6 acknowledged POSTs (18 generated requests)" in record.message


def test_request_rate_fails_when_the_backend_acknowledged_no_post_although_the_rate_is_positive(
    fake_clock: FakeClock,
) -> None:
    app_double = TodoAppDouble(broken={"create": 500})  # the rate moves (500s are requests too)
    double = rate_double(app_double, [({}, 4.0)])

    with pytest.raises(CheckFailed) as caught:
        run_rate(double, app_double, fake_clock, timeout=3)

    message = str(caught.value)
    assert (
        "last observation: no POST of the suite was acknowledged (9 requests answered, 0 of 3 POSTs"
        in message
    )
    assert len(app_double.calls) == 9  # the rate was positive: no follow-up burst


def test_request_rate_fails_when_the_traffic_could_not_be_sent(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble(fail_all=connection_refused())
    double = rate_double(app_double, [({}, 4.0)], counter=[({}, 50.0)])

    with pytest.raises(CheckFailed) as caught:
        run_rate(double, app_double, fake_clock, timeout=3)

    message = str(caught.value)
    # three requests in a row without an answer end a burst (the first POST among them)
    assert "no POST of the suite was acknowledged (0 requests answered, 0 of 1 POSTs" in message
    assert "traffic failed: GET http://todo-backend.test/healthz -> connection refused" in message


def test_request_rate_fails_when_the_counter_did_not_grow_with_the_acknowledged_posts(
    fake_clock: FakeClock,
) -> None:
    app_double = TodoAppDouble()
    double = rate_double(app_double, [({}, 4.0)], counter=[({}, 100.0)])  # someone else's traffic

    with pytest.raises(CheckFailed) as caught:
        run_rate(double, app_double, fake_clock, timeout=3)

    message = str(caught.value)
    assert f"last observation: {COUNTER} grew by 0 since the first burst, expected at least 3" in message


def test_request_rate_counts_a_counter_born_in_the_burst_from_zero(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    calls = {"n": 0}

    def born() -> Any:  # no series before the first burst; then the created tasks
        calls["n"] += 1
        return [] if calls["n"] == 1 else [({}, float(app_double.next_id - 1))]

    rate, record = run_rate(rate_double(app_double, [({}, 1.0)], counter=born), app_double, fake_clock)

    assert rate == 1.0
    assert "grew by 3 for 3 acknowledged POSTs" in record.message


class RestartingCounter:
    """The POST counter of a backend that restarts right after the first burst: 100 at the baseline, then
    only what the restarted process counted (the first burst's POSTs were lost with the old process)."""

    def __init__(self, app: TodoAppDouble, *, after_restart: Any = None) -> None:
        self.app = app
        self.reads = 0
        self.after_restart = after_restart

    def __call__(self) -> Any:
        self.reads += 1
        if self.reads == 1:
            return [({}, 100.0)]
        if self.reads == 2 and self.after_restart is not None:
            self.after_restart()
        return [({}, float(max(0, self.app.next_id - 1 - 3)))]


def test_a_counter_reset_is_measured_again_from_the_lower_value(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    double = rate_double(app_double, [({}, 2.0)], counter=RestartingCounter(app_double))

    rate, record = run_rate(double, app_double, fake_clock, timeout=30)

    assert rate == 2.0
    assert len(app_double.calls) == 18  # one more burst right after the reset
    assert "grew by 3 for 3 acknowledged POSTs, measured from the last of 1 counter reset(s)" in (
        record.message
    )
    assert '"counter_resets": 1' in record.evidence[0]["response"]


def test_after_a_counter_reset_only_posts_acknowledged_since_count(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()

    def posts_fail_from_now_on() -> None:
        app_double.broken["create"] = 500

    counter = RestartingCounter(app_double, after_restart=posts_fail_from_now_on)
    double = rate_double(app_double, [({}, 2.0)], counter=counter)

    with pytest.raises(CheckFailed) as caught:
        run_rate(double, app_double, fake_clock, timeout=10)

    expected = f"{COUNTER} went down or the app restarted (1 so far): no POST of the suite acknowledged since"
    assert expected in str(caught.value)


def test_a_series_missing_for_a_scrape_does_not_pass_for_growth(fake_clock: FakeClock) -> None:
    """Two pods count 60 + 40; one pod's series is missing for one reading, then back: the sum's return
    to 100 is not the suite's POSTs (measured from the dip it would be 'grew by 40 for 3')."""
    app_double = TodoAppDouble()
    readings = iter([100.0, 60.0, 100.0])

    def counter() -> Any:
        return [({}, next(readings, 100.0 + app_double.next_id - 1))]

    rate, record = run_rate(rate_double(app_double, [({}, 2.0)], counter=counter), app_double, fake_clock)

    assert rate == 2.0
    assert "grew by 6 for 6 acknowledged POSTs (18 generated requests)" in record.message
    assert '"counter_resets": 0' in record.evidence[0]["response"]


def test_request_rate_fails_with_the_query_and_bounded_traffic(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    double = rate_double(app_double, RateAfter(empty=10**6, value=0))

    with pytest.raises(CheckFailed) as caught:
        run_rate(double, app_double, fake_clock, traffic=4, timeout=30)

    message = str(caught.value)
    # the counter keeps up, so one burst per MIN_BURST_GAP_S (1 s) from 0 s to 29 s: 30 bursts of 4; the
    # one due at 30 s finds no budget left and sends nothing
    expected = "request rate is no series after 120 requests answered, 30 of 30 POSTs acknowledged (2xx)"
    assert f"{expected}; traffic failed: the budget ran out after 0 of 4 requests: {RATE}" in message
    assert len(app_double.calls) == 120


def test_without_the_counter_catching_up_bursts_go_every_five_seconds(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    double = rate_double(app_double, RateAfter(empty=10**6, value=0), counter=[({}, 5.0)])

    with pytest.raises(CheckFailed):
        run_rate(double, app_double, fake_clock, traffic=4, timeout=30)

    assert len(app_double.calls) == 24  # 4 per burst, one every 5 s from 0 s to 25 s (none left at 30 s)


def test_request_rate_zero_is_not_enough(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()

    with pytest.raises(CheckFailed, match="request rate is 0 after"):
        run_rate(rate_double(app_double, [({}, 0.0)]), app_double, fake_clock, traffic=3, timeout=3)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_request_rate_that_is_not_a_finite_number_fails(fake_clock: FakeClock, value: float) -> None:
    app_double = TodoAppDouble()
    record = make_record("metrics.request_rate")

    with pytest.raises(CheckFailed, match=f"request rate is {value:g} after"):
        checks.request_rate(
            client(rate_double(app_double, [({}, value)])),
            TodoApp(app_double.endpoint(name="Todo backend")),
            make_spec("metrics.request_rate", query=RATE, counter=COUNTER, traffic=3, threshold=0, timeout=3),
            record,
            clock=fake_clock.clock,
        )

    assert record.measured is None
    assert f"the rate query returned {value}, not a finite number" in record.notes
    assert f'"rate": "{value}"' in record.evidence[0]["response"]


def test_above_needs_a_finite_value() -> None:
    assert checks.above(0.1, 0)
    assert not checks.above(0.0, 0)
    assert not checks.above(math.nan, 0)
    assert not checks.above(math.inf, 0)
