"""app.unchanged: the Todo backend stays healthy next to the monitoring stack (runs last)."""

from __future__ import annotations

from typing import Any

from monitoring_conformance.checks import app as checks
from monitoring_conformance.fixtures import Suite
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record, requirement


@requirement("app.unchanged")
def test_backend_is_healthy_and_did_not_restart(
    suite: Suite,
    todo_app: Any,
    app_baseline: checks.Baseline | None,
    spec: Spec,
    record: Record,
) -> None:
    checks.unchanged(suite.client("prometheus"), todo_app, spec, record, baseline=app_baseline)
