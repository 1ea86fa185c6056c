"""Kube identity: the app Service's ready endpoints against the app job's scraped targets.

The Endpoints object is written in the v1 API's shape (fixtures/payloads/kube/endpoints-todo-backend.json:
one ready pod, one not ready); the API server is a RecordedTransport.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from tests.doubles import FakeClock, PrometheusDouble, TodoAppDouble
from tests.doubles.transport import Call, RecordedTransport, payload
from tests.unit.core.helpers import make_record, make_spec, targets_payload

from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import prometheus as checks
from monitoring_conformance.checks.base import CheckFailed
from monitoring_conformance.identity import AppEndpoints, ServiceEndpoints, parse_endpoints

pytestmark = pytest.mark.unit

ENDPOINTS = payload("kube/endpoints-todo-backend.json")
READY_POD = "todo-backend-7d9c8b6f5-x2x4q"
UP = 'up{job="todo-backend"}'


class KubeApiDouble(RecordedTransport):
    """The API server's GET of one Endpoints object (what ServiceEndpoints reads)."""

    base_url = "https://kube-api.test"

    def __init__(self, endpoints: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.route("GET", r"/api/v1/namespaces/todo/endpoints/todo-backend", self._get)
        self.endpoints = endpoints

    def _get(self, call: Call, match: re.Match[str]) -> Any:
        return self.endpoints


def provider(endpoints: Any = ENDPOINTS) -> ServiceEndpoints:
    api = KubeApiDouble(endpoints)
    return ServiceEndpoints(api.mount(requests.Session()), api.base_url, "todo", "todo-backend")


def test_only_ready_addresses_count() -> None:
    found = parse_endpoints(ENDPOINTS, namespace="todo", service="todo-backend")

    assert found.pods == {"10.244.0.17": READY_POD}
    assert found.holds({"pod": READY_POD})
    assert found.holds({"instance": "10.244.0.17:8000"})
    assert not found.holds({"pod": "todo-backend-7d9c8b6f5-starting", "instance": "10.244.0.23:8000"})
    assert found.describe() == f"Service todo/todo-backend endpoints: {READY_POD} (10.244.0.17)"


def test_the_provider_reads_the_endpoints_object_through_the_api_session() -> None:
    assert provider()() == AppEndpoints("todo", "todo-backend", {"10.244.0.17": READY_POD})


def run_jobs_up(scraped: dict[str, str], fake_clock: FakeClock) -> Any:
    double = PrometheusDouble(
        vectors={UP: [(scraped, 1.0)]}, targets=targets_payload("todo-backend", interval="30s")
    )
    spec = make_spec("stack.prometheus_targets", jobs=("todo-backend",), threshold=1, timeout=2,
                     app_job="todo-backend")  # fmt: skip
    record = make_record("stack.prometheus_targets")
    checks.jobs_up(
        Prometheus(double.endpoint(name="Prometheus")), spec, record,
        app=TodoApp(TodoAppDouble().endpoint(name="Todo backend")), pods=provider(), clock=fake_clock.clock,
    )  # fmt: skip
    return record


def test_a_scraped_pod_behind_the_service_passes(fake_clock: FakeClock) -> None:
    scraped = {"job": "todo-backend", "pod": READY_POD, "instance": "10.244.0.17:8000"}
    record = run_jobs_up(scraped, fake_clock)

    assert "instance 10.244.0.17:8000 is the app the suite reaches" in record.message


def test_a_scraped_pod_of_another_deployment_fails_naming_both_sides(fake_clock: FakeClock) -> None:
    staging = {"job": "todo-backend", "pod": "todo-backend-staging-1", "instance": "10.244.1.5:8000"}

    with pytest.raises(CheckFailed) as caught:
        run_jobs_up(staging, fake_clock)

    assert (
        "Prometheus scrapes job=todo-backend at pod=todo-backend-staging-1 instance=10.244.1.5:8000, but the"
        " suite reaches Todo backend at http://todo-backend.test (direct) (Service todo/todo-backend"
        f" endpoints: {READY_POD} (10.244.0.17))"
    ) in str(caught.value)


def test_endpoints_that_cannot_be_read_leave_the_identity_unknown(fake_clock: FakeClock) -> None:
    api = KubeApiDouble(ENDPOINTS, status_overrides={"/api/v1/namespaces/todo/endpoints/todo-backend": 403})
    pods = ServiceEndpoints(api.mount(requests.Session()), api.base_url, "todo", "todo-backend")
    double = PrometheusDouble(targets=targets_payload("todo-backend", interval="30s"))
    spec = make_spec("stack.prometheus_targets", jobs=("todo-backend",), threshold=1, timeout=2,
                     app_job="todo-backend")  # fmt: skip

    with pytest.raises(CheckFailed, match="the endpoints of the app Service could not be read"):
        checks.jobs_up(
            Prometheus(double.endpoint(name="Prometheus")), spec, make_record("stack.prometheus_targets"),
            app=TodoApp(TodoAppDouble().endpoint(name="Todo backend")), pods=pods, clock=fake_clock.clock,
        )  # fmt: skip
