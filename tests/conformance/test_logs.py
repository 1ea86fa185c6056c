"""logs.todo_backend: a canary request's log line comes back from Loki under the backend's labels."""

from __future__ import annotations

from typing import Any

from monitoring_conformance.api.loki import Loki
from monitoring_conformance.checks import loki as checks
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record, requirement


@requirement("logs.todo_backend")
def test_canary_log_line_arrives(
    loki: Loki, todo_app: Any, spec: Spec, record: Record
) -> None:
    checks.canary_arrives(loki, todo_app, spec, record)
