"""Do the parts point at each other? Loki URLs and the dashboard sidecar label.

Each check reads the merged values (values.yaml + a ci values file) and/or the rendered manifests, and names
``source`` (the values files) or the template in its findings. ServiceMonitor and rule selection are in
:mod:`tests.chart.chartcheck.scraping`, the Alloy pipeline in
:mod:`tests.chart.chartcheck.logs`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitoring_conformance.dashboards import dashboard_files
from monitoring_conformance.tools.helm_offline import Manifest
from tests.chart.chartcheck.alloy import AlloySyntaxError, parse
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.values import lookup

#: Loki's HTTP port unless ``loki.loki.server.http_listen_port`` says otherwise.
LOKI_DEFAULT_PORT = 3100
LOKI_PORT_KEY = "loki.loki.server.http_listen_port"
PUSH_PATH = "/loki/api/v1/push"
ALLOY_CONFIG_KEY = "alloy.alloy.configMap.content"
#: kube-prometheus-stack's defaults for what our values may leave unset.
KPS_DASHBOARD_LABEL = ("grafana_dashboard", "1")
KPS_PROMETHEUS_DS_UID = "prometheus"

_RELEASE_TEMPLATE = re.compile(r"\{\{-?\s*\$?\.Release\.(Namespace|Name)\s*-?\}\}")


def fill_release(text: str, *, release: str, namespace: str) -> str:
    """Evaluate ``{{ .Release.Namespace }}`` / ``{{ .Release.Name }}`` as helm's ``tpl`` would.

    ValueError when other template syntax remains (this check cannot evaluate it).
    """
    filled = _RELEASE_TEMPLATE.sub(lambda m: namespace if m.group(1) == "Namespace" else release, text)
    if "{{" in filled:
        raise ValueError(f"cannot evaluate the template in {text!r} offline")
    return filled


@dataclass(frozen=True)
class LokiService:
    """The Loki Service as the values name it: ``<fullnameOverride>.<namespace>.svc:<http_listen_port>``."""

    name: str
    namespace: str
    port: int

    @property
    def hosts(self) -> tuple[str, ...]:
        """Host names that reach it from any namespace without assuming the cluster domain."""
        return (f"{self.name}.{self.namespace}.svc", f"{self.name}.{self.namespace}")

    def problem(self, url: str, path: str) -> str | None:
        """Why ``url`` does not reach this Service at ``path`` (None when it does)."""
        parts = urlsplit(url)
        if parts.scheme != "http":
            return f"scheme {parts.scheme!r}, expected http"
        if parts.hostname == f"{self.name}.{self.namespace}.svc.cluster.local":
            return (
                f"host {parts.hostname!r} assumes the cluster domain cluster.local; "
                f"use {self.hosts[0]!r}, which resolves in any cluster"
            )
        if parts.hostname not in self.hosts:
            return f"host {parts.hostname!r} is not the Loki Service (expected one of {list(self.hosts)})"
        if parts.port != self.port:
            return f"port {parts.port}, expected {self.port} ({LOKI_PORT_KEY})"
        if parts.path.rstrip("/") != path.rstrip("/"):
            return f"path {parts.path!r}, expected {path!r}"
        return None


def loki_service(values: Mapping[str, Any], source: str, namespace: str) -> LokiService | Finding:
    """The Loki Service the values name, or the finding that says why there is no stable name."""
    name = lookup(values, "loki.fullnameOverride")
    if not name:
        return Finding(
            source, "loki.fullnameOverride", "not set: the Loki Service name would depend on the release"
        )
    port = lookup(values, LOKI_PORT_KEY, LOKI_DEFAULT_PORT)
    if not isinstance(port, int) or isinstance(port, bool):
        return Finding(source, LOKI_PORT_KEY, f"is {port!r}, expected a port number")
    return LokiService(str(name), namespace, port)


def check_loki_datasource(
    values: Mapping[str, Any], source: str, *, release: str, namespace: str
) -> list[Finding]:
    """The Grafana Loki datasource (kps ``grafana.additionalDataSources``) has uid loki and Loki's URL."""
    key = "kube-prometheus-stack.grafana.additionalDataSources"
    findings: list[Finding] = []
    service = loki_service(values, source, namespace)
    if isinstance(service, Finding):
        return [service]
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
    problem = service.problem(url, "/")
    if problem:
        findings.append(Finding(source, f"{key}[loki].url", f"{url!r}: {problem}"))
    return findings


def alloy_config(values: Mapping[str, Any]) -> str:
    return str(lookup(values, ALLOY_CONFIG_KEY) or "")


def check_alloy_push(
    values: Mapping[str, Any], source: str, *, release: str, namespace: str
) -> list[Finding]:
    """Every ``loki.write`` endpoint ``url`` in the Alloy config is Loki's push URL."""
    service = loki_service(values, source, namespace)
    if isinstance(service, Finding):
        return [service]
    try:
        config = parse(fill_release(alloy_config(values), release=release, namespace=namespace))
    except (AlloySyntaxError, ValueError) as exc:
        return [Finding(source, ALLOY_CONFIG_KEY, f"cannot read the Alloy config: {exc}")]
    writers = config.components("loki.write")
    if not writers:
        return [
            Finding(
                source, ALLOY_CONFIG_KEY, "the Alloy config has no loki.write block: logs would go nowhere"
            )
        ]
    findings = []
    for writer in writers:
        urls = [e.attributes["url"] for e in writer.children("endpoint") if "url" in e.attributes]
        if not urls:
            findings.append(Finding(source, ALLOY_CONFIG_KEY, f"{writer.describe()} has no endpoint url"))
        for attribute in urls:
            url = attribute.string()
            problem = service.problem(url, PUSH_PATH) if url is not None else "not a string literal"
            if problem:
                findings.append(
                    Finding(
                        source,
                        ALLOY_CONFIG_KEY,
                        f"line {attribute.line}: {writer.describe()} push url {url!r}: {problem}",
                    )
                )
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
    for path in dashboard_files(dashboards_dir):
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
