"""Every required panel exists and its query returns series over kube-prometheus-stack-shaped input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from monitoring_conformance.chartcheck.dashboards import check_log_queries
from monitoring_conformance.chartcheck.findings import Finding
from monitoring_conformance.chartcheck.panels import TODO_STREAM, required_queries
from monitoring_conformance.chartcheck.promql import Query, SeriesFile, check_nonempty, load_series
from monitoring_conformance.chartcheck.promtool import Promtool
from monitoring_conformance.chartcheck.values import Values
from monitoring_conformance.chartcheck.wiring import alloy_stream_labels
from monitoring_conformance.errors import UsageError
from tests.chart.support import CHART, KIND_SCENARIO, ScenarioValues

pytestmark = pytest.mark.chart

REQUIRED = {
    "metrics.cpu",
    "metrics.memory",
    "metrics.pod_status",
    "metrics.request_rate",
    "logs.todo_backend",
}


def _text(findings: list[Finding]) -> str:
    return "\n".join(str(f) for f in findings)


def _requirement_ids(queries: list[Query]) -> set[str]:
    return {q.where.split(":", 1)[0] for q in queries}


def test_every_required_panel_exists_with_queries() -> None:
    found = required_queries(CHART / "dashboards")
    assert not found.findings, _text(found.findings)
    assert _requirement_ids(found.promql) | _requirement_ids(found.logql) >= REQUIRED


def test_required_promql_panels_return_series(
    promtool: Promtool, kps_series: SeriesFile, tmp_path: Path
) -> None:
    found = required_queries(CHART / "dashboards")
    assert _requirement_ids(found.promql) >= {"metrics.cpu", "metrics.memory", "metrics.pod_status"}
    findings = check_nonempty(promtool, found.promql, kps_series, tmp_path)
    assert not findings, _text(findings)


def test_required_log_panels_select_the_todo_backend_stream(scenario_values: ScenarioValues) -> None:
    values: Values = scenario_values(KIND_SCENARIO)
    labels = alloy_stream_labels(values)
    assert labels >= {"namespace", "pod", "container"}, f"Alloy sets only {sorted(labels)}"
    found = required_queries(CHART / "dashboards")
    assert "logs.todo_backend" in _requirement_ids(found.logql)
    findings = check_log_queries(found.logql, labels, TODO_STREAM)
    assert not findings, _text(findings)


def test_a_deleted_required_panel_is_reported(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "todo-overview.json"
    data = json.loads(path.read_text())
    data["panels"] = [p for p in data["panels"] if p.get("id") != 1]
    path.write_text(json.dumps(data))
    found = required_queries(chart_copy / "dashboards")
    assert [str(f) for f in found.findings] == [
        f"{chart_copy / 'dashboards' / 'requirements.yaml'} [requirements]: requirement metrics.cpu: "
        "dashboard 'todo-overview' (todo-overview.json) has no panel id 1"
    ]


def test_a_query_for_a_job_that_does_not_exist_returns_nothing(
    promtool: Promtool, kps_series: SeriesFile, tmp_path: Path
) -> None:
    good = Query("todo-overview.json", "metrics.request_rate: panel 4 'Request rate' target A",
                 'sum(rate(http_requests_total{namespace="todo", job="todo-backend"}[1m]))')  # fmt: skip
    wrong_job = Query("todo-overview.json", "metrics.request_rate: panel 4 'Request rate' target B",
                      'sum(rate(http_requests_total{namespace="todo", job="todo-api"}[1m]))')  # fmt: skip
    findings = check_nonempty(promtool, [good, wrong_job], kps_series, tmp_path)
    assert [f.where for f in findings] == [wrong_job.where]
    assert findings[0].file == "todo-overview.json"
    assert "returns no series over the input series of kps-series.yaml" in findings[0].message
    assert 'job="todo-api"' in findings[0].message


def test_a_query_that_fails_to_evaluate_is_reported(
    promtool: Promtool, kps_series: SeriesFile, tmp_path: Path
) -> None:
    broken = Query(
        "d.json", "metrics.cpu: panel 1 'CPU' target A", "sum(rate(container_cpu_usage_seconds_total[1m])"
    )
    (finding,) = check_nonempty(promtool, [broken], kps_series, tmp_path)
    assert finding.where == broken.where
    assert "PromQL fails to evaluate" in finding.message


def test_the_cadvisor_filter_drops_pause_and_pod_total_series(
    promtool: Promtool, kps_series: SeriesFile, tmp_path: Path
) -> None:
    """The input series are realistic: a query that only sees pause containers finds nothing."""
    pause_only = Query("x", "pause", 'container_cpu_usage_seconds_total{container!="", image=~".*pause.*"}')
    (finding,) = check_nonempty(promtool, [pause_only], kps_series, tmp_path)
    assert finding.where == "pause"


def test_a_log_selector_on_a_label_alloy_does_not_set_is_reported(scenario_values: ScenarioValues) -> None:
    labels = alloy_stream_labels(scenario_values(KIND_SCENARIO))
    query = Query("todo-overview.json", "logs.todo_backend: panel 7 'Logs' target A",
                  '{namespace="todo", service_name="todo-backend"}')  # fmt: skip
    (finding,) = check_log_queries([query], labels, TODO_STREAM)
    assert finding.where == query.where
    assert "uses label(s) ['service_name'] that Alloy does not set" in finding.message


def test_a_log_selector_that_misses_the_todo_stream_is_reported() -> None:
    query = Query("d.json", "logs", '{namespace="todo", app="todo-api"}')
    (finding,) = check_log_queries([query], {"namespace", "app", "pod", "container"}, TODO_STREAM)
    assert "does not match the Todo backend's stream" in finding.message


def test_a_malformed_series_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "series.yaml"
    path.write_text(yaml.safe_dump({"input_series": [{"values": "1x3"}]}))
    with pytest.raises(UsageError, match=r"series\.yaml: expected `input_series:`"):
        load_series(path)
