"""monitoring_conformance.dashboards: walking panels and filling in variables (shared with the suite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_conformance.dashboards import (
    default_variables,
    iter_panels,
    load_requirement_panels,
    panel_targets,
    substitute,
    target_datasource,
)
from monitoring_conformance.errors import UsageError
from tests.chart.support import CHART

pytestmark = pytest.mark.chart


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("rate(x[$__rate_interval])", "rate(x[1m])"),
        ("rate(x[${__interval}])", "rate(x[1m])"),
        ('x{namespace="$namespace"}', 'x{namespace="todo"}'),
        ('x{namespace="${namespace}", pod=~"[[pod]]"}', 'x{namespace="todo", pod=~"(a|b)"}'),
        ('x{ns="$namespace_extra"}', 'x{ns="$namespace_extra"}'),
        ('label_replace(x, "a", "$1", "b", "(.*)")', 'label_replace(x, "a", "$1", "b", "(.*)")'),
        ('x{c="${namespace:regex}"}', 'x{c="todo"}'),
        ("increase(x[$__range])", "increase(x[1h])"),
    ],
)
def test_substitute(expr: str, expected: str) -> None:
    assert substitute(expr, {"namespace": "todo", "pod": ["a", "b"]}) == expected


def test_substitute_lets_variables_override_macros() -> None:
    assert substitute("rate(x[$__rate_interval])", {"__rate_interval": "30s"}) == "rate(x[30s])"


def test_default_variables_reads_current_values() -> None:
    dashboard = {
        "templating": {
            "list": [
                {"name": "namespace", "type": "custom", "current": {"value": "todo"}},
                {"name": "cluster", "type": "query", "current": {"text": "", "value": ""}, "hide": 2},
                {"name": "pods", "type": "query", "current": {"value": ["a", "b"]}},
                {"name": "all", "type": "query", "current": {"value": "$__all"}, "allValue": ".+"},
                {"name": "ds", "type": "datasource", "query": "prometheus"},
                {
                    "name": "opt",
                    "type": "custom",
                    "options": [{"value": "x"}, {"value": "y", "selected": True}],
                },
                {"name": "unset", "type": "query"},
            ]
        }
    }
    assert default_variables(dashboard) == {
        "namespace": "todo",
        "cluster": "",
        "pods": ["a", "b"],
        "all": ".+",
        "ds": "prometheus",
        "opt": "y",
    }


def test_iter_panels_flattens_rows_and_legacy_rows() -> None:
    dashboard = {
        "panels": [
            {"id": 1, "type": "stat"},
            {"id": 2, "type": "row", "collapsed": True, "panels": [{"id": 3}, {"id": 4}]},
        ],
        "rows": [{"panels": [{"id": 5}]}],
    }
    assert [p["id"] for p in iter_panels(dashboard)] == [1, 2, 3, 4, 5]


def test_target_datasource_falls_back_to_the_panel() -> None:
    panel = {"datasource": {"uid": "loki"}, "targets": [{"refId": "A"}, {"refId": "B", "datasource": "x"}]}
    assert [target_datasource(panel, t) for t in panel_targets(panel)] == [{"uid": "loki"}, "x"]


def test_requirement_panels_resolve_to_dashboard_panels() -> None:
    panels = load_requirement_panels(CHART / "dashboards")
    assert {
        "metrics.cpu",
        "metrics.memory",
        "metrics.pod_status",
        "metrics.request_rate",
        "logs.todo_backend",
    } <= set(panels)
    for req_id, (uid, panel) in panels.items():
        assert (CHART / "dashboards" / f"{uid}.json").is_file(), req_id
        assert panel_targets(panel), f"{req_id}: panel {panel.get('id')} has no targets"


def test_a_missing_required_panel_is_a_usage_error_naming_it(chart_copy: Path) -> None:
    path = chart_copy / "dashboards" / "requirements.yaml"
    path.write_text(path.read_text().replace("panel_id: 4}", "panel_id: 404}"))
    with pytest.raises(UsageError) as error:
        load_requirement_panels(chart_copy / "dashboards")
    assert str(error.value) == (
        f"{path}: requirement metrics.request_rate: "
        "dashboard 'todo-overview' (todo-overview.json) has no panel id 404"
    )


def test_a_malformed_requirements_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "requirements.yaml").write_text("requirements:\n  metrics.cpu: {dashboard: x}\n")
    with pytest.raises(
        UsageError, match=r"requirement metrics\.cpu needs `dashboard: <uid>` and `panel_id: <int>`"
    ):
        load_requirement_panels(tmp_path)
