"""Every required panel exists, shows what its requirement is about, and returns series.

"Returns series" is checked twice over kube-prometheus-stack-shaped input: promtool evaluates each query,
and each vector selector inside it must match an input series (``or vector(0)`` would hide a typo from the
first check alone).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from monitoring_conformance.errors import UsageError
from tests.chart.chartcheck.dashboards import check_log_queries
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.panels import (
    check_requirement_panels,
    load_requirement_expectations,
    required_queries,
)
from tests.chart.chartcheck.promql import Query, SeriesFile, check_nonempty, load_series
from tests.chart.chartcheck.promtool import Promtool
from tests.chart.chartcheck.vectors import check_selectors, vector_selectors
from tests.chart.support import CHART

EXPECTATIONS = Path(__file__).resolve().parent / "data" / "requirement-panels.yaml"

pytestmark = pytest.mark.chart

REQUIRED = {
    "metrics.cpu",
    "metrics.memory",
    "metrics.pod_status",
    "metrics.request_rate",
    "logs.todo_backend",
}


def _requirement_ids(queries: list[Query]) -> set[str]:
    return {q.where.split(":", 1)[0] for q in queries}


def test_every_required_panel_exists_with_queries() -> None:
    found = required_queries(CHART / "dashboards")
    assert not found.findings, format_findings(found.findings)
    assert _requirement_ids(found.promql) | _requirement_ids(found.logql) >= REQUIRED


def test_required_promql_panels_return_series(
    promtool: Promtool, kps_series: SeriesFile, tmp_path: Path
) -> None:
    found = required_queries(CHART / "dashboards")
    assert _requirement_ids(found.promql) >= {"metrics.cpu", "metrics.memory", "metrics.pod_status"}
    findings = check_nonempty(promtool, found.promql, kps_series, tmp_path)
    findings += check_selectors(found.promql, kps_series)
    assert not findings, format_findings(findings)


def test_required_log_panels_select_the_todo_backend_stream(todo_log_stream: dict[str, str]) -> None:
    found = required_queries(CHART / "dashboards")
    assert "logs.todo_backend" in _requirement_ids(found.logql)
    findings = check_log_queries(found.logql, set(todo_log_stream), todo_log_stream)
    assert not findings, format_findings(findings)


def test_each_required_panel_shows_its_metric_family_or_loki_logs() -> None:
    expectations = load_requirement_expectations(EXPECTATIONS)
    assert set(expectations) >= REQUIRED
    findings = check_requirement_panels(CHART / "dashboards", expectations)
    assert not findings, format_findings(findings)


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


def test_a_log_selector_on_a_label_alloy_does_not_set_is_reported(todo_log_stream: dict[str, str]) -> None:
    query = Query("todo-overview.json", "logs.todo_backend: panel 7 'Logs' target A",
                  '{namespace="todo", service_name="todo-backend"}')  # fmt: skip
    (finding,) = check_log_queries([query], set(todo_log_stream), todo_log_stream)
    assert finding.where == query.where
    assert "uses label(s) ['service_name'] that Alloy does not set" in finding.message


def test_a_log_selector_that_misses_the_todo_stream_is_reported(todo_log_stream: dict[str, str]) -> None:
    query = Query("d.json", "logs", '{namespace="todo", app="todo-api"}')
    (finding,) = check_log_queries([query], set(todo_log_stream), todo_log_stream)
    assert "does not match the Todo backend's stream" in finding.message


def test_a_line_format_template_is_not_read_as_a_stream_selector(todo_log_stream: dict[str, str]) -> None:
    """Strings (line filters, ``line_format "{{.x}}"``) are skipped: only the real selector is checked."""
    query = Query("d.json", "logs", '{namespace="todo", app="todo-backend"} |= "{x}" | json '
                  '| line_format "{{.status}} {{.path}}"')  # fmt: skip
    assert check_log_queries([query], set(todo_log_stream), todo_log_stream) == []
    wrong = dataclasses.replace(query, expr=query.expr.replace('app="todo-backend"', 'app="todo-api"'))
    (finding,) = check_log_queries([wrong], set(todo_log_stream), todo_log_stream)
    assert "does not match the Todo backend's stream" in finding.message


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('{namespace="todo" app="todo-backend"}', "LogQL does not parse: expected ',' at character 19"),
        ("{namespace=todo}", "LogQL does not parse: cannot read the label matcher at character 2"),
        ('{namespace="todo"', "LogQL does not parse: '{' at character 1 is never closed"),
        ('sum(count_over_time("todo"[1m]))', "LogQL query has no stream selector {...}"),
    ],
)
def test_an_unreadable_log_query_is_reported(
    todo_log_stream: dict[str, str], expr: str, message: str
) -> None:
    (finding,) = check_log_queries([Query("d.json", "logs", expr)], set(todo_log_stream), todo_log_stream)
    assert finding.message == f"{message} in `{expr}`"


def test_a_wrong_status_label_in_the_error_rate_is_reported(kps_series: SeriesFile) -> None:
    """code=~"5.." selects nothing (the instrumentator's label is status), whatever promtool returns."""
    error_rate = Query(
        "todo-overview.json", "panel 5 'Error rate (5xx)' target A",
        '(sum(rate(http_requests_total{namespace="todo", job="todo-backend", code=~"5.."}[1m])) or vector(0))'
        ' / sum(rate(http_requests_total{namespace="todo", job="todo-backend"}[1m]))',
    )  # fmt: skip
    (finding,) = check_selectors([error_rate], kps_series)
    assert finding.file == "todo-overview.json"
    assert finding.where == error_rate.where
    assert (
        'selector http_requests_total{namespace="todo", job="todo-backend", code=~"5.."}' in finding.message
    )
    assert "matches none of the input series of kps-series.yaml" in finding.message
    assert finding.message.endswith(
        "no http_requests_total series has a label 'code' in `" + error_rate.expr + "`"
    )


def test_or_vector_zero_does_not_hide_a_job_typo(
    promtool: Promtool, kps_series: SeriesFile, tmp_path: Path
) -> None:
    typo = Query(
        "todo-overview.json", "panel 4 'Request rate' target A",
        'sum(rate(http_requests_total{namespace="todo", job="todo-bakend"}[1m])) or vector(0)',
    )  # fmt: skip
    assert check_nonempty(promtool, [typo], kps_series, tmp_path) == []  # the trap: promtool sees a series
    (finding,) = check_selectors([typo], kps_series)
    assert (
        "job=\"todo-bakend\" matches none of the http_requests_total series (job is one of ['todo-backend'])"
        in finding.message
    )


def test_the_error_rate_numerator_has_5xx_input(kps_series: SeriesFile) -> None:
    """The input data exercises status=~"5..": without 5xx series the numerator would select nothing."""
    (numerator, _) = vector_selectors(
        'sum(rate(http_requests_total{job="todo-backend", status=~"5.."}[1m]))'
        " / sum(rate(http_requests_total[1m]))"
    )
    assert not check_selectors([Query("d.json", "numerator", str(numerator))], kps_series)


@pytest.mark.parametrize(
    ("expr", "selectors"),
    [
        ('sum by (pod) (rate(a{x="1"}[5m]))', ['a{x="1"}']),
        ("sum(a) by (le) / on(pod) group_left(node) b offset 5m", ["a", "b"]),
        ('label_replace(up, "dst", "$1", "src", "(.*)") > bool 0', ["up"]),
        (
            'histogram_quantile(0.95, sum without (instance) (rate(h_bucket{le!=""}[5m])))',
            ['h_bucket{le!=""}'],
        ),
        ('rate(c[5m:1m] @ start()) # comment with d{e="f"}', ["c"]),
        ('{__name__="up", job=~"a|b"} unless absent(z)', ['{__name__="up", job=~"a|b"}', "z"]),
        ('topk(5, count_values("v", build_info)) > inf', ["build_info"]),
    ],
)
def test_vector_selectors_skip_what_is_not_a_selector(expr: str, selectors: list[str]) -> None:
    assert [str(s) for s in vector_selectors(expr)] == selectors


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ('up{job="x" instance="y"}', "invalid promql query"),
        ("sum(rate(x[5m])", "unclosed left parenthesis"),
        # what the tokenizer read as selectors before promql-parser: invalid PromQL that Prometheus rejects
        ('topk(5, count_values("v", build_info)) and inf', "set operator 'and' not allowed"),
        # a Grafana variable left unfilled (queries() fills the dashboard's defaults before this check)
        ("rate(x[$__rate_interval])", "unexpected character inside brackets: '$'"),
    ],
)
def test_an_unreadable_query_is_reported(kps_series: SeriesFile, expr: str, reason: str) -> None:
    (finding,) = check_selectors([Query("d.json", "panel 1", expr)], kps_series)
    assert finding.message.startswith(f"cannot read the vector selectors (PromQL does not parse: {reason}")
    assert finding.message.endswith(f"in `{expr}`")


def test_a_requirement_mapped_to_the_wrong_panel_is_reported(chart_copy: Path) -> None:
    requirements = chart_copy / "dashboards" / "requirements.yaml"
    text = requirements.read_text()
    requirements.write_text(
        text.replace("{dashboard: todo-overview, panel_id: 1}", "{dashboard: todo-overview, panel_id: 4}")
    )
    assert requirements.read_text() != text
    (finding,) = check_requirement_panels(
        chart_copy / "dashboards", load_requirement_expectations(EXPECTATIONS)
    )
    assert finding.file == str(chart_copy / "dashboards" / "todo-overview.json")
    assert finding.where == "metrics.cpu: panel 4 'Request rate'"
    assert finding.message == (
        "queries ['http_requests_total']; metrics.cpu needs container_cpu_usage_seconds_total "
        "(mapped in requirements.yaml)"
    )


def test_a_logs_requirement_on_a_metrics_panel_is_reported(chart_copy: Path) -> None:
    requirements = chart_copy / "dashboards" / "requirements.yaml"
    requirements.write_text(requirements.read_text().replace("panel_id: 7}", "panel_id: 1}"))
    (finding,) = check_requirement_panels(
        chart_copy / "dashboards", load_requirement_expectations(EXPECTATIONS)
    )
    assert finding.where == "logs.todo_backend: panel 1 'CPU usage'"
    assert (
        "is a 'timeseries' panel with 0 Loki queries; logs.todo_backend needs a 'logs' panel"
        in finding.message
    )


def test_a_malformed_series_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "series.yaml"
    path.write_text(yaml.safe_dump({"input_series": [{"values": "1x3"}]}))
    with pytest.raises(UsageError, match=r"series\.yaml: expected `input_series:`"):
        load_series(path)


def test_or_between_label_matchers_is_reported_not_guessed(kps_series: SeriesFile) -> None:
    """Prometheus 3's ``{a="1" or b="2"}`` parses; which alternative should match is not checked here."""
    (finding,) = check_selectors([Query("d.json", "panel 1", 'up{job="a" or job="b"}')], kps_series)
    assert finding.message.startswith("cannot read the vector selectors (")
    assert "`or` between label matchers is not supported here" in finding.message
