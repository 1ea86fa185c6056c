"""Do the parts point at each other? Loki URLs, the dashboard sidecar label, ServiceMonitor selection.

Each check reads the merged values (values.yaml + a ci values file) and/or the rendered manifests, and names
``source`` (the values files) or the template in its findings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitoring_conformance.chartcheck.findings import Finding
from monitoring_conformance.chartcheck.render import Manifest
from monitoring_conformance.chartcheck.selectors import describe_selector, selector_matches
from monitoring_conformance.chartcheck.values import lookup

LOKI_PORT = 3100
PUSH_PATH = "/loki/api/v1/push"
#: kube-prometheus-stack's defaults for what our values may leave unset.
KPS_DASHBOARD_LABEL = ("grafana_dashboard", "1")
KPS_PROMETHEUS_DS_UID = "prometheus"

_RELEASE_TEMPLATE = re.compile(r"\{\{-?\s*\$?\.Release\.(Namespace|Name)\s*-?\}\}")
_ALLOY_URL = re.compile(r'\burl\s*=\s*"([^"]*)"')
_ALLOY_TARGET_LABEL = re.compile(r'\btarget_label\s*=\s*"([^"]+)"')


def fill_release(text: str, *, release: str, namespace: str) -> str:
    """Evaluate ``{{ .Release.Namespace }}`` / ``{{ .Release.Name }}`` as helm's ``tpl`` would.

    ValueError when other template syntax remains (this check cannot evaluate it).
    """
    filled = _RELEASE_TEMPLATE.sub(lambda m: namespace if m.group(1) == "Namespace" else release, text)
    if "{{" in filled:
        raise ValueError(f"cannot evaluate the template in {text!r} offline")
    return filled


def loki_hosts(values: Mapping[str, Any], namespace: str) -> set[str]:
    """Host names that reach the Loki Service (``loki.fullnameOverride``) from the release namespace."""
    name = lookup(values, "loki.fullnameOverride")
    if not name:
        return set()
    return {
        str(name),
        f"{name}.{namespace}",
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}.svc.cluster.local",
    }


def _check_loki_url(url: str, hosts: set[str], path: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "http":
        return f"scheme {parts.scheme!r}, expected http"
    if parts.hostname not in hosts:
        return f"host {parts.hostname!r} is not the Loki Service (expected one of {sorted(hosts)})"
    if parts.port != LOKI_PORT:
        return f"port {parts.port}, expected {LOKI_PORT}"
    if parts.path.rstrip("/") != path.rstrip("/"):
        return f"path {parts.path!r}, expected {path!r}"
    return None


def check_loki_datasource(
    values: Mapping[str, Any], source: str, *, release: str, namespace: str
) -> list[Finding]:
    """The Grafana Loki datasource (kps ``grafana.additionalDataSources``) has uid loki and Loki's URL."""
    key = "kube-prometheus-stack.grafana.additionalDataSources"
    findings: list[Finding] = []
    hosts = loki_hosts(values, namespace)
    if not hosts:
        return [
            Finding(
                source, "loki.fullnameOverride", "not set: the Loki Service name would depend on the release"
            )
        ]
    prometheus_uid = lookup(
        values, "kube-prometheus-stack.grafana.sidecar.datasources.uid", KPS_PROMETHEUS_DS_UID
    )
    if prometheus_uid != KPS_PROMETHEUS_DS_UID:
        findings.append(
            Finding(
                source,
                "kube-prometheus-stack.grafana.sidecar.datasources.uid",
                f"is {prometheus_uid!r}, dashboards use 'prometheus'",
            )
        )
    datasources = [d for d in lookup(values, key) or [] if isinstance(d, dict) and d.get("type") == "loki"]
    if len(datasources) != 1:
        return [
            *findings,
            Finding(source, key, f"expected one datasource of type loki, found {len(datasources)}"),
        ]
    datasource = datasources[0]
    if datasource.get("uid") != "loki":
        findings.append(
            Finding(source, f"{key}[loki].uid", f"is {datasource.get('uid')!r}, dashboards use 'loki'")
        )
    try:
        url = fill_release(str(datasource.get("url") or ""), release=release, namespace=namespace)
    except ValueError as exc:
        return [*findings, Finding(source, f"{key}[loki].url", str(exc))]
    problem = _check_loki_url(url, hosts, "/")
    if problem:
        findings.append(Finding(source, f"{key}[loki].url", f"{url!r}: {problem}"))
    return findings


def alloy_config(values: Mapping[str, Any]) -> str:
    return str(lookup(values, "alloy.alloy.configMap.content") or "")


def alloy_stream_labels(values: Mapping[str, Any]) -> set[str]:
    """The labels the Alloy pipeline sets (every ``target_label`` in its config)."""
    return set(_ALLOY_TARGET_LABEL.findall(alloy_config(values)))


def check_alloy_push(
    values: Mapping[str, Any], source: str, *, release: str, namespace: str
) -> list[Finding]:
    """Every ``url = ...`` in the Alloy config (its loki.write endpoints) is Loki's push URL."""
    key = "alloy.alloy.configMap.content"
    hosts = loki_hosts(values, namespace)
    if not hosts:
        return [
            Finding(
                source, "loki.fullnameOverride", "not set: the Loki Service name would depend on the release"
            )
        ]
    config = alloy_config(values)
    if "loki.write" not in config:
        return [Finding(source, key, "the Alloy config has no loki.write block: logs would go nowhere")]
    urls = _ALLOY_URL.findall(config)
    if not urls:
        return [Finding(source, key, "the loki.write block has no endpoint url")]
    findings = []
    for raw in urls:
        try:
            url = fill_release(raw, release=release, namespace=namespace)
        except ValueError as exc:
            findings.append(Finding(source, key, str(exc)))
            continue
        problem = _check_loki_url(url, hosts, PUSH_PATH)
        if problem:
            findings.append(Finding(source, key, f"push url {raw!r}: {problem}"))
    return findings


def check_dashboard_configmaps(
    manifests: Sequence[Manifest],
    values: Mapping[str, Any],
    dashboards_dir: Path,
    source: str,
    *,
    namespace: str,
) -> list[Finding]:
    """Each dashboards/*.json is in a rendered ConfigMap carrying the label the Grafana sidecar watches."""
    sidecar = "kube-prometheus-stack.grafana.sidecar.dashboards"
    label = str(lookup(values, f"{sidecar}.label", KPS_DASHBOARD_LABEL[0]))
    label_value = lookup(values, f"{sidecar}.labelValue", KPS_DASHBOARD_LABEL[1])
    findings: list[Finding] = []
    if lookup(values, f"{sidecar}.enabled") is not True:
        findings.append(
            Finding(source, f"{sidecar}.enabled", "is not true: Grafana would load no dashboards")
        )
    search = lookup(values, f"{sidecar}.searchNamespace")
    configmaps = [m for m in manifests if m.kind == "ConfigMap"]
    for path in sorted(dashboards_dir.glob("*.json")):
        holders = [m for m in configmaps if path.name in (m.obj.get("data") or {})]
        if not holders:
            findings.append(Finding(str(path), "ConfigMap", "no rendered ConfigMap holds this dashboard"))
            continue
        for holder in holders:
            labels = (holder.obj.get("metadata") or {}).get("labels") or {}
            actual = labels.get(label)
            if label not in labels or (label_value not in (None, "") and str(actual) != str(label_value)):
                findings.append(
                    Finding(
                        holder.source,
                        holder.describe(),
                        f"label {label}={actual!r}, but the Grafana sidecar "
                        f"({source}: {sidecar}.label/labelValue) watches {label}={label_value!r}; "
                        f"{path.name} would not be loaded",
                    )
                )
            cm_namespace = (holder.obj.get("metadata") or {}).get("namespace") or namespace
            if search not in ("ALL", cm_namespace) and not (
                search in (None, "") and cm_namespace == namespace
            ):
                findings.append(
                    Finding(
                        holder.source,
                        holder.describe(),
                        f"namespace {cm_namespace!r} not searched by the sidecar ({search!r})",
                    )
                )
    return findings


def _labels(obj: Mapping[str, Any]) -> dict[str, Any]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _namespace(obj: Mapping[str, Any], default: str) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or default)


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
        if not spec.get("selector") or not selector_matches(spec.get("selector"), service_labels):
            findings.append(
                Finding(
                    monitor.source,
                    monitor.describe(),
                    f"selector {describe_selector(spec.get('selector'))} does not match Service "
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
            at = f"{monitor.describe()} endpoints[{index}]"
            if endpoint.get("port") not in port_names:
                findings.append(
                    Finding(
                        monitor.source,
                        at,
                        f"port {endpoint.get('port')!r} is not a port name of Service {service_name} "
                        f"{port_names} ({service.source})",
                    )
                )
            if endpoint.get("path", "/metrics") != metrics_path:
                findings.append(
                    Finding(monitor.source, at, f"path {endpoint.get('path')!r}, expected {metrics_path!r}")
                )
        findings += _check_prometheus_selects(monitor, values, source, release=release)
    return findings


def _check_prometheus_selects(
    monitor: Manifest, values: Mapping[str, Any], source: str, *, release: str
) -> list[Finding]:
    key = "kube-prometheus-stack.prometheus.prometheusSpec"
    spec = lookup(values, key) or {}
    selector = spec.get("serviceMonitorSelector") or {}
    if not selector and spec.get("serviceMonitorSelectorNilUsesHelmValues", True) is not False:
        selector = {"matchLabels": {"release": release}}
    findings = []
    if not selector_matches(selector, _labels(monitor.obj)):
        findings.append(
            Finding(
                source,
                f"{key}.serviceMonitorSelector",
                f"Prometheus selects ServiceMonitors {describe_selector(selector)}, which misses "
                f"{monitor.describe()} (labels {_labels(monitor.obj)})",
            )
        )
    namespace_selector = spec.get("serviceMonitorNamespaceSelector")
    if namespace_selector:
        findings.append(
            Finding(
                source,
                f"{key}.serviceMonitorNamespaceSelector",
                f"is {describe_selector(namespace_selector)}; "
                "use {} so that the ServiceMonitor's namespace is searched",
            )
        )
    return findings
