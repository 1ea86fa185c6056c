"""panel_queries(): dashboard panels become /api/ds/query bodies the way Grafana's frontend builds them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import payload

from monitoring_conformance.api.grafana import panel_queries, resolve_datasource
from monitoring_conformance.dashboards import find_panel

pytestmark = pytest.mark.unit

DASHBOARD: dict[str, Any] = payload("grafana/dashboard-todo-overview.json")["dashboard"]
VARIABLES = {"namespace": "todo", "datasource": "prometheus"}
CHART_DASHBOARDS = Path(__file__).resolve().parents[3] / "charts" / "monitoring" / "dashboards"


def panel(panel_id: int) -> dict[str, Any]:
    found = find_panel(DASHBOARD, panel_id)
    assert found is not None
    return found


def test_mixed_panel_uses_the_targets_datasource_variable() -> None:
    [query] = panel_queries(panel(1), VARIABLES)
    assert query["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert query["refId"] == "A"


def test_dashboard_variables_are_substituted_and_macros_left_for_grafana() -> None:
    [query] = panel_queries(panel(1), VARIABLES)
    assert 'namespace="todo"' in query["expr"]
    assert "$namespace" not in query["expr"]
    assert "[$__rate_interval]" in query["expr"]


def test_braced_variables_are_substituted() -> None:
    queries = panel_queries(panel(2), VARIABLES)
    assert 'namespace="todo"' in queries[0]["expr"]


def test_unknown_variables_are_left_visible() -> None:
    [query] = panel_queries(panel(1), {})
    assert 'namespace="$namespace"' in query["expr"]


def test_prometheus_fields() -> None:
    [query] = panel_queries(panel(1), VARIABLES)
    assert query["range"] is True
    assert query["instant"] is False
    assert query["format"] == "time_series"
    assert query["legendFormat"] == "{{pod}}"
    assert query["intervalMs"] == 30_000  # the panel's interval "30s"
    assert query["maxDataPoints"] == 300


def test_instant_targets_stay_instant() -> None:
    [query] = panel_queries(panel(3), VARIABLES)
    assert (query["instant"], query["range"]) == (True, False)


def test_hidden_targets_are_skipped_and_missing_ref_ids_assigned() -> None:
    queries = panel_queries(panel(2), VARIABLES)
    assert [q["refId"] for q in queries] == ["A", "C"]  # B is hidden; the unnamed third target gets C
    assert all(q["datasource"]["uid"] == "prometheus" for q in queries)  # inherited from the panel


def test_ref_ids_are_assigned_in_order_when_all_are_missing() -> None:
    bare = {
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "targets": [{"expr": "a"}, {"expr": "b"}],
    }
    assert [q["refId"] for q in panel_queries(bare, {})] == ["A", "B"]


def test_loki_fields_inside_a_collapsed_row() -> None:
    [query] = panel_queries(panel(7), VARIABLES)
    assert query["datasource"] == {"type": "loki", "uid": "loki"}
    assert query["queryType"] == "range"
    assert query["maxLines"] == 100
    assert query["direction"] == "backward"
    assert query["expr"] == '{namespace="todo", app="todo-backend"}'
    assert "range" not in query


def test_explicit_interval_and_points_win() -> None:
    [query] = panel_queries(panel(1), VARIABLES, interval_ms=1000, max_data_points=50)
    assert (query["intervalMs"], query["maxDataPoints"]) == (1000, 50)


def test_panel_without_targets_has_no_queries() -> None:
    assert panel_queries({"type": "text", "id": 9}, VARIABLES) == []


@pytest.mark.parametrize(
    ("ref", "variables", "expected"),
    [
        (None, {}, ("prometheus", "prometheus")),
        ({"type": "prometheus", "uid": "prometheus"}, {}, ("prometheus", "prometheus")),
        (
            {"type": "prometheus", "uid": "${datasource}"},
            {"datasource": "prometheus"},
            ("prometheus", "prometheus"),
        ),
        ({"type": "prometheus", "uid": "$datasource"}, {}, ("prometheus", "prometheus")),
        (
            {"type": "prometheus", "uid": "${datasource}"},
            {"datasource": "default"},
            ("prometheus", "prometheus"),
        ),
        ({"type": "loki", "uid": "${logs}"}, {"logs": "loki"}, ("loki", "loki")),
        ({"uid": "loki"}, {}, ("loki", "loki")),
        ("Loki", {}, ("loki", "loki")),
        ("Prometheus", {}, ("prometheus", "prometheus")),
        ({"type": "datasource", "uid": "-- Mixed --"}, {}, ("prometheus", "prometheus")),
        ({"type": "prometheus", "uid": "thanos"}, {}, ("prometheus", "thanos")),
    ],
)
def test_resolve_datasource(ref: Any, variables: dict[str, str], expected: tuple[str, str]) -> None:
    assert resolve_datasource(ref, variables) == expected


def test_other_datasource_uids_can_be_mapped() -> None:
    ref = {"type": "prometheus", "uid": "${datasource}"}
    assert resolve_datasource(ref, {}, {"prometheus": "mimir"}) == ("prometheus", "mimir")


@pytest.mark.skipif(not CHART_DASHBOARDS.is_dir(), reason="the chart's dashboards are not in this checkout")
def test_every_chart_panel_builds_queries_with_no_dashboard_variable_left() -> None:
    built = 0
    for path in sorted(CHART_DASHBOARDS.glob("*.json")):
        model = json.loads(path.read_text(encoding="utf-8"))
        for item in model.get("panels", []):
            for query in panel_queries(item, {"namespace": "todo"}):
                built += 1
                leftover = query["expr"].replace("$__rate_interval", "").replace("$__interval", "")
                assert "$" not in leftover, f"{path.name} panel {item.get('id')}: {query['expr']}"
                assert query["datasource"]["uid"] in ("prometheus", "loki")
    assert built > 0
