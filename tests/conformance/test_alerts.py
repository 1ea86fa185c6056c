"""alerts.fire: the chart's alert rule fires on a real, undone fault and reaches Alertmanager."""

from __future__ import annotations

from monitoring_conformance.api.alertmanager import Alertmanager
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import alerts as checks
from monitoring_conformance.checks.base import NotVerifiable
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record, requirement
from monitoring_conformance.stack import Stack

#: Why the urls target cannot verify alerts.fire.
NO_FAULT = ("the urls target only reaches URLs: it cannot take the Todo backend down and bring it back, "
            "so no fault can be induced; use --target local (or kind/kubeconfig)")


@requirement("alerts.fire")
def test_backend_down_alert_fires_and_reaches_alertmanager(
    stack: Stack, spec: Spec, record: Record
) -> None:
    alerting = stack.alerting
    if alerting is None:
        raise NotVerifiable(NO_FAULT if stack.target == "urls" else f"the {stack.target} target offers no "
                            "alerting set-up (Prometheus rules, Alertmanager and a fault)")
    if alerting.rules_source:
        record.note(f"rules: {alerting.rules_source}")
    alertmanager = Alertmanager(alerting.alertmanager) if alerting.alertmanager is not None else None
    checks.fire(Prometheus(alerting.prometheus), alertmanager, alerting.fault, spec, record,
                reason=alerting.reason, error_fault=alerting.error_fault)
