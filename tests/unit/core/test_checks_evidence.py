"""Identity and freshness (checks.evidence) through the checks that use them, against the doubles."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.doubles import FakeClock, PrometheusDouble, TodoAppDouble, connection_refused
from tests.unit.core.helpers import make_record, make_spec, targets_payload

from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import prometheus as checks
from monitoring_conformance.checks.base import CheckFailed
from monitoring_conformance.checks.evidence import Age, Identity, judge

pytestmark = pytest.mark.unit

NODE = 'node_cpu_seconds_total{job="node"}'
APP = 'process_cpu_seconds_total{job="todo-backend"}'
START = 'process_start_time_seconds{job="todo-backend"}'
OWN_START = 1.79499961245e09  # the recorded /metrics of TodoAppDouble
APP_TARGET = {"job": "todo-backend", "instance": "todo-backend:80"}
NODE_TARGET = {"job": "node", "instance": "node:80"}


def client(double: PrometheusDouble) -> Prometheus:
    return Prometheus(double.endpoint(name="Prometheus"))


def app_client(double: TodoAppDouble) -> TodoApp:
    return TodoApp(double.endpoint(name="Todo backend"))


def prometheus(*, start: float = OWN_START, ages: dict[str, float] | None = None, jobs: Any = None,
               interval: str = "1s") -> PrometheusDouble:  # fmt: skip
    return PrometheusDouble(
        vectors={NODE: [(NODE_TARGET, 1.0)], APP: [(APP_TARGET, 2.0)], START: [(APP_TARGET, start)]},
        targets=targets_payload(*(jobs or ("prometheus", "todo-backend", "node")), interval=interval),
        ages=ages,
    )


def cpu_spec(**options: Any) -> Any:
    return make_spec(
        "metrics.cpu", queries={"node_cpu": NODE, "app_cpu": APP}, threshold=1, timeout=3, **options
    )


def test_fresh_series_of_the_app_the_suite_reaches_pass_and_say_so(fake_clock: FakeClock) -> None:
    record = make_record("metrics.cpu")

    counts = checks.series_present(
        client(prometheus()), cpu_spec(app_job="todo-backend"), record,
        app=app_client(TodoAppDouble()), clock=fake_clock.clock,
    )  # fmt: skip

    assert counts == {"node_cpu": 1, "app_cpu": 1}
    assert "job=todo-backend instance todo-backend:80 is the app the suite reaches" in record.message
    evidence = json.loads(record.evidence[0]["response"])
    assert evidence["identity"]["matched_instances"] == ["todo-backend:80"]
    assert evidence["sample_age_s"]["node_cpu"] == [
        "instance=node:80, job=node newest sample 0.5s old (interval 1s, target job=node instance=node:80)"
    ]


def test_a_stale_node_series_fails_cpu_with_its_age_and_interval(fake_clock: FakeClock) -> None:
    """node_exporter died, Prometheus restarted on the same data: the series is returned, 120 s old."""
    with pytest.raises(CheckFailed) as caught:
        checks.series_present(
            client(prometheus(ages={NODE: 120.0})), cpu_spec(), make_record("metrics.cpu"),
            clock=fake_clock.clock,
        )  # fmt: skip

    assert (
        f"last observation: 1 series, 0 fresh for node_cpu: {NODE} (stale: 1 series, oldest:"
        " instance=node:80, job=node newest sample 120.0s old"
        " (interval 1s, target job=node instance=node:80))"
    ) in str(caught.value)


def test_a_series_whose_job_was_removed_is_stale_whatever_its_age(fake_clock: FakeClock) -> None:
    double = prometheus(jobs=("prometheus", "todo-backend"))  # a reload dropped job=node

    with pytest.raises(CheckFailed) as caught:
        checks.series_present(client(double), cpu_spec(), make_record("metrics.cpu"), clock=fake_clock.clock)

    assert "no active target of job=node: removed?" in str(caught.value)
    assert "app_cpu" not in str(caught.value).split("last observation:")[1].split("request:")[0]


def test_another_process_scraped_as_the_app_fails_naming_both_sides(fake_clock: FakeClock) -> None:
    record = make_record("metrics.cpu")

    with pytest.raises(CheckFailed) as caught:
        checks.series_present(
            client(prometheus(start=1.7e9)), cpu_spec(app_job="todo-backend"), record,
            app=app_client(TodoAppDouble()), clock=fake_clock.clock,
        )  # fmt: skip

    message = str(caught.value)
    assert "0 fresh for app_cpu" in message
    assert (
        "Prometheus scrapes job=todo-backend at instance=todo-backend:80 started 1700000000.00, but the app"
        " the suite reached (Todo backend at http://todo-backend.test (direct)) started 1794999612.45"
    ) in message
    assert "node_cpu" not in message.split("last observation:")[1].split("request:")[0]


def test_jobs_up_fails_when_the_app_job_scrapes_another_process(fake_clock: FakeClock) -> None:
    spec = make_spec(
        "stack.prometheus_targets", jobs=("prometheus", "todo-backend"), threshold=1, timeout=2,
        app_job="todo-backend",
    )  # fmt: skip

    with pytest.raises(CheckFailed, match=r"job=todo-backend: Prometheus scrapes job=todo-backend at"):
        checks.jobs_up(
            client(prometheus(start=1.7e9)), spec, make_record("stack.prometheus_targets"),
            app=app_client(TodoAppDouble()), clock=fake_clock.clock,
        )  # fmt: skip


def test_reads_that_come_back_to_an_earlier_start_time_mean_several_processes() -> None:
    identity = Identity("app", "todo-backend", reads=[1.0, 2.0], scraped={"a": 1.0},
                        history=[1.0, 2.0, 1.0])  # fmt: skip

    assert identity.several_processes
    assert "several processes serve it, each with its own metrics registry" in identity.problem()
    assert "multiprocess mode" in identity.problem()


def test_a_restart_moves_on_and_is_not_several_processes() -> None:
    identity = Identity("app", "todo-backend", reads=[2.0, 2.0], scraped={"a": 2.0},
                        history=[1.0, 1.0, 2.0, 2.0])  # fmt: skip

    assert not identity.several_processes
    assert identity.problem() == ""
    assert identity.matched == ["a"]


def test_an_app_without_start_time_has_no_identity() -> None:
    identity = Identity("app", "todo-backend", reads=[None], scraped={"a": 2.0})

    assert "exposes no process_start_time_seconds on /metrics: identity unknown" in identity.problem()


@pytest.mark.parametrize(
    ("labels", "known", "fresh", "target"),
    [
        ({"job": "node", "instance": "n:1"}, {("node", "n:1"): 1.0}, True, "target job=node instance=n:1"),
        ({"job": "node", "instance": "other"}, {("node", "n:1"): 1.0}, True, "job=node, instance not among"),
        ({"job": "gone", "instance": "n:1"}, {("node", "n:1"): 1.0}, False, "no active target of job=gone"),
        ({}, {("node", "n:1"): 1.0}, True, "no job label"),
    ],
)
def test_judge_finds_the_interval_of_the_series_target(
    labels: dict[str, str], known: dict[tuple[str, str], float], fresh: bool, target: str
) -> None:
    age = judge(labels, 2.0, known)

    assert age.fresh is fresh
    assert age.target.startswith(target)


def test_fresh_means_younger_than_three_intervals() -> None:
    assert Age({}, 3.0, 1.0, "target job=a instance=b").fresh
    assert not Age({}, 3.1, 1.0, "target job=a instance=b").fresh
    assert not Age({}, float("nan"), 1.0, "target job=a instance=b").fresh


def test_an_app_that_does_not_answer_leaves_the_series_check_to_say_what_is_missing(
    fake_clock: FakeClock,
) -> None:
    """The backend is down: the failure still names the app series, and why the identity is unknown."""
    down = TodoAppDouble(fail_all=connection_refused())
    double = PrometheusDouble(vectors={NODE: [(NODE_TARGET, 1.0)], START: [(APP_TARGET, OWN_START)]},
                              targets=targets_payload("todo-backend", "node", interval="1s"))  # fmt: skip

    with pytest.raises(CheckFailed) as caught:
        checks.series_present(
            client(double), cpu_spec(app_job="todo-backend"), make_record("metrics.cpu"),
            app=app_client(down), clock=fake_clock.clock,
        )  # fmt: skip

    assert f"0 series, 0 fresh for app_cpu: {APP}" in str(caught.value)
