"""app.unchanged against TodoAppDouble and PrometheusDouble: health, round trip and the restart modes."""

from __future__ import annotations

import re

import pytest
from tests.doubles import FakeClock, PrometheusDouble, TodoAppDouble, connection_refused
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import app as checks
from monitoring_conformance.checks.base import CheckFailed, NotVerifiable
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record

pytestmark = pytest.mark.unit

RESTARTS = 'sum(kube_pod_container_status_restarts_total{namespace="todo",container="todo-backend"})'
START = 'process_start_time_seconds{job="todo-backend"}'


def spec(mode: str, query: str = "process_start_time_seconds", timeout: float = 5) -> Spec:
    return make_spec(
        "app.unchanged",
        timeout=timeout,
        threshold=0,
        user_id="conformance",
        restarts={"mode": mode, "query": query},
    )


def restarted(metrics: str) -> str:
    return re.sub(r"^(process_start_time_seconds) \S+", r"\1 1795999999.0", metrics, flags=re.MULTILINE)


def check(
    fake: FakeClock,
    app_double: TodoAppDouble,
    the_spec: Spec,
    *,
    prometheus: PrometheusDouble | None = None,
    baseline: checks.Baseline | None = None,
) -> tuple[int | None, Record]:
    record = make_record("app.unchanged")
    client = Prometheus(prometheus.endpoint(name="Prometheus")) if prometheus else None
    found = checks.unchanged(
        client, TodoApp(app_double.endpoint(name="Todo backend")), the_spec, record, baseline=baseline,
        clock=fake.clock,
    )  # fmt: skip
    return found, record


def baseline_of(
    app_double: TodoAppDouble, the_spec: Spec, prometheus: PrometheusDouble | None = None
) -> checks.Baseline:
    client = Prometheus(prometheus.endpoint(name="Prometheus")) if prometheus else None
    taken = checks.take_baseline(client, TodoApp(app_double.endpoint(name="Todo backend")), the_spec)
    assert taken is not None
    return taken


def test_process_mode_passes_when_the_start_time_is_unchanged(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    base = baseline_of(app_double, spec("process"))

    count, record = check(fake_clock, app_double, spec("process"), baseline=base)

    assert count == 0
    assert record.measured == 0
    assert record.message == "/healthz ok, CRUD round trip ok, 0 restart(s) (process)"
    assert app_double.tasks["conformance"] == {}  # the round trip cleaned up after itself


def test_process_mode_fails_at_once_on_a_restart(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    base = baseline_of(app_double, spec("process"))
    app_double.metrics = restarted(app_double.metrics)

    with pytest.raises(CheckFailed) as caught:
        check(fake_clock, app_double, spec("process"), baseline=base)

    message = str(caught.value)
    assert "app.unchanged FAILED at once" in message
    assert "1 restart(s) of the Todo backend (process: process_start_time_seconds), max 0" in message


def test_backend_down_fails_naming_healthz(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble()
    base = baseline_of(app_double, spec("process"))
    app_double.fail_all = connection_refused()

    with pytest.raises(CheckFailed) as caught:
        check(fake_clock, app_double, spec("process"), baseline=base)

    message = str(caught.value)
    assert message.startswith("app.unchanged FAILED after 5.0s (11 attempts)")
    assert "GET http://todo-backend.test/healthz -> connection refused" in message


def test_broken_round_trip_names_the_step(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble(broken={"delete": 500})
    base = baseline_of(app_double, spec("process"))

    with pytest.raises(CheckFailed, match="failed at step 'delete'"):
        check(fake_clock, app_double, spec("process"), baseline=base)


def test_without_a_baseline_health_is_still_checked_then_not_verified(fake_clock: FakeClock) -> None:
    app_double = TodoAppDouble(broken={"metrics": 500})
    base = baseline_of(app_double, spec("process"))
    assert base.values is None
    assert "500" in base.error

    with pytest.raises(NotVerifiable, match="health and round trip pass, but restarts cannot be told"):
        check(fake_clock, app_double, spec("process"), baseline=base)


class TwoProcessesDouble(TodoAppDouble):
    """Models two processes behind one port (uvicorn --workers 2, a balancer) as the baseline sees them:
    each of its reads (a new connection each) lands on the other process, which answers /metrics with
    its own process_start_time_seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.served = 0
        first = self.metrics
        self.route("GET", r"/metrics", self._step("metrics", lambda c, m: self._next(first)), first=True)

    def _next(self, first: str) -> str:
        self.served += 1
        return first if self.served % 2 else restarted(first)


def test_process_mode_baseline_names_several_processes_and_the_check_is_not_verified(
    fake_clock: FakeClock,
) -> None:
    app_double = TwoProcessesDouble()
    base = baseline_of(app_double, spec("process"))

    assert base.values is None
    assert app_double.served == 4
    assert "answered with different process_start_time_seconds" in base.error
    assert "several processes serve it, each with its own metrics registry" in base.error
    with pytest.raises(NotVerifiable, match=r"restarts cannot be told: .*several processes serve it"):
        check(fake_clock, app_double, spec("process"), baseline=base)


def test_process_mode_baseline_that_changes_once_while_read_is_no_baseline() -> None:
    app_double = TodoAppDouble()
    served: list[str] = []
    first = app_double.metrics

    def answer(c: object, m: object) -> str:
        served.append("metrics")
        return first if len(served) < 3 else restarted(first)

    app_double.route("GET", r"/metrics", app_double._step("metrics", answer), first=True)
    base = baseline_of(app_double, spec("process"))

    assert base.values is None
    assert "changed its process_start_time_seconds while read: restarting?" in base.error


def test_total_mode_reads_the_restart_counter(fake_clock: FakeClock) -> None:
    prometheus = PrometheusDouble(vectors={RESTARTS: [({}, 0.0)]})

    count, _ = check(fake_clock, TodoAppDouble(), spec("total", RESTARTS), prometheus=prometheus)

    assert count == 0


def test_total_mode_fails_when_the_counter_is_above_the_threshold(fake_clock: FakeClock) -> None:
    prometheus = PrometheusDouble(vectors={RESTARTS: [({}, 2.0)]})

    with pytest.raises(CheckFailed, match=r"2 restart\(s\) of the Todo backend \(total"):
        check(fake_clock, TodoAppDouble(), spec("total", RESTARTS), prometheus=prometheus)


def test_total_mode_with_a_nan_counter_fails_instead_of_crashing(fake_clock: FakeClock) -> None:
    prometheus = PrometheusDouble(vectors={RESTARTS: [({}, float("nan"))]})

    with pytest.raises(CheckFailed, match="observation: the restart counter is nan, not a finite number"):
        check(fake_clock, TodoAppDouble(), spec("total", RESTARTS), prometheus=prometheus)


def test_total_mode_without_series_fails_after_the_budget(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed, match="no series for sum"):
        check(fake_clock, TodoAppDouble(), spec("total", RESTARTS), prometheus=PrometheusDouble())


def test_unchanged_mode_compares_prometheus_values(fake_clock: FakeClock) -> None:
    series = [({"instance": "a:8000", "job": "todo-backend"}, 1795000000.0)]
    prometheus = PrometheusDouble(vectors={START: series})
    base = baseline_of(TodoAppDouble(), spec("unchanged", START), prometheus)
    assert base.series == ['{instance="a:8000", job="todo-backend"}']

    count, _ = check(
        fake_clock, TodoAppDouble(), spec("unchanged", START), prometheus=prometheus, baseline=base
    )
    assert count == 0

    prometheus.vectors[START] = [({"instance": "a:8000", "job": "todo-backend"}, 1795000500.0)]
    with pytest.raises(CheckFailed, match=r"1 restart\(s\)"):
        check(fake_clock, TodoAppDouble(), spec("unchanged", START), prometheus=prometheus, baseline=base)

    prometheus.vectors[START] = []
    with pytest.raises(CheckFailed, match="series gone since session start"):
        check(fake_clock, TodoAppDouble(), spec("unchanged", START), prometheus=prometheus, baseline=base)
