"""Does Prometheus scrape the Todo backend and load its rules? ServiceMonitor and PrometheusRule selection.

The rendered ServiceMonitor must select the Todo backend's Service (namespace, labels, a port name, the
metrics path, plain http), and the Prometheus that kube-prometheus-stack configures must select the
ServiceMonitor and the PrometheusRule (``*Selector`` / ``*NamespaceSelector`` in the merged values, with
the ``release`` label that ``*SelectorNilUsesHelmValues`` implies). A namespace is matched by the label
Kubernetes puts on every namespace, ``kubernetes.io/metadata.name``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitoring_conformance.tools.helm_offline import Manifest
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.selectors import describe_selector, selector_matches
from tests.chart.chartcheck.values import lookup

PROMETHEUS_SPEC = "kube-prometheus-stack.prometheus.prometheusSpec"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"


def _labels(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _namespace(obj: Mapping[str, Any], default: str) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or default)


def _matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(matches, problem): an unknown matchExpressions operator is a problem, not a match."""
    try:
        return selector_matches(selector, labels), None
    except ValueError as exc:
        return False, str(exc)


def _selected_namespaces(monitor: Manifest, default: str) -> tuple[bool, list[str]]:
    spec_selector = (monitor.obj.get("spec") or {}).get("namespaceSelector")
    if not spec_selector:
        return False, [_namespace(monitor.obj, default)]
    if spec_selector.get("any"):
        return True, []
    return False, [str(n) for n in spec_selector.get("matchNames") or []]


def check_service_monitor(
    manifests: Sequence[Manifest],
    app_manifests: Sequence[Manifest],
    values: Mapping[str, Any],
    source: str,
    *,
    release: str,
    namespace: str,
    service_name: str = "todo-backend",
    app_namespace: str = "todo",
    metrics_path: str = "/metrics",
) -> list[Finding]:
    """A rendered ServiceMonitor selects the Todo Service, a port name and /metrics; Prometheus selects it."""
    services = [m for m in app_manifests if m.kind == "Service" and m.name == service_name]
    if not services:
        return [Finding("todo-backend manifests", "Service", f"no Service named {service_name!r}")]
    service = services[0]
    service_ns = _namespace(service.obj, app_namespace)
    service_labels = _labels(service.obj)
    port_names = [
        str(p.get("name")) for p in (service.obj.get("spec") or {}).get("ports") or [] if p.get("name")
    ]
    monitors = [m for m in manifests if m.kind == "ServiceMonitor"]
    if not monitors:
        return [Finding(source, "todoBackend.serviceMonitor", "no ServiceMonitor rendered")]
    findings: list[Finding] = []
    selecting = []
    for monitor in monitors:
        spec = monitor.obj.get("spec") or {}
        any_ns, names = _selected_namespaces(monitor, namespace)
        if not any_ns and service_ns not in names:
            findings.append(
                Finding(
                    monitor.source, monitor.describe(), f"namespaceSelector {names} misses {service_ns!r}"
                )
            )
            continue
        matched, problem = _matches(spec.get("selector"), service_labels)
        if not spec.get("selector") or not matched:
            findings.append(
                Finding(
                    monitor.source,
                    monitor.describe(),
                    problem
                    or f"selector {describe_selector(spec.get('selector'))} does not match Service "
                    f"{service_name} labels {service_labels} ({service.source})",
                )
            )
            continue
        selecting.append(monitor)
    if not selecting:
        return findings
    findings = []
    for monitor in selecting:
        for index, endpoint in enumerate((monitor.obj.get("spec") or {}).get("endpoints") or []):
            findings += _check_endpoint(monitor, index, endpoint, port_names, service, metrics_path)
        findings += _check_selected(
            monitor, values, source, release=release, namespace=namespace, kind="serviceMonitor"
        )
    return findings


def _check_endpoint(
    monitor: Manifest,
    index: int,
    endpoint: Mapping[str, Any],
    port_names: list[str],
    service: Manifest,
    metrics_path: str,
) -> list[Finding]:
    at = f"{monitor.describe()} endpoints[{index}]"
    findings: list[Finding] = []
    if endpoint.get("port") not in port_names:
        findings.append(
            Finding(
                monitor.source,
                at,
                f"port {endpoint.get('port')!r} is not a port name of Service {service.name} "
                f"{port_names} ({service.source})",
            )
        )
    if endpoint.get("path", "/metrics") != metrics_path:
        findings.append(
            Finding(monitor.source, at, f"path {endpoint.get('path')!r}, expected {metrics_path!r}")
        )
    if endpoint.get("scheme", "http") != "http":
        findings.append(
            Finding(
                monitor.source,
                at,
                f"scheme {endpoint.get('scheme')!r}: the Todo backend serves plain HTTP on port "
                f"{endpoint.get('port')!r}; use http or leave scheme out",
            )
        )
    return findings


def _check_selected(
    obj: Manifest, values: Mapping[str, Any], source: str, *, release: str, namespace: str, kind: str
) -> list[Finding]:
    """Prometheus's ``<kind>Selector``/``<kind>NamespaceSelector`` select ``obj`` (serviceMonitor, rule)."""
    spec = lookup(values, PROMETHEUS_SPEC) or {}
    selector = spec.get(f"{kind}Selector") or {}
    if not selector and spec.get(f"{kind}SelectorNilUsesHelmValues", True) is not False:
        selector = {"matchLabels": {"release": release}}
    findings: list[Finding] = []
    matched, problem = _matches(selector, _labels(obj.obj))
    if not matched:
        findings.append(
            Finding(
                source,
                f"{PROMETHEUS_SPEC}.{kind}Selector",
                problem
                or f"Prometheus selects {kind}s {describe_selector(selector)}, which misses "
                f"{obj.describe()} (labels {_labels(obj.obj)})",
            )
        )
    namespace_selector = spec.get(f"{kind}NamespaceSelector")
    obj_namespace = _namespace(obj.obj, namespace)
    matched, problem = _matches(namespace_selector, {NAMESPACE_LABEL: obj_namespace})
    if namespace_selector and not matched:
        findings.append(
            Finding(
                source,
                f"{PROMETHEUS_SPEC}.{kind}NamespaceSelector",
                problem
                or f"is {describe_selector(namespace_selector)}, which misses namespace {obj_namespace!r} "
                f"of {obj.describe()}; use {{}} to search every namespace",
            )
        )
    return findings


def check_rule_selection(
    manifests: Sequence[Manifest], values: Mapping[str, Any], source: str, *, release: str, namespace: str
) -> list[Finding]:
    """Prometheus's ruleSelector and ruleNamespaceSelector select every rendered PrometheusRule."""
    rules = [m for m in manifests if m.kind == "PrometheusRule"]
    if not rules:
        return [Finding(source, "rules.enabled", "no PrometheusRule rendered")]
    findings: list[Finding] = []
    for rule in rules:
        findings += _check_selected(rule, values, source, release=release, namespace=namespace, kind="rule")
    return findings
