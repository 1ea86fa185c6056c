"""The settings the stack needs on a single-node kind cluster, asserted on every scenario's merged values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.required import (
    check_alertmanager_datasource,
    check_loki_schema,
    check_no_passwords,
    check_settings,
    load_expectations,
)
from tests.chart.chartcheck.values import deep_merge, load_values, merged_values
from tests.chart.support import CHART, KIND_SCENARIO, SCENARIOS, ScenarioValues, source_of

pytestmark = pytest.mark.chart

EXPECTATIONS = Path(__file__).resolve().parent / "data" / "required-values.yaml"


def _values_files(chart: Path) -> list[Path]:
    return [chart / "values.yaml", *sorted((chart / "ci").glob("*.yaml"))]


@pytest.fixture(scope="module")
def expectations() -> dict[str, object]:
    return load_expectations(EXPECTATIONS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_required_settings_hold(
    scenario_values: ScenarioValues, scenario: str, expectations: dict[str, object]
) -> None:
    values = scenario_values(scenario)
    findings = check_settings(values, expectations, source_of(scenario))
    findings += check_loki_schema(values, source_of(scenario))
    findings += check_alertmanager_datasource(values, source_of(scenario))
    assert not findings, format_findings(findings)


def test_the_kind_scenario_runs_alertmanager_with_its_datasource(scenario_values: ScenarioValues) -> None:
    values = scenario_values(KIND_SCENARIO)  # alerts.fire needs the chart's Alertmanager on kind
    assert values["kube-prometheus-stack"]["alertmanager"]["enabled"] is True
    datasources = values["kube-prometheus-stack"]["grafana"]["sidecar"]["datasources"]
    assert datasources["alertmanager"]["enabled"] is True
    assert not check_alertmanager_datasource(values, source_of(KIND_SCENARIO))


def test_no_values_file_holds_a_password() -> None:
    files = _values_files(CHART)
    assert len(files) >= 3
    findings = check_no_passwords(files)
    assert not findings, format_findings(findings)


# --- negative cases ---------------------------------------------------------------------------------------


def test_auth_enabled_one_level_too_high_is_reported(
    scenario_values: ScenarioValues, expectations: dict[str, object]
) -> None:
    """loki.auth_enabled is not a Loki setting; the loki chart reads loki.loki.auth_enabled."""
    values = deep_merge(
        scenario_values(KIND_SCENARIO), {"loki": {"auth_enabled": False, "loki": {"auth_enabled": None}}}
    )
    (finding,) = check_settings(values, expectations, "values.yaml")
    assert (finding.file, finding.where) == ("values.yaml", "loki.loki.auth_enabled")
    assert (
        finding.message
        == "is not set, expected False; a key of that name is set at loki.auth_enabled instead"
    )


def test_etcd_scraping_switched_on_in_the_kind_values_is_reported(
    chart_copy: Path, expectations: dict[str, object]
) -> None:
    kind = chart_copy / "ci" / KIND_SCENARIO
    kind.write_text(
        kind.read_text().replace("  kubeEtcd:\n    enabled: false", "  kubeEtcd:\n    enabled: true", 1)
    )
    (finding,) = check_settings(merged_values(chart_copy, kind), expectations, source_of(KIND_SCENARIO))
    assert finding.where == "kube-prometheus-stack.kubeEtcd.enabled"
    assert finding.message == "is True, expected False"


def test_a_grafana_admin_password_in_a_values_file_is_reported(chart_copy: Path) -> None:
    values = chart_copy / "values.yaml"
    values.write_text(
        values.read_text().replace(
            "    adminUser: admin\n", "    adminUser: admin\n    adminPassword: prom-operator\n"
        )
    )
    assert load_values(values)["kube-prometheus-stack"]["grafana"]["adminPassword"] == "prom-operator"
    findings = check_no_passwords(_values_files(chart_copy))
    assert [(f.file, f.where) for f in findings] == [
        (str(values), "kube-prometheus-stack.grafana.adminPassword"),
        (str(values), "kube-prometheus-stack.grafana.adminPassword"),
    ]
    assert findings[0].message.startswith("sets a Grafana admin password in a values file: remove it")
    assert findings[1].message == "is the well-known default password 'prom-operator'"


def test_a_literal_password_under_another_key_is_reported(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("loki:\n  minio:\n    rootPassword: s3cr3t\n    passwordKey: root-password\n")
    (finding,) = check_no_passwords([values])
    assert (finding.where, finding.message) == (
        "loki.minio.rootPassword",
        "holds a literal password: take it from a Secret",
    )


def test_an_unquoted_schema_date_is_reported(scenario_values: ScenarioValues, tmp_path: Path) -> None:
    override = tmp_path / "date-values.yaml"
    override.write_text(
        "loki:\n  loki:\n    schemaConfig:\n      configs:\n"
        "        - {from: 2024-04-01, store: tsdb, object_store: filesystem, schema: v13}\n"
    )
    values = deep_merge(scenario_values(KIND_SCENARIO), load_values(override))
    (finding,) = check_loki_schema(values, "v")
    assert finding.where == "loki.loki.schemaConfig.configs[0].from"
    assert finding.message == 'is the unquoted date 2024-04-01: quote it ("2024-04-01")'


def test_a_missing_schema_config_is_reported(scenario_values: ScenarioValues) -> None:
    values = deep_merge(scenario_values(KIND_SCENARIO), {"loki": {"loki": {"schemaConfig": None}}})
    (finding,) = check_loki_schema(values, "v")
    assert "is missing: the loki chart refuses to render without a schema config" in finding.message


def test_an_alertmanager_datasource_without_alertmanager_is_reported(scenario_values: ScenarioValues) -> None:
    values = deep_merge(
        scenario_values(KIND_SCENARIO),
        {
            "kube-prometheus-stack": {
                "alertmanager": {"enabled": False},
                "grafana": {"sidecar": {"datasources": {"alertmanager": {"enabled": True}}}},
            }
        },
    )
    (finding,) = check_alertmanager_datasource(values, "ci/kind-values.yaml")
    assert finding.where == "kube-prometheus-stack.grafana.sidecar.datasources.alertmanager.enabled"
    assert "is True while kube-prometheus-stack.alertmanager.enabled is false" in finding.message
