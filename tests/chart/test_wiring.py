"""The parts point at each other: Loki URLs, the dashboard sidecar label, ServiceMonitor selection."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from monitoring_conformance.chartcheck.findings import Finding
from monitoring_conformance.chartcheck.kube import load_manifest_dir
from monitoring_conformance.chartcheck.render import Manifest, render_manifests
from monitoring_conformance.chartcheck.values import Values, deep_merge, lookup, merged_values
from monitoring_conformance.chartcheck.wiring import (
    check_alloy_push,
    check_dashboard_configmaps,
    check_loki_datasource,
    check_service_monitor,
    fill_release,
)
from monitoring_conformance.tools.helm import Helm
from tests.chart.support import (
    APP_MANIFESTS,
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    Render,
    ScenarioValues,
    source_of,
)

pytestmark = pytest.mark.chart


def _text(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


@pytest.fixture(scope="module")
def app_manifests() -> list[Manifest]:
    return load_manifest_dir(APP_MANIFESTS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_grafana_loki_datasource_points_at_the_loki_service(
    scenario_values: ScenarioValues, scenario: str
) -> None:
    findings = check_loki_datasource(
        scenario_values(scenario), source_of(scenario), release=RELEASE, namespace=NAMESPACE
    )
    assert not findings, _text(findings)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_alloy_pushes_to_the_loki_service(scenario_values: ScenarioValues, scenario: str) -> None:
    findings = check_alloy_push(
        scenario_values(scenario), source_of(scenario), release=RELEASE, namespace=NAMESPACE
    )
    assert not findings, _text(findings)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_dashboard_configmaps_carry_the_sidecar_label(
    render: Render, scenario_values: ScenarioValues, scenario: str
) -> None:
    findings = check_dashboard_configmaps(
        render(scenario),
        scenario_values(scenario),
        CHART / "dashboards",
        source_of(scenario),
        namespace=NAMESPACE,
    )
    assert not findings, _text(findings)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_service_monitor_selects_the_todo_backend_and_prometheus_selects_it(
    render: Render, scenario_values: ScenarioValues, scenario: str, app_manifests: list[Manifest]
) -> None:
    findings = check_service_monitor(
        render(scenario), app_manifests, scenario_values(scenario), source_of(scenario),
        release=RELEASE, namespace=NAMESPACE,
    )  # fmt: skip
    assert not findings, _text(findings)


# --- negative cases ---------------------------------------------------------------------------------------


def test_a_mismatched_loki_datasource_url_is_reported(scenario_values: ScenarioValues) -> None:
    values = copy.deepcopy(scenario_values("kind-values.yaml"))
    datasource = lookup(values, "kube-prometheus-stack.grafana.additionalDataSources")[0]
    datasource["url"] = "http://loki-gateway.{{ .Release.Namespace }}.svc.cluster.local:80"
    (finding,) = check_loki_datasource(values, "ci/kind-values.yaml", release=RELEASE, namespace=NAMESPACE)
    assert finding.file == "ci/kind-values.yaml"
    assert finding.where == "kube-prometheus-stack.grafana.additionalDataSources[loki].url"
    assert "host 'loki-gateway.monitoring.svc.cluster.local' is not the Loki Service" in finding.message


def test_a_renamed_loki_service_breaks_both_urls(scenario_values: ScenarioValues) -> None:
    values = deep_merge(scenario_values("kind-values.yaml"), {"loki": {"fullnameOverride": "logs"}})
    datasource = check_loki_datasource(values, "v", release=RELEASE, namespace=NAMESPACE)
    push = check_alloy_push(values, "v", release=RELEASE, namespace=NAMESPACE)
    assert "host 'loki.monitoring.svc.cluster.local' is not the Loki Service" in _text(datasource)
    assert "push url 'http://loki.{{ .Release.Namespace }}.svc.cluster.local:3100/loki/api/v1/push'" in _text(
        push
    )
    assert "'logs.monitoring.svc.cluster.local'" in _text(push)


def test_a_wrong_alloy_push_port_is_reported(scenario_values: ScenarioValues) -> None:
    values = copy.deepcopy(scenario_values("kind-values.yaml"))
    config = values["alloy"]["alloy"]["configMap"]
    config["content"] = config["content"].replace(":3100/loki/api/v1/push", ":3101/loki/api/v1/push")
    (finding,) = check_alloy_push(values, "values.yaml", release=RELEASE, namespace=NAMESPACE)
    assert finding.where == "alloy.alloy.configMap.content"
    assert "port 3101, expected 3100" in finding.message


def test_a_wrong_loki_datasource_uid_is_reported(scenario_values: ScenarioValues) -> None:
    values = copy.deepcopy(scenario_values("kind-values.yaml"))
    lookup(values, "kube-prometheus-stack.grafana.additionalDataSources")[0]["uid"] = "P8E80F9AEF21F6940"
    (finding,) = check_loki_datasource(values, "values.yaml", release=RELEASE, namespace=NAMESPACE)
    assert finding.message == "is 'P8E80F9AEF21F6940', dashboards use 'loki'"


def test_fill_release_refuses_other_template_syntax() -> None:
    assert fill_release("http://x.{{ .Release.Namespace }}:1", release="r", namespace="ns") == "http://x.ns:1"
    with pytest.raises(ValueError, match="cannot evaluate the template"):
        fill_release('http://{{ include "loki.fullname" . }}:3100', release="r", namespace="ns")


def test_a_wrong_sidecar_label_is_reported(helm: Helm, offline_chart_copy: Path, tmp_path: Path) -> None:
    """The sidecar watches grafana_dashboard=1; ConfigMaps rendered with another value are not loaded."""
    template = offline_chart_copy / "templates" / "grafana.yaml"
    template.write_text(template.read_text().replace("{{ $labelValue | toString | quote }}", '"true"'))
    scenario = offline_chart_copy / "ci" / "kind-values.yaml"
    manifests = render_manifests(helm, offline_chart_copy, [scenario])
    values = merged_values(offline_chart_copy, scenario)
    findings = check_dashboard_configmaps(
        manifests,
        values,
        offline_chart_copy / "dashboards",
        "values.yaml + ci/kind-values.yaml",
        namespace=NAMESPACE,
    )
    assert len(findings) == len(list((offline_chart_copy / "dashboards").glob("*.json")))
    assert findings[0].file == "monitoring/templates/grafana.yaml"
    assert "label grafana_dashboard='true'" in findings[0].message
    assert "watches grafana_dashboard='1'" in findings[0].message


def test_a_dashboard_missing_from_the_configmaps_is_reported(
    render: Render, scenario_values: ScenarioValues, chart_copy: Path
) -> None:
    extra = chart_copy / "dashboards" / "todo-extra.json"
    extra.write_text('{"uid": "todo-extra", "id": null, "title": "Extra", "panels": []}')
    findings = check_dashboard_configmaps(
        render("kind-values.yaml"), scenario_values("kind-values.yaml"), chart_copy / "dashboards", "v",
        namespace=NAMESPACE,
    )  # fmt: skip
    assert [str(f) for f in findings] == [f"{extra} [ConfigMap]: no rendered ConfigMap holds this dashboard"]


def _render_with(helm: Helm, chart: Path, tmp_path: Path, override: str) -> tuple[list[Manifest], Values]:
    values_file = tmp_path / "override-values.yaml"
    values_file.write_text(override)
    files = [chart / "ci" / "kind-values.yaml", values_file]
    return render_manifests(helm, chart, files), merged_values(chart, *files)


def test_a_wrong_service_monitor_port_name_is_reported(
    helm: Helm, offline_chart_copy: Path, tmp_path: Path, app_manifests: list[Manifest]
) -> None:
    manifests, values = _render_with(helm, offline_chart_copy, tmp_path, "todoBackend:\n  port: metrics\n")
    (finding,) = check_service_monitor(
        manifests, app_manifests, values, "v", release=RELEASE, namespace=NAMESPACE
    )
    assert finding.file == "monitoring/templates/prometheus.yaml"
    assert finding.where.endswith("endpoints[0]")
    assert "port 'metrics' is not a port name of Service todo-backend ['http']" in finding.message
    assert "service.yaml" in finding.message


def test_a_service_monitor_selector_that_misses_the_service_is_reported(
    helm: Helm, offline_chart_copy: Path, tmp_path: Path, app_manifests: list[Manifest]
) -> None:
    manifests, values = _render_with(
        helm,
        offline_chart_copy,
        tmp_path,
        "todoBackend:\n  selector:\n    app.kubernetes.io/name: todo-api\n",
    )
    (finding,) = check_service_monitor(
        manifests, app_manifests, values, "v", release=RELEASE, namespace=NAMESPACE
    )
    assert (
        "selector {app.kubernetes.io/name=todo-api} does not match Service todo-backend labels"
        in finding.message
    )


def test_a_service_monitor_in_the_wrong_namespace_is_reported(
    helm: Helm, offline_chart_copy: Path, tmp_path: Path, app_manifests: list[Manifest]
) -> None:
    manifests, values = _render_with(
        helm, offline_chart_copy, tmp_path, "todoBackend:\n  namespace: default\n"
    )
    (finding,) = check_service_monitor(
        manifests, app_manifests, values, "v", release=RELEASE, namespace=NAMESPACE
    )
    assert "namespaceSelector ['default'] misses 'todo'" in finding.message


def test_prometheus_that_does_not_select_the_service_monitor_is_reported(
    render: Render, scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = deep_merge(
        scenario_values("kind-values.yaml"),
        {"kube-prometheus-stack": {"prometheus": {"prometheusSpec": {
            "serviceMonitorSelector": {"matchLabels": {"team": "platform"}},
            "serviceMonitorNamespaceSelector": {"matchLabels": {"monitoring": "on"}},
        }}}},
    )  # fmt: skip
    findings = check_service_monitor(
        render("kind-values.yaml"),
        app_manifests,
        values,
        "ci/kind-values.yaml",
        release=RELEASE,
        namespace=NAMESPACE,
    )
    assert [f.where for f in findings] == [
        "kube-prometheus-stack.prometheus.prometheusSpec.serviceMonitorSelector",
        "kube-prometheus-stack.prometheus.prometheusSpec.serviceMonitorNamespaceSelector",
    ]
    assert (
        "Prometheus selects ServiceMonitors {team=platform}, which misses ServiceMonitor/"
        in findings[0].message
    )


def test_the_helm_default_selector_needs_the_release_label(
    render: Render, scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    """With serviceMonitorSelectorNilUsesHelmValues true, kps selects release=<release> only."""
    values = deep_merge(
        scenario_values("kind-values.yaml"),
        {
            "kube-prometheus-stack": {
                "prometheus": {"prometheusSpec": {"serviceMonitorSelectorNilUsesHelmValues": True}}
            }
        },
    )
    assert not check_service_monitor(render("kind-values.yaml"), app_manifests, values, "v", release=RELEASE,
                                     namespace=NAMESPACE)  # fmt: skip
    findings = check_service_monitor(render("kind-values.yaml"), app_manifests, values, "v", release="other",
                                     namespace=NAMESPACE)  # fmt: skip
    assert "Prometheus selects ServiceMonitors {release=other}" in _text(findings)
