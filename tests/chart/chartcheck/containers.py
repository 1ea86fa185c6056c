"""Every container the subcharts start with our values, and the values key of its resources block.

Offline the subcharts are stand-ins that render nothing, so which containers exist cannot be read from a
render here. This catalogue is written from the templates of the pinned subchart versions (Chart.lock):
kube-prometheus-stack 88.5.3 with grafana 12.11.1, kube-state-metrics and node-exporter, loki 18.11.0 in
Monolithic mode, alloy 1.11.1. It lists only components our values can switch on; a component that stays
off under every scenario (Loki's scalable targets, caches, gateway, canary, Thanos ruler...) is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.values import lookup

KPS = "kube-prometheus-stack"


@dataclass(frozen=True)
class Container:
    """One container: its name, its resources block and the flags (with their defaults) that start it."""

    name: str
    resources: str
    when: tuple[tuple[str, bool], ...]
    #: Runs before the pod's other containers or as a hook Job: never part of the steady footprint.
    transient: bool = False

    def enabled(self, values: Mapping[str, Any]) -> bool:
        return all(lookup(values, flag, default) is True for flag, default in self.when)


_KPS_ON = ((f"{KPS}.enabled", True),)
_GRAFANA_ON = (*_KPS_ON, (f"{KPS}.grafana.enabled", True))

CONTAINERS = (
    Container("prometheus-operator", f"{KPS}.prometheusOperator.resources",
              (*_KPS_ON, (f"{KPS}.prometheusOperator.enabled", True))),
    Container("prometheus", f"{KPS}.prometheus.prometheusSpec.resources",
              (*_KPS_ON, (f"{KPS}.prometheus.enabled", True))),
    Container("prometheus config-reloader", f"{KPS}.prometheusOperator.prometheusConfigReloader.resources",
              (*_KPS_ON, (f"{KPS}.prometheus.enabled", True))),
    Container("alertmanager", f"{KPS}.alertmanager.alertmanagerSpec.resources",
              (*_KPS_ON, (f"{KPS}.alertmanager.enabled", True))),
    Container("alertmanager config-reloader", f"{KPS}.prometheusOperator.prometheusConfigReloader.resources",
              (*_KPS_ON, (f"{KPS}.alertmanager.enabled", True))),
    Container("admission webhook patch Jobs", f"{KPS}.prometheusOperator.admissionWebhooks.patch.resources",
              (*_KPS_ON, (f"{KPS}.prometheusOperator.admissionWebhooks.enabled", True),
               (f"{KPS}.prometheusOperator.admissionWebhooks.patch.enabled", True)), transient=True),
    Container("kube-state-metrics", f"{KPS}.kube-state-metrics.resources",
              (*_KPS_ON, (f"{KPS}.kubeStateMetrics.enabled", True))),
    Container("node-exporter", f"{KPS}.prometheus-node-exporter.resources",
              (*_KPS_ON, (f"{KPS}.nodeExporter.enabled", True))),
    Container("grafana", f"{KPS}.grafana.resources", _GRAFANA_ON),
    Container("grafana dashboards sidecar", f"{KPS}.grafana.sidecar.resources",
              (*_GRAFANA_ON, (f"{KPS}.grafana.sidecar.dashboards.enabled", True))),
    Container("grafana datasources sidecar", f"{KPS}.grafana.sidecar.resources",
              (*_GRAFANA_ON, (f"{KPS}.grafana.sidecar.datasources.enabled", True))),
    Container("grafana init-chown-data", f"{KPS}.grafana.initChownData.resources",
              (*_GRAFANA_ON, (f"{KPS}.grafana.persistence.enabled", False),
               (f"{KPS}.grafana.initChownData.enabled", True)), transient=True),
    Container("loki", "loki.singleBinary.resources", (("loki.enabled", True),)),
    Container("loki rules sidecar", "loki.sidecar.resources",
              (("loki.enabled", True), ("loki.sidecar.rules.enabled", True))),
    Container("alloy", "alloy.alloy.resources", (("alloy.enabled", True),)),
    Container("alloy config-reloader", "alloy.configReloader.resources",
              (("alloy.enabled", True), ("alloy.configReloader.enabled", True))),
)  # fmt: skip


def enabled_containers(values: Mapping[str, Any]) -> list[Container]:
    return [container for container in CONTAINERS if container.enabled(values)]


def missing_requests(values: Mapping[str, Any], source: str) -> list[Finding]:
    """A finding for every enabled container whose resources block requests neither CPU nor memory."""
    findings: list[Finding] = []
    for container in enabled_containers(values):
        requests = lookup(values, f"{container.resources}.requests")
        if not isinstance(requests, Mapping):
            missing = "no CPU and memory"
        else:
            missing = " and ".join(
                name for name, key in (("CPU", "cpu"), ("memory", "memory")) if key not in requests
            )
            missing = f"no {missing}" if missing else ""
        if missing:
            findings.append(
                Finding(
                    source,
                    f"{container.resources}.requests",
                    f"container {container.name} is started but requests {missing}: set both, or the "
                    "scheduler places it as if it needed nothing",
                )
            )
    return findings


def unknown_blocks(paths: list[str], source: str) -> list[Finding]:
    """A finding for every counted ``...resources.requests`` that belongs to no catalogued container."""
    known = {f"{container.resources}.requests" for container in CONTAINERS}
    return [
        Finding(source, path, "sets requests for no known container: a misplaced or misspelt key?")
        for path in paths
        if path not in known
    ]
