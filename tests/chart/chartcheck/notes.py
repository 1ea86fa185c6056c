"""The install notes (templates/NOTES.txt) name the Services and the Secret the values actually produce.

The expected names are worked out here from the merged values, independently of the template: each
subchart's ``fullnameOverride``, else the release name when it contains the chart name, else
``<release>-<chart>`` (kube-prometheus-stack truncates to 26 characters, the others to 63), and the
Grafana admin Secret is ``admin.existingSecret`` or Grafana's own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.values import lookup

NOTES = "monitoring/templates/NOTES.txt"
KPS = "kube-prometheus-stack"


def subchart_fullname(values: Mapping[str, Any] | None, chart: str, release: str, limit: int = 63) -> str:
    """The name the standard chart helper gives a subchart's objects."""
    values = values or {}
    override = values.get("fullnameOverride")
    if override:
        name = str(override)
    else:
        chart_name = str(values.get("nameOverride") or chart)
        name = release if chart_name in release else f"{release}-{chart_name}"
    return name[:limit].rstrip("-")


def expected_lines(values: Mapping[str, Any], *, release: str, namespace: str) -> dict[str, str | None]:
    """What the notes must say per component; None for a component that is off (it must not be named)."""
    kps = lookup(values, KPS) or {}
    grafana = kps.get("grafana") or {}
    kps_on = kps.get("enabled", True) is not False
    grafana_on = kps_on and grafana.get("enabled", True) is not False
    kps_name = subchart_fullname(kps, KPS, release, 26)
    grafana_name = subchart_fullname(grafana, "grafana", release)
    grafana_port = lookup(grafana, "service.port", 80)

    def address(on: bool, name: str, port: Any) -> str | None:
        return f"{name}.{namespace}.svc:{port}" if on else None

    alertmanager_on = kps_on and lookup(kps, "alertmanager.enabled", True) is not False
    secret = str(lookup(grafana, "admin.existingSecret", "") or grafana_name)
    return {
        "Prometheus": address(kps_on, f"{kps_name}-prometheus", lookup(kps, "prometheus.service.port", 9090)),
        "Alertmanager": address(
            alertmanager_on, f"{kps_name}-alertmanager", lookup(kps, "alertmanager.service.port", 9093)
        ),
        "Grafana": address(grafana_on, grafana_name, grafana_port),
        "Loki": address(
            lookup(values, "loki.enabled", True) is not False,
            subchart_fullname(lookup(values, "loki"), "loki", release),
            lookup(values, "loki.loki.server.http_listen_port", 3100),
        ),
        "Alloy": address(
            lookup(values, "alloy.enabled", True) is not False,
            subchart_fullname(lookup(values, "alloy"), "alloy", release),
            lookup(values, "alloy.alloy.listenPort", 12345),
        ),
        "Secret": f"get secret {secret} " if grafana_on else None,
        "port-forward": f"port-forward svc/{grafana_name} 3000:{grafana_port}" if grafana_on else None,
    }


def check_notes(
    notes: str, values: Mapping[str, Any], source: str, *, release: str, namespace: str
) -> list[Finding]:
    """A finding per name the notes get wrong, and per component named although it is off."""
    findings: list[Finding] = []
    lines = notes.splitlines()
    for what, expected in expected_lines(values, release=release, namespace=namespace).items():
        if expected is not None and expected not in notes:
            said = next((line.strip() for line in lines if line.strip().startswith(what)), None)
            detail = f" (it says {said!r})" if said else ""
            findings.append(
                Finding(NOTES, what, f"should show {expected!r}, from the values of {source}{detail}")
            )
        elif expected is None and any(line.strip().startswith(what) for line in lines):
            findings.append(Finding(NOTES, what, f"names {what}, which the values of {source} switch off"))
    return findings
