"""metrics.*: the series the dashboards and alerts rely on exist, and the request rate moves with traffic.

The queries are data: the profile names them per requirement (fixtures/profiles/<profile>.yaml). Every
catalogue entry whose profile schema is ``SERIES`` is checked by ``test_series_exist``: a new series
requirement needs its catalogue entry and profile data, no new test.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import prometheus as checks
from monitoring_conformance.fixtures import Suite
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import CATALOGUE, SERIES, Record, requirement

SERIES_IDS = [rid for rid, entry in CATALOGUE.items() if entry.schema is SERIES]


@pytest.mark.parametrize(
    "requirement_id", [pytest.param(rid, marks=pytest.mark.requirement(rid), id=rid) for rid in SERIES_IDS]
)
def test_series_exist(prometheus: Prometheus, suite: Suite, spec: Spec, record: Record) -> None:
    checks.series_present(prometheus, spec, record, app=suite.client("app"), pods=_pods(suite))


@requirement("metrics.request_rate")
def test_request_rate_is_positive(
    prometheus: Prometheus, todo_app: Any, suite: Suite, spec: Spec, record: Record
) -> None:
    checks.request_rate(prometheus, todo_app, spec, record, pods=_pods(suite))


def _pods(suite: Suite) -> Any:
    """The app Service's endpoints (kube targets), the identity of the app the suite reaches."""
    return suite.stack.app_identity if suite.stack is not None else None
