"""Grafana subchart settings, checked on merged values: plugin updates, readiness probe, sidecar scope.

These are keys of the grafana chart (12.11.1) as kube-prometheus-stack passes them on. Offline they are
checked as values; whether Grafana honours them is only seen on a cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.values import lookup

GRAFANA = "kube-prometheus-stack.grafana"
#: Kubernetes' default probe period and initial delay, used when the values leave them out.
DEFAULT_PERIOD = 10
DEFAULT_INITIAL_DELAY = 0
#: At most this many seconds between Grafana answering /api/health and its pod being Ready.
MAX_READINESS_LAG = 3
#: The grafana chart's sidecars that read ConfigMaps/Secrets, with their default ``enabled``.
SIDECARS = {"dashboards": True, "datasources": True, "alerts": False, "notifiers": False, "plugins": False}
#: Scopes kube-prometheus-stack sets when our values leave the key out (the grafana chart's own is null).
KPS_SCOPES = {"dashboards": "ALL"}
_MISSING = object()


def _grafana_on(values: Mapping[str, Any]) -> bool:
    return lookup(values, "kube-prometheus-stack.enabled", True) is not False and (
        lookup(values, f"{GRAFANA}.enabled", True) is not False
    )


def check_plugin_auto_update(values: Mapping[str, Any], source: str) -> list[Finding]:
    """Grafana must not replace its preinstalled plugins at start."""
    key = f"{GRAFANA}.grafana.ini.plugins.preinstall_auto_update"
    ini = lookup(values, GRAFANA, {}).get("grafana.ini")  # a key with a dot: no dotted lookup
    plugins = ini.get("plugins") if isinstance(ini, Mapping) else None
    value = plugins.get("preinstall_auto_update") if isinstance(plugins, Mapping) else None
    if not _grafana_on(values) or value is False:
        return []
    seen = "is not set (Grafana's default: true)" if value is None else f"is {value!r}"
    return [
        Finding(
            source,
            key,
            f"{seen}: Grafana would fetch newer copies of its preinstalled plugins (the Prometheus and "
            "Loki datasources among them) at every start; set it to false",
        )
    ]


def readiness_lag(values: Mapping[str, Any]) -> int:
    """Worst-case seconds between Grafana answering and the readiness probe noticing it."""
    probe = lookup(values, f"{GRAFANA}.readinessProbe") or {}
    period = probe.get("periodSeconds", DEFAULT_PERIOD) if isinstance(probe, Mapping) else DEFAULT_PERIOD
    delay = (
        probe.get("initialDelaySeconds", DEFAULT_INITIAL_DELAY)
        if isinstance(probe, Mapping)
        else DEFAULT_INITIAL_DELAY
    )
    return max(int(period), int(delay))


def check_readiness_probe(values: Mapping[str, Any], source: str) -> list[Finding]:
    """A healthy Grafana is Ready within MAX_READINESS_LAG seconds, and the probe stays on /api/health."""
    if not _grafana_on(values):
        return []
    key = f"{GRAFANA}.readinessProbe"
    probe = lookup(values, key)
    findings: list[Finding] = []
    lag = readiness_lag(values)
    if lag > MAX_READINESS_LAG:
        shown = (
            "sets no periodSeconds/initialDelaySeconds"
            if not isinstance(probe, Mapping)
            else f"is {dict(probe)!r}"
        )
        findings.append(
            Finding(
                source,
                key,
                f"{shown}: a healthy Grafana may wait up to {lag} s for Ready (and for its Service), "
                f"over {MAX_READINESS_LAG} s; lower periodSeconds and initialDelaySeconds",
            )
        )
    if isinstance(probe, Mapping) and any(k in probe for k in ("exec", "tcpSocket", "grpc")):
        findings.append(Finding(source, key, "replaces the httpGet /api/health check; only tune its timing"))
    return findings


def check_sidecar_scope(values: Mapping[str, Any], source: str) -> list[Finding]:
    """Sidecars watch only Grafana's own namespace, and the grafana chart's RBAC is a namespaced Role."""
    if not _grafana_on(values):
        return []
    findings: list[Finding] = []
    for sidecar, default in SIDECARS.items():
        if lookup(values, f"{GRAFANA}.sidecar.{sidecar}.enabled", default) is not True:
            continue
        key = f"{GRAFANA}.sidecar.{sidecar}.searchNamespace"
        scope = lookup(values, key, _MISSING)
        note = ""
        if scope is _MISSING:
            scope = KPS_SCOPES.get(sidecar)
            note = f" (not set, and kube-prometheus-stack's default is {scope})"
        if scope:
            findings.append(
                Finding(
                    source,
                    key,
                    f"is {scope!r}{note}: the sidecar would read ConfigMaps and Secrets outside the release "
                    'namespace; set it to "" (Grafana\'s own namespace)',
                )
            )
    if lookup(values, f"{GRAFANA}.rbac.namespaced") is not True:
        findings.append(
            Finding(
                source,
                f"{GRAFANA}.rbac.namespaced",
                f"is {lookup(values, f'{GRAFANA}.rbac.namespaced')!r}: the grafana chart then grants a "
                "ClusterRole that reads Secrets in every namespace; set it to true",
            )
        )
    return findings
