"""grafana.ready_within_30s: seconds from the deployment's start (t0) until Grafana is usable."""

from __future__ import annotations

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks import grafana as checks
from monitoring_conformance.fixtures import DASHBOARD_DIR
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record, requirement
from monitoring_conformance.stack import Stack


@requirement("grafana.ready_within_30s")
def test_grafana_ready_within_30s(
    grafana: Grafana, stack: Stack, spec: Spec, record: Record
) -> None:
    uid = spec.options.get("dashboard") or checks.overview_uid(DASHBOARD_DIR)
    checks.ready_within(
        grafana, stack.t0, stack.t0_source, str(uid), spec, record,
        ready_at=stack.grafana_ready_at, observation=stack.grafana_ready_evidence,
    )  # fmt: skip
