"""Alert shapes shared by the Prometheus and Alertmanager clients, and their parsers.

Prometheus reports an alerting rule's state as ``inactive``, ``pending`` or ``firing``
(``/api/v1/rules``, ``/api/v1/alerts``); Alertmanager lists the alerts it received (``/api/v2/alerts``),
each ``active``, ``suppressed`` or ``unprocessed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INACTIVE = "inactive"
PENDING = "pending"
FIRING = "firing"


@dataclass(frozen=True)
class Alert:
    """One alert instance: its labels and its state (Prometheus: pending/firing; Alertmanager: active...)."""

    name: str
    state: str
    labels: dict[str, str] = field(default_factory=dict)
    active_at: str = ""


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as Prometheus loaded it (``/api/v1/rules?type=alert``)."""

    name: str
    group: str
    file: str
    state: str
    query: str
    for_s: float
    interval_s: float
    health: str = ""
    last_error: str = ""
    alerts: tuple[Alert, ...] = ()


def _labels(raw: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def envelope_data(body: object) -> object:
    """The ``data`` of a Prometheus ``{"status": ..., "data": ...}`` envelope (None when it is not one)."""
    return body.get("data") if isinstance(body, Mapping) else None


def prometheus_alert(item: Mapping[str, Any]) -> Alert:
    labels = _labels(item.get("labels"))
    name, state = labels.get("alertname", ""), str(item.get("state", ""))
    return Alert(name, state, labels, str(item.get("activeAt", "")))


def prometheus_alerts(data: object) -> list[Alert]:
    """The ``data`` of ``/api/v1/alerts`` -> alerts."""
    items = data.get("alerts", []) if isinstance(data, Mapping) else []
    return [prometheus_alert(item) for item in items if isinstance(item, Mapping)]


def prometheus_rules(data: object) -> list[AlertRule]:
    """The ``data`` of ``/api/v1/rules`` -> the alerting rules (recording rules are left out)."""
    groups = data.get("groups", []) if isinstance(data, Mapping) else []
    rules = []
    for group in groups:
        if not isinstance(group, Mapping):
            continue
        for rule in group.get("rules", []):
            if not isinstance(rule, Mapping) or rule.get("type") != "alerting":
                continue
            alerts = tuple(prometheus_alert(a) for a in rule.get("alerts") or [] if isinstance(a, Mapping))
            rules.append(
                AlertRule(
                    name=str(rule.get("name", "")),
                    group=str(group.get("name", "")),
                    file=str(group.get("file", "")),
                    state=str(rule.get("state", "")),
                    query=str(rule.get("query", "")),
                    for_s=float(rule.get("duration", 0) or 0),
                    interval_s=float(group.get("interval", 0) or 0),
                    health=str(rule.get("health", "")),
                    last_error=str(rule.get("lastError", "")),
                    alerts=alerts,
                )
            )
    return rules


def alertmanager_alerts(body: object) -> list[Alert]:
    """The body of Alertmanager's ``/api/v2/alerts`` (a JSON list) -> alerts; state is status.state."""
    items = body if isinstance(body, list) else []
    alerts = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        labels = _labels(item.get("labels"))
        status = item.get("status")
        state = str(status.get("state", "")) if isinstance(status, Mapping) else ""
        alerts.append(Alert(labels.get("alertname", ""), state, labels, str(item.get("startsAt", ""))))
    return alerts
