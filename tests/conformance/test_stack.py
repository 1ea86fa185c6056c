"""stack.prometheus_targets: Prometheus is ready and the profile's scrape jobs are up."""

from __future__ import annotations

from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import prometheus as checks
from monitoring_conformance.fixtures import Suite
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record, requirement


@requirement("stack.prometheus_targets")
def test_required_scrape_jobs_are_up(
    prometheus: Prometheus, suite: Suite, spec: Spec, record: Record
) -> None:
    pods = suite.stack.app_identity if suite.stack is not None else None
    checks.jobs_up(prometheus, spec, record, app=suite.client("app"), pods=pods)
