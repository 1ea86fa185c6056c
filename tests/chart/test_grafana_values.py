"""Grafana keeps its preinstalled plugins, is Ready soon after it answers (kind), and its sidecars stay in
the release namespace with a namespaced Role. Asserted on the merged values; negative cases break a copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.grafana import (
    MAX_READINESS_LAG,
    check_plugin_auto_update,
    check_readiness_probe,
    check_sidecar_scope,
    readiness_lag,
)
from tests.chart.chartcheck.values import deep_merge, merged_values
from tests.chart.support import KIND_SCENARIO, SCENARIOS, ScenarioValues, source_of

pytestmark = pytest.mark.chart


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_grafana_keeps_plugins_and_watches_its_own_namespace(
    scenario_values: ScenarioValues, scenario: str
) -> None:
    values = scenario_values(scenario)
    findings = check_plugin_auto_update(values, source_of(scenario))
    findings += check_sidecar_scope(values, source_of(scenario))
    assert not findings, format_findings(findings)


def test_kind_grafana_is_ready_soon_after_it_answers(
    scenario_values: ScenarioValues, request: pytest.FixtureRequest
) -> None:
    values = scenario_values(KIND_SCENARIO)
    request.node.user_properties.append(("grafana_readiness_lag_s", readiness_lag(values)))
    findings = check_readiness_probe(values, source_of(KIND_SCENARIO))
    assert not findings, format_findings(findings)
    probe = values["kube-prometheus-stack"]["grafana"]["readinessProbe"]
    assert probe["failureThreshold"] >= 2, "one slow /api/health answer would take Grafana out of its Service"


# --- negative cases: each setting removed from a copy of the chart ----------------------------------------


def test_plugin_auto_update_left_on_is_reported(chart_copy: Path) -> None:
    _replace_once(chart_copy / "values.yaml", "        preinstall_auto_update: false\n", "")
    (finding,) = check_plugin_auto_update(merged_values(chart_copy), "values.yaml")
    assert finding.where == "kube-prometheus-stack.grafana.grafana.ini.plugins.preinstall_auto_update"
    assert finding.message.startswith(
        "is not set (Grafana's default: true): Grafana would fetch newer copies"
    )
    assert finding.message.endswith("set it to false")


def test_the_default_readiness_period_is_reported(chart_copy: Path) -> None:
    kind = chart_copy / "ci" / KIND_SCENARIO
    text = kind.read_text()
    start = text.index("    readinessProbe:\n")
    end = text.index("      failureThreshold: 5\n", start) + len("      failureThreshold: 5\n")
    kind.write_text(text[:start] + text[end:])
    values = merged_values(chart_copy, kind)
    assert readiness_lag(values) == 10
    (finding,) = check_readiness_probe(values, source_of(KIND_SCENARIO))
    assert finding.where == "kube-prometheus-stack.grafana.readinessProbe"
    assert finding.message == (
        "sets no periodSeconds/initialDelaySeconds: a healthy Grafana may wait up to 10 s for Ready (and for "
        f"its Service), over {MAX_READINESS_LAG} s; lower periodSeconds and initialDelaySeconds"
    )


def test_a_long_initial_delay_or_a_replaced_check_is_reported(scenario_values: ScenarioValues) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO),
        {"kube-prometheus-stack": {"grafana": {"readinessProbe": {
            "initialDelaySeconds": 20, "tcpSocket": {"port": 3000}}}}},
    )  # fmt: skip
    lag, replaced = check_readiness_probe(values, "v")
    assert "may wait up to 20 s" in lag.message
    assert replaced.message == "replaces the httpGet /api/health check; only tune its timing"


def test_dashboards_from_all_namespaces_are_reported(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    text = values.read_text()
    values.write_text(text.replace('        searchNamespace: ""\n', "        searchNamespace: ALL\n", 1))
    (finding,) = check_sidecar_scope(merged_values(chart_copy), "values.yaml")
    assert finding.where == "kube-prometheus-stack.grafana.sidecar.dashboards.searchNamespace"
    assert finding.message.startswith("is 'ALL': the sidecar would read ConfigMaps and Secrets outside")


def test_the_kps_default_scope_is_reported_when_our_override_goes(chart_copy: Path) -> None:
    """Without our key, kube-prometheus-stack's own default (ALL) applies; the check must not read that as
    'unset = own namespace'. The umbrella cannot see the subchart default offline, so the key is required."""
    values = chart_copy / "values.yaml"
    text = values.read_text()
    values.write_text(text.replace('        searchNamespace: ""\n', "", 1))
    findings = check_sidecar_scope(merged_values(chart_copy), "values.yaml")
    assert [f.where for f in findings] == ["kube-prometheus-stack.grafana.sidecar.dashboards.searchNamespace"]
    assert findings[0].message.startswith("is 'ALL' (not set, and kube-prometheus-stack's default is ALL)")


def test_cluster_wide_grafana_rbac_is_reported(chart_copy: Path) -> None:
    _replace_once(chart_copy / "values.yaml", "    rbac:\n      namespaced: true\n", "")
    (finding,) = check_sidecar_scope(merged_values(chart_copy), "values.yaml")
    assert finding.where == "kube-prometheus-stack.grafana.rbac.namespaced"
    assert finding.message.startswith("is None: the grafana chart then grants a ClusterRole")


def test_grafana_switched_off_needs_none_of_it(scenario_values: ScenarioValues) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO),
        {"kube-prometheus-stack": {"grafana": {"enabled": False, "rbac": None, "readinessProbe": None}}},
    )
    assert not check_sidecar_scope(values, "v") + check_readiness_probe(values, "v")
