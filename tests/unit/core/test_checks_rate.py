"""metrics.request_rate: window from the scrape interval, restarts told by the fingerprint, traffic bounded
by the budget and not ended by one failing request (checks.rate, api.app.traffic) against the doubles."""

from __future__ import annotations

from typing import Any

import pytest
from tests.doubles import FakeClock, PrometheusDouble, TodoAppDouble, connection_refused
from tests.unit.core.helpers import make_record, make_spec, targets_payload

from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import prometheus as checks
from monitoring_conformance.checks.base import CheckFailed

pytestmark = pytest.mark.unit

RATE = 'sum(rate(http_requests_total{job="todo-backend"}[${rate_window}]))'
COUNTER = 'sum(http_requests_total{job="todo-backend",method="POST"})'
START = 'process_start_time_seconds{job="todo-backend"}'
APP_TARGET = {"job": "todo-backend", "instance": "todo-backend:80"}
METRICS = "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {start}\n"


def run(prometheus: PrometheusDouble, app: TodoAppDouble, fake_clock: FakeClock, **options: Any) -> Any:
    record = make_record("metrics.request_rate")
    spec = {"query": RATE, "counter": COUNTER, "traffic": 9, "threshold": 0, "timeout": 30, **options}
    rate = checks.request_rate(
        Prometheus(prometheus.endpoint(name="Prometheus")),
        TodoApp(app.endpoint(name="Todo backend")),
        make_spec("metrics.request_rate", **spec),
        record,
        clock=fake_clock.clock,
    )
    return rate, record


def test_the_window_is_four_scrape_intervals_of_the_app_job(fake_clock: FakeClock) -> None:
    app = TodoAppDouble()
    double = PrometheusDouble(
        vectors={
            RATE.replace("${rate_window}", "8s"): [({}, 1.0)],
            COUNTER: lambda: [({}, app.next_id - 1.0)],
        },
        targets=targets_payload("todo-backend", interval="2s"),
    )

    rate, record = run(double, app, fake_clock)

    assert rate == 1.0
    assert '"scrape_interval_s": 2.0' in record.evidence[0]["response"]
    assert 'sum(rate(http_requests_total{job="todo-backend"}[8s]))' in double.queries


def test_a_60s_interval_makes_the_rate_unmeasurable_at_once_naming_it(fake_clock: FakeClock) -> None:
    app = TodoAppDouble()
    double = PrometheusDouble(targets=targets_payload("todo-backend", interval="1m"))

    with pytest.raises(CheckFailed) as caught:
        run(double, app, fake_clock, app_job="todo-backend")

    message = str(caught.value)
    assert "FAILED at once" in message
    assert (
        "the scrape interval 60s (scrapeInterval of job=todo-backend) makes the request rate unmeasurable"
        " within the 30s budget"
    ) in message
    assert app.calls == []  # no traffic for a requirement that cannot be measured


def test_a_fixed_window_shorter_than_four_intervals_fails_at_once(fake_clock: FakeClock) -> None:
    app = TodoAppDouble()
    double = PrometheusDouble(targets=targets_payload("todo-backend", interval="15s"))

    with pytest.raises(CheckFailed, match=r"the rate window \[30s\] holds fewer than 4 scrapes at the 15s"):
        run(double, app, fake_clock, query=RATE.replace("${rate_window}", "30s"), timeout=60)


def test_a_restart_the_counter_hides_is_seen_by_the_start_time(fake_clock: FakeClock) -> None:
    """The backend restarts right after the first burst; the new process counts from 0, and the sum never
    goes down (the baseline had no series). Measured from the restart, not from the first burst."""
    app = TodoAppDouble(metrics=METRICS.format(start=1000.0))
    state = {"start": 1000.0, "counted_from": 0}

    def counter() -> Any:
        if app.next_id - 1 >= 3 and state["start"] == 1000.0:  # restart once the first burst is in
            state["start"], state["counted_from"] = 2000.0, app.next_id - 1
            app.metrics = METRICS.format(start=2000.0)
        return [({}, float(app.next_id - 1 - state["counted_from"]))]

    double = PrometheusDouble(
        vectors={
            RATE.replace("${rate_window}", "4s"): [({}, 1.0)],
            COUNTER: counter,
            START: lambda: [(APP_TARGET, state["start"])],
        },
        targets=targets_payload("todo-backend", interval="1s"),
    )

    rate, record = run(double, app, fake_clock, app_job="todo-backend")

    assert rate == 1.0
    assert "measured from the last of 1 counter reset(s)" in record.message
    assert '"counter_resets": 1' in record.evidence[0]["response"]


def test_another_backend_s_growing_counter_does_not_pass(fake_clock: FakeClock) -> None:
    app = TodoAppDouble()
    other = iter(range(100, 100_000, 50))
    double = PrometheusDouble(
        vectors={
            RATE.replace("${rate_window}", "4s"): [({}, 5.0)],
            COUNTER: lambda: [({}, float(next(other)))],  # grows whatever the suite sends
            START: [(APP_TARGET, 42.0)],
        },
        targets=targets_payload("todo-backend", interval="1s"),
    )

    with pytest.raises(CheckFailed) as caught:
        run(double, app, fake_clock, app_job="todo-backend", timeout=3)

    assert (
        "Prometheus scrapes job=todo-backend at instance=todo-backend:80 started 42.00, but the app the suite"
        " reached (Todo backend at http://todo-backend.test (direct)) started 1794999612.45"
    ) in str(caught.value)


def test_a_request_without_answer_does_not_end_the_burst() -> None:
    """The server closes the connection after each /healthz (as after a 500): the POSTs still go out."""
    app = TodoAppDouble(failures={"/healthz": connection_refused()})

    done = TodoApp(app.endpoint(name="Todo backend")).traffic(9)

    assert (done.answered, done.posts, done.posts_ok, done.failed) == (6, 3, 3, 3)
    assert done.describe().startswith("6 requests answered, 3 of 3 POSTs acknowledged (2xx), 3 without an")


def test_a_500_on_the_list_is_not_a_missing_post() -> None:
    app = TodoAppDouble(broken={"list": 500})

    done = TodoApp(app.endpoint(name="Todo backend")).traffic(9)

    assert (done.posts_ok, done.server_errors) == (3, 3)


def test_every_request_s_timeout_is_capped_by_the_budget_left() -> None:
    app = TodoAppDouble()
    left = iter([4.0, 2.5, 0.0])

    done = TodoApp(app.endpoint(name="Todo backend")).traffic(9, time_left=lambda: next(left))

    assert [c.timeout for c in app.calls] == [(4.0, 4.0), (2.5, 2.5)]
    assert done.error == "the budget ran out after 2 of 9 requests"
