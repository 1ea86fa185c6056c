"""charts/monitoring/dashboards/*.json: identity, datasources, and PromQL that promtool parses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitoring_conformance.dashboards import load_dashboards, substitute
from tests.chart.chartcheck import dashboards as checks
from tests.chart.chartcheck.findings import Finding, format_findings
from tests.chart.chartcheck.promql import Query, SeriesFile, check_nonempty, check_parse
from tests.chart.chartcheck.promtool import Promtool
from tests.chart.chartcheck.values import deep_merge
from tests.chart.chartcheck.vectors import check_selectors
from tests.chart.support import CHART, SCENARIOS, ScenarioValues, source_of

pytestmark = pytest.mark.chart

DASHBOARDS = CHART / "dashboards"


def _all_findings(directory: Path) -> list[Finding]:
    dashboards, findings = checks.load_all(directory)
    return findings + checks.check_identity(dashboards) + checks.check_datasources(dashboards)


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def test_chart_has_dashboards() -> None:
    assert [d.uid for d in load_dashboards(DASHBOARDS)], f"no *.json in {DASHBOARDS}"


def test_dashboards_are_valid_and_consistent() -> None:
    findings = _all_findings(DASHBOARDS)
    assert not findings, format_findings(findings)


def test_every_promql_target_parses(promtool: Promtool, tmp_path: Path) -> None:
    queries = checks.queries(load_dashboards(DASHBOARDS), "prometheus")
    assert queries, "no PromQL target found in the dashboards"
    findings = check_parse(promtool, queries, tmp_path)
    assert not findings, format_findings(findings)


def test_invalid_json_is_reported_with_its_line(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"
    path.write_text(path.read_text().replace('"title"', '"title" "', 1))
    findings = _all_findings(chart_copy / "dashboards")
    assert any(f.file == str(path) and "invalid JSON at line" in f.message for f in findings), (
        format_findings(findings)
    )


def test_uid_must_equal_the_file_name(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"
    _edit(path, lambda d: d.update(uid="overview"))
    assert f"{path} [uid]: uid is 'overview', must equal the file name 'todo-overview'" in format_findings(
        _all_findings(chart_copy / "dashboards")
    )


def test_duplicate_uid_and_title_are_reported(chart_copy: Path) -> None:
    original = chart_copy / "dashboards" / "todo-overview.json"
    twin = chart_copy / "dashboards" / "todo-twin.json"
    twin.write_text(original.read_text())
    text = format_findings(_all_findings(chart_copy / "dashboards"))
    assert f"{twin} [uid]: duplicate uid 'todo-overview': also in todo-overview.json" in text
    assert f"{twin} [title]: duplicate title" in text


def test_id_must_be_null(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"
    _edit(path, lambda d: d.update(id=17))
    assert f"{path} [id]: id is 17, must be null" in format_findings(_all_findings(chart_copy / "dashboards"))


def test_unknown_datasource_uid_in_a_target_is_reported(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"

    def change(data: dict[str, Any]) -> None:
        data["panels"][0]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}

    _edit(path, change)
    text = format_findings(_all_findings(chart_copy / "dashboards"))
    assert f"{path} [panel " in text
    assert "target A]: unknown datasource uid 'P1809F7CD0C75ACF3'" in text


def test_nested_row_panels_are_checked(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"

    def change(data: dict[str, Any]) -> None:
        hidden = {
            "id": 99,
            "title": "Hidden",
            "type": "timeseries",
            "datasource": {"uid": "elastic"},
            "targets": [],
        }
        data["panels"].append(
            {"id": 98, "type": "row", "title": "More", "collapsed": True, "panels": [hidden]}
        )

    _edit(path, change)
    assert "[panel 99 'Hidden']: unknown datasource uid 'elastic'" in format_findings(
        _all_findings(chart_copy / "dashboards")
    )


def test_datasource_variables_are_accepted_and_checked(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"

    def change(data: dict[str, Any]) -> None:
        data["templating"]["list"].append({"name": "datasource", "type": "datasource", "query": "prometheus"})
        data["panels"][0]["datasource"] = {"type": "prometheus", "uid": "${datasource}"}
        data["panels"][0]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "$datasource"}
        data["panels"][1]["datasource"] = {"type": "prometheus", "uid": "${nosuch}"}

    _edit(path, change)
    findings = _all_findings(chart_copy / "dashboards")
    assert [f.message for f in findings] == [
        "datasource '${nosuch}' names no datasource variable of this dashboard"
    ]


def test_a_promql_typo_names_the_dashboard_file_and_panel(
    promtool: Promtool, chart_copy: Path, tmp_path: Path
) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"
    data = json.loads(path.read_text())
    panel = next(
        p for p in data["panels"] if p.get("targets") and p["targets"][0]["datasource"]["uid"] == "prometheus"
    )
    panel["targets"][0]["expr"] = "sum(rate(http_requests_total[5m])"
    path.write_text(json.dumps(data))
    findings = check_parse(
        promtool, checks.queries(load_dashboards(chart_copy / "dashboards"), "prometheus"), tmp_path
    )
    assert len(findings) == 1, format_findings(findings)
    assert findings[0].file == str(path)
    assert findings[0].where == f"panel {panel['id']} {panel['title']!r} target A"
    assert "PromQL does not parse: could not parse expression" in findings[0].message
    assert "unclosed left parenthesis" in findings[0].message


def test_an_unknown_variable_is_left_for_promtool_to_reject(promtool: Promtool, tmp_path: Path) -> None:
    expr = substitute('rate(up{namespace="$namespace"}[$bogus])', {"namespace": "todo"})
    assert expr == 'rate(up{namespace="todo"}[$bogus])'
    (finding,) = check_parse(promtool, [Query("d.json", "panel 1 'x' target A", expr)], tmp_path)
    assert finding.where == "panel 1 'x' target A"
    assert "$bogus" in finding.message


def test_every_promql_target_returns_series_over_kps_shaped_input(
    promtool: Promtool, kps_series: SeriesFile, tmp_path: Path
) -> None:
    queries = checks.queries(load_dashboards(DASHBOARDS), "prometheus")
    findings = check_nonempty(promtool, queries, kps_series, tmp_path) + check_selectors(queries, kps_series)
    assert not findings, format_findings(findings)


def test_every_logql_target_selects_the_todo_backend_stream(todo_log_stream: dict[str, str]) -> None:
    queries = checks.queries(load_dashboards(DASHBOARDS), "loki")
    assert queries, "no LogQL target found in the dashboards"
    findings = checks.check_log_queries(queries, set(todo_log_stream), todo_log_stream)
    assert not findings, format_findings(findings)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_namespace_variable_defaults_to_the_backends_namespace(
    scenario_values: ScenarioValues, scenario: str
) -> None:
    findings = checks.check_namespace_variable(
        load_dashboards(DASHBOARDS), scenario_values(scenario), source_of(scenario)
    )
    assert not findings, format_findings(findings)


def test_a_changed_backend_namespace_is_reported_on_every_dashboard(scenario_values: ScenarioValues) -> None:
    values = deep_merge(scenario_values("kind-values.yaml"), {"todoBackend": {"namespace": "apps"}})
    findings = checks.check_namespace_variable(load_dashboards(DASHBOARDS), values, "ci/kind-values.yaml + x")
    assert [f.file for f in findings] == [str(p) for p in sorted(DASHBOARDS.glob("*.json"))]
    assert findings[0].where == "templating namespace"
    assert findings[0].message.startswith(
        "defaults to 'todo', but todoBackend.namespace is 'apps' in ci/kind-values.yaml + x"
    )
