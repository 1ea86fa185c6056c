"""metrics.*: the series the dashboards and alerts rely on exist, and the request rate moves with traffic.

The queries are data: the profile names them per requirement (fixtures/profiles/<profile>.yaml).
"""

from __future__ import annotations

from typing import Any

from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import prometheus as checks
from monitoring_conformance.fixtures import Suite
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record, requirement
from monitoring_conformance.wait import Clock


@requirement("metrics.cpu")
def test_cpu_series_exist(
    prometheus: Prometheus, suite: Suite, spec: Spec, record: Record, clock: Clock | None
) -> None:
    checks.series_present(prometheus, spec, record, app=suite.client("app"), pods=_pods(suite), clock=clock)


@requirement("metrics.memory")
def test_memory_series_exist(
    prometheus: Prometheus, suite: Suite, spec: Spec, record: Record, clock: Clock | None
) -> None:
    checks.series_present(prometheus, spec, record, app=suite.client("app"), pods=_pods(suite), clock=clock)


@requirement("metrics.pod_status")
def test_pod_status_series_exist(
    prometheus: Prometheus, suite: Suite, spec: Spec, record: Record, clock: Clock | None
) -> None:
    checks.series_present(prometheus, spec, record, app=suite.client("app"), pods=_pods(suite), clock=clock)


@requirement("metrics.request_rate")
def test_request_rate_is_positive(
    prometheus: Prometheus, todo_app: Any, suite: Suite, spec: Spec, record: Record, clock: Clock | None
) -> None:
    checks.request_rate(prometheus, todo_app, spec, record, pods=_pods(suite), clock=clock)


def _pods(suite: Suite) -> Any:
    """The app Service's endpoints (kube targets), the identity of the app the suite reaches."""
    return suite.stack.app_identity if suite.stack is not None else None
