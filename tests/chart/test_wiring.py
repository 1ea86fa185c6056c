"""The parts point at each other: Loki URLs, the sidecar label, ServiceMonitor and rule selection."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.helm_offline import Manifest, render_manifests
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.scraping import check_rule_selection, check_service_monitor
from tests.chart.chartcheck.values import Values, deep_merge, lookup, merged_values
from tests.chart.chartcheck.wiring import (
    check_alloy_push,
    check_dashboard_configmaps,
    check_loki_datasource,
    fill_release,
)
from tests.chart.support import (
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    Render,
    ScenarioValues,
    source_of,
)

pytestmark = pytest.mark.chart


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_grafana_loki_datasource_points_at_the_loki_service(
    scenario_values: ScenarioValues, scenario: str
) -> None:
    findings = check_loki_datasource(
        scenario_values(scenario), source_of(scenario), release=RELEASE, namespace=NAMESPACE
    )
    assert not findings, format_findings(findings)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_alloy_pushes_to_the_loki_service(scenario_values: ScenarioValues, scenario: str) -> None:
    findings = check_alloy_push(
        scenario_values(scenario), source_of(scenario), release=RELEASE, namespace=NAMESPACE
    )
    assert not findings, format_findings(findings)


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
    assert not findings, format_findings(findings)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_service_monitor_selects_the_todo_backend_and_prometheus_selects_it(
    render: Render, scenario_values: ScenarioValues, scenario: str, app_manifests: list[Manifest]
) -> None:
    findings = check_service_monitor(
        render(scenario), app_manifests, scenario_values(scenario), source_of(scenario),
        release=RELEASE, namespace=NAMESPACE,
    )  # fmt: skip
    assert not findings, format_findings(findings)


# --- negative cases ---------------------------------------------------------------------------------------


def test_a_mismatched_loki_datasource_url_is_reported(scenario_values: ScenarioValues) -> None:
    values = copy.deepcopy(scenario_values("kind-values.yaml"))
    datasource = lookup(values, "kube-prometheus-stack.grafana.additionalDataSources")[0]
    datasource["url"] = "http://loki-gateway.{{ .Release.Namespace }}.svc:80"
    (finding,) = check_loki_datasource(values, "ci/kind-values.yaml", release=RELEASE, namespace=NAMESPACE)
    assert finding.file == "ci/kind-values.yaml"
    assert finding.where == "kube-prometheus-stack.grafana.additionalDataSources[loki].url"
    assert "host 'loki-gateway.monitoring.svc' is not the Loki Service" in finding.message


def test_a_renamed_loki_service_breaks_both_urls(scenario_values: ScenarioValues) -> None:
    values = deep_merge(scenario_values("kind-values.yaml"), {"loki": {"fullnameOverride": "logs"}})
    datasource = check_loki_datasource(values, "v", release=RELEASE, namespace=NAMESPACE)
    push = check_alloy_push(values, "v", release=RELEASE, namespace=NAMESPACE)
    assert "host 'loki.monitoring.svc' is not the Loki Service" in format_findings(datasource)
    assert "push url 'http://loki.monitoring.svc:3100/loki/api/v1/push'" in format_findings(push)
    assert "['logs.monitoring.svc', 'logs.monitoring']" in format_findings(push)


def test_a_wrong_alloy_push_port_is_reported(scenario_values: ScenarioValues) -> None:
    values = copy.deepcopy(scenario_values("kind-values.yaml"))
    config = values["alloy"]["alloy"]["configMap"]
    config["content"] = config["content"].replace(":3100/loki/api/v1/push", ":3101/loki/api/v1/push")
    (finding,) = check_alloy_push(values, "values.yaml", release=RELEASE, namespace=NAMESPACE)
    assert finding.where == "alloy.alloy.configMap.content"
    assert 'loki.write "default" push url' in finding.message
    assert "port 3101, expected 3100 (loki.loki.server.http_listen_port)" in finding.message


def test_the_loki_port_comes_from_the_loki_values(scenario_values: ScenarioValues) -> None:
    """Moving Loki to another port breaks both URLs until they follow."""
    values = deep_merge(
        scenario_values("kind-values.yaml"), {"loki": {"loki": {"server": {"http_listen_port": 3200}}}}
    )
    datasource = check_loki_datasource(values, "v", release=RELEASE, namespace=NAMESPACE)
    push = check_alloy_push(values, "v", release=RELEASE, namespace=NAMESPACE)
    assert "port 3100, expected 3200" in format_findings(datasource)
    assert "port 3100, expected 3200" in format_findings(push)


def test_a_cluster_local_url_is_reported(scenario_values: ScenarioValues) -> None:
    """<service>.<namespace>.svc works in any cluster; .svc.cluster.local assumes the cluster domain."""
    values = copy.deepcopy(scenario_values("kind-values.yaml"))
    datasource = lookup(values, "kube-prometheus-stack.grafana.additionalDataSources")[0]
    datasource["url"] = "http://loki.{{ .Release.Namespace }}.svc.cluster.local:3100"
    (finding,) = check_loki_datasource(values, "v", release=RELEASE, namespace=NAMESPACE)
    assert "assumes the cluster domain cluster.local; use 'loki.monitoring.svc'" in finding.message


def test_a_push_url_in_a_comment_does_not_count(scenario_values: ScenarioValues) -> None:
    """The Alloy config is parsed: a url in a comment neither satisfies nor breaks the check."""
    values = copy.deepcopy(scenario_values("kind-values.yaml"))
    config = values["alloy"]["alloy"]["configMap"]
    config["content"] = config["content"].replace(
        'url = "http://loki.{{ .Release.Namespace }}.svc:3100/loki/api/v1/push"',
        '// url = "http://loki.{{ .Release.Namespace }}.svc:3100/loki/api/v1/push"\n'
        '            url = "http://loki.{{ .Release.Namespace }}.svc:3100/api/prom/push"',
    )
    (finding,) = check_alloy_push(values, "v", release=RELEASE, namespace=NAMESPACE)
    assert "path '/api/prom/push', expected '/loki/api/v1/push'" in finding.message


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
        "Prometheus selects serviceMonitors {team=platform}, which misses ServiceMonitor/"
        in findings[0].message
    )
    assert "is {monitoring=on}, which misses namespace 'monitoring'" in findings[1].message


def test_a_namespace_selector_for_the_release_namespace_is_accepted(
    render: Render, scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    """Every namespace carries kubernetes.io/metadata.name=<name>, so such a selector finds the release's."""
    values = deep_merge(
        scenario_values("kind-values.yaml"),
        {"kube-prometheus-stack": {"prometheus": {"prometheusSpec": {"serviceMonitorNamespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}}}}}},
    )  # fmt: skip
    assert not check_service_monitor(
        render("kind-values.yaml"), app_manifests, values, "v", release=RELEASE, namespace=NAMESPACE
    )


def test_an_unknown_selector_operator_fails_instead_of_matching(
    render: Render, scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = deep_merge(
        scenario_values("kind-values.yaml"),
        {"kube-prometheus-stack": {"prometheus": {"prometheusSpec": {"serviceMonitorSelector": {
            "matchExpressions": [{"key": "release", "operator": "Inn", "values": ["monitoring"]}]}}}}},
    )  # fmt: skip
    (finding,) = check_service_monitor(
        render("kind-values.yaml"), app_manifests, values, "v", release=RELEASE, namespace=NAMESPACE
    )
    assert finding.where.endswith("serviceMonitorSelector")
    assert (
        "matchExpressions operator 'Inn' (key 'release') is not one of In, NotIn, Exists" in finding.message
    )


def test_an_https_scheme_on_the_plain_http_port_is_reported(
    helm: Helm, offline_chart_copy: Path, app_manifests: list[Manifest]
) -> None:
    template = offline_chart_copy / "templates" / "prometheus.yaml"
    template.write_text(template.read_text().replace("scheme: http\n", "scheme: https\n"))
    values = offline_chart_copy / "ci" / "kind-values.yaml"
    manifests = render_manifests(helm, offline_chart_copy, [values])
    (finding,) = check_service_monitor(
        manifests, app_manifests, merged_values(offline_chart_copy, values), "v", release=RELEASE,
        namespace=NAMESPACE,
    )  # fmt: skip
    assert finding.file == "monitoring/templates/prometheus.yaml"
    assert finding.where.endswith("endpoints[0]")
    assert "scheme 'https': the Todo backend serves plain HTTP on port 'http'" in finding.message


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_prometheus_selects_the_prometheus_rule(
    render: Render, scenario_values: ScenarioValues, scenario: str
) -> None:
    findings = check_rule_selection(
        render(scenario), scenario_values(scenario), source_of(scenario), release=RELEASE, namespace=NAMESPACE
    )
    assert not findings, format_findings(findings)


def test_a_rule_selector_that_misses_the_prometheus_rule_is_reported(
    render: Render, scenario_values: ScenarioValues
) -> None:
    values = deep_merge(
        scenario_values("kind-values.yaml"),
        {"kube-prometheus-stack": {"prometheus": {"prometheusSpec": {
            "ruleSelector": {"matchLabels": {"team": "platform"}},
            "ruleNamespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        }}}},
    )  # fmt: skip
    findings = check_rule_selection(
        render("kind-values.yaml"), values, "ci/kind-values.yaml", release=RELEASE, namespace=NAMESPACE
    )
    assert [f.where for f in findings] == [
        "kube-prometheus-stack.prometheus.prometheusSpec.ruleSelector",
        "kube-prometheus-stack.prometheus.prometheusSpec.ruleNamespaceSelector",
    ]
    assert "Prometheus selects rules {team=platform}, which misses PrometheusRule/" in findings[0].message
    assert "misses namespace 'monitoring' of PrometheusRule/" in findings[1].message


def test_the_helm_default_rule_selector_needs_the_release_label(
    render: Render, scenario_values: ScenarioValues
) -> None:
    """With ruleSelectorNilUsesHelmValues true, kps selects rules labelled release=<release> only."""
    values = deep_merge(
        scenario_values("kind-values.yaml"),
        {
            "kube-prometheus-stack": {
                "prometheus": {"prometheusSpec": {"ruleSelectorNilUsesHelmValues": True}}
            }
        },
    )
    assert not check_rule_selection(
        render("kind-values.yaml"), values, "v", release=RELEASE, namespace=NAMESPACE
    )
    (finding,) = check_rule_selection(
        render("kind-values.yaml"), values, "v", release="other", namespace=NAMESPACE
    )
    assert "Prometheus selects rules {release=other}" in finding.message


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
    assert "Prometheus selects serviceMonitors {release=other}" in format_findings(findings)
