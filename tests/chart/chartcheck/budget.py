"""The CPU and memory our values request, added up for a one-node cluster.

Walks the merged values for every ``resources.requests`` of an enabled component and multiplies it by the
component's replicas (a DaemonSet counts once: one node). Only what the values set is counted; a subchart
default that the values leave alone is not visible offline.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.values import lookup

MAX_CPU = 1.5
MAX_MEMORY = 3 * 2**30
#: Sub-trees switched by a flag that is not their own ``enabled`` key.
TOGGLES = {
    "kube-prometheus-stack.prometheus-node-exporter": "kube-prometheus-stack.nodeExporter.enabled",
    "kube-prometheus-stack.kube-state-metrics": "kube-prometheus-stack.kubeStateMetrics.enabled",
    "kube-prometheus-stack.prometheus-windows-exporter": "kube-prometheus-stack.windowsMonitoring.enabled",
}

#: Short-lived containers (hook Jobs, init containers): they end before the pods' other containers run, so
#: they do not add to the steady state.
SHORT_LIVED = (
    "kube-prometheus-stack.prometheusOperator.admissionWebhooks.patch",
    "kube-prometheus-stack.prometheusOperator.admissionWebhooks.createSecretJob",
    "kube-prometheus-stack.prometheusOperator.admissionWebhooks.patchWebhookJob",
    # An init container: the pod's request is the larger of it and the sum of the others, never both.
    "kube-prometheus-stack.grafana.initChownData",
)
#: One resources block shared by several containers: block path -> {flag of each container: its default}.
SHARED_BLOCKS = {
    "kube-prometheus-stack.grafana.sidecar": {
        "kube-prometheus-stack.grafana.sidecar.dashboards.enabled": True,
        "kube-prometheus-stack.grafana.sidecar.datasources.enabled": True,
        "kube-prometheus-stack.grafana.sidecar.alerts.enabled": False,
        "kube-prometheus-stack.grafana.sidecar.notifiers.enabled": False,
        "kube-prometheus-stack.grafana.sidecar.plugins.enabled": False,
    },
    # Loki's rules sidecar exists only while rule loading is on.
    "loki.sidecar": {"loki.sidecar.rules.enabled": True},
    # The operator gives the same reloader to the Prometheus pod and to the Alertmanager pod.
    "kube-prometheus-stack.prometheusOperator.prometheusConfigReloader": {
        "kube-prometheus-stack.prometheus.enabled": True,
        "kube-prometheus-stack.alertmanager.enabled": True,
    },
}


def _quantity(value: object) -> Decimal:
    """A Kubernetes quantity in base units (kubernetes' parser); ValueError names the text and an example."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return Decimal(parse_quantity(value))  # type: ignore[no-untyped-call]  # kubernetes leaves it untyped
        except ValueError:
            pass
    raise ValueError(f"quantity {value!r} is not a Kubernetes quantity (e.g. 100m, 0.5, 256Mi, 1Gi)")


def parse_cpu(value: object) -> float:
    """CPU cores: ``100m`` -> 0.1, ``0.5`` -> 0.5, ``2`` -> 2.0."""
    return float(_quantity(value))


def parse_memory(value: object) -> int:
    """Bytes: ``256Mi`` -> 268435456, ``500M`` -> 500000000, ``1Gi`` -> 1073741824."""
    return int(_quantity(value))


def format_cpu(cores: float) -> str:
    return f"{cores * 1000:.0f}m"


def format_memory(size: int) -> str:
    return f"{size / 2**20:.0f}Mi"


@dataclass(frozen=True)
class Request:
    """One ``resources.requests`` block: where, how many copies, and the amounts per copy."""

    path: str
    count: int
    cpu: float
    memory: int

    def __str__(self) -> str:
        return f"{self.path}: {self.count} x ({format_cpu(self.cpu)}, {format_memory(self.memory)})"


@dataclass
class Budget:
    items: list[Request] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def cpu(self) -> float:
        return sum(item.cpu * item.count for item in self.items)

    @property
    def memory(self) -> int:
        return sum(item.memory * item.count for item in self.items)

    def summary(self) -> str:
        lines = [f"requests: {format_cpu(self.cpu)} CPU, {format_memory(self.memory)} memory"]
        lines += [f"  {item}" for item in self.items]
        return "\n".join(lines)


def _copies(ancestors: Sequence[Mapping[str, Any]]) -> int:
    """Replicas from the nearest ancestor that says: ``replicas``, ``replicaCount`` or a ``controller``."""
    for node in reversed(ancestors):
        for key in ("replicas", "replicaCount"):
            if isinstance(node.get(key), int) and not isinstance(node.get(key), bool):
                return int(node[key])
        controller = node.get("controller")
        if isinstance(controller, Mapping) and controller.get("type"):
            if str(controller["type"]).lower() == "daemonset":
                return 1
            replicas = controller.get("replicas", 1)
            return int(replicas) if isinstance(replicas, int) else 1
    return 1


def _containers(dotted: str, values: Mapping[str, Any]) -> int:
    """How many containers share the resources block at ``dotted`` (1 unless listed in SHARED_BLOCKS)."""
    flags = SHARED_BLOCKS.get(dotted)
    if flags is None:
        return 1
    return sum(1 for flag, default in flags.items() if lookup(values, flag, default) is True)


def _walk(
    node: Mapping[str, Any],
    path: list[str],
    ancestors: list[Mapping[str, Any]],
    values: Mapping[str, Any],
    disabled: set[str],
) -> Iterator[tuple[str, Mapping[str, Any], int]]:
    if node.get("enabled") is False:
        return
    dotted = ".".join(path)
    if dotted in disabled or dotted in SHORT_LIVED:
        return
    toggle = TOGGLES.get(dotted)
    if toggle and lookup(values, toggle) is False:
        return
    resources = node.get("resources")
    if isinstance(resources, Mapping) and isinstance(resources.get("requests"), Mapping):
        copies = _copies([*ancestors, node]) * _containers(dotted, values)
        yield f"{dotted}.resources.requests", resources["requests"], copies
    for key, child in node.items():
        if isinstance(child, Mapping) and key != "resources":
            yield from _walk(child, [*path, str(key)], [*ancestors, node], values, disabled)


def requests_budget(
    values: Mapping[str, Any],
    source: str,
    *,
    conditions: Mapping[str, str] | None = None,
    max_cpu: float = MAX_CPU,
    max_memory: int = MAX_MEMORY,
) -> Budget:
    """Add up the requests; findings for unreadable quantities and for totals over the budget.

    ``conditions`` maps a subchart's values key to its Chart.yaml ``condition`` (a false condition skips it).
    """
    disabled = {key for key, condition in (conditions or {}).items() if lookup(values, condition) is False}
    budget = Budget()
    for path, requests, count in _walk(values, [], [], values, disabled):
        if "cpu" not in requests and "memory" not in requests:
            continue  # a volume claim's storage request, or an empty block
        try:
            cpu = parse_cpu(requests["cpu"]) if "cpu" in requests else 0.0
            memory = parse_memory(requests["memory"]) if "memory" in requests else 0
        except ValueError as exc:
            budget.findings.append(Finding(source, path, str(exc)))
            continue
        if count:  # a shared block whose containers are all switched off
            budget.items.append(Request(path, count, cpu, memory))
    if budget.cpu > max_cpu + 1e-9:
        budget.findings.append(
            Finding(
                source,
                "resources.requests (sum)",
                f"CPU requests add up to {format_cpu(budget.cpu)}, over the "
                f"budget of {format_cpu(max_cpu)}:\n{budget.summary()}",
            )
        )
    if budget.memory > max_memory:
        budget.findings.append(
            Finding(
                source,
                "resources.requests (sum)",
                f"memory requests add up to {format_memory(budget.memory)}, "
                f"over the budget of {format_memory(max_memory)}:\n{budget.summary()}",
            )
        )
    return budget
