"""The dashboard checks use the dashboard Grafana serves, not the chart's file: GrafanaDouble serving an
edited copy of the dashboard must be caught (dashboards.provisioned) and its queries run (panels_have_data).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import FakeClock, GrafanaDouble, series_frames
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance import dashboards
from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks import grafana as checks
from monitoring_conformance.checks import served
from monitoring_conformance.checks.base import CheckFailed

pytestmark = pytest.mark.unit

PROM = {"type": "prometheus", "uid": "prometheus"}
FILE_EXPR = 'sum(rate(http_requests_total{namespace="$namespace"}[5m]))'
EDITED_EXPR = 'sum(rate(http_requests_total{namespace="$namespace", handler="/healthz"}[5m]))'


def board(expr: str = FILE_EXPR, *, namespace: str = "todo", ds: Mapping[str, str] = PROM) -> dict[str, Any]:
    return {
        "uid": "todo-overview",
        "title": "Todo Backend / Overview",
        "templating": {"list": [{"name": "namespace", "type": "custom", "current": {"value": namespace}}]},
        "panels": [
            {"id": 4, "title": "Request rate", "datasource": dict(ds),
             "targets": [{"refId": "A", "datasource": dict(ds), "expr": expr}]},
        ],
    }  # fmt: skip


FILE = dashboards.Dashboard(Path("todo-overview.json"), board())
PANEL = FILE.data["panels"][0]


def data(query: Mapping[str, Any]) -> dict[str, Any]:
    return series_frames(str(query["refId"]), [({"handler": "/api/{user_id}/tasks"}, [0.5, 0.7])])


def nulls(query: Mapping[str, Any]) -> dict[str, Any]:
    """A result with one frame whose values are all null (what Grafana sends for NaN)."""
    return series_frames(str(query["refId"]), [({}, [None, None, None])])  # type: ignore[list-item]


def grafana(double: GrafanaDouble) -> Grafana:
    return Grafana(double.endpoint(name="Grafana"))


def panel_check(double: GrafanaDouble, fake_clock: FakeClock, **variables: str) -> tuple[str, Any]:
    record = make_record("dashboards.panels_have_data")
    spec = make_spec("dashboards.panels_have_data", variables=variables, range="now-15m", timeout=2)
    described = checks.panel_has_data(
        grafana(double), FILE, PANEL, spec, record, total=1, clock=fake_clock.clock
    )
    return described, record


def provisioned(double: GrafanaDouble, fake_clock: FakeClock) -> Any:
    return checks.dashboard_provisioned(
        grafana(double),
        FILE,
        make_spec("dashboards.provisioned", timeout=2),
        make_record("dashboards.provisioned"),
        total=1,
        clock=fake_clock.clock,
    )


# -- dashboards.panels_have_data runs the served queries --------------------------------------------------


def test_panel_check_runs_the_query_grafana_serves_not_the_files(fake_clock: FakeClock) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": board(EDITED_EXPR)}, ds_query=data)

    _, record = panel_check(double, fake_clock)

    sent = [q["expr"] for q in double.ds_queries]
    assert sent == ['sum(rate(http_requests_total{namespace="todo", handler="/healthz"}[5m]))']
    assert 'handler=\\"/healthz\\"' in record.evidence[0]["response"]


def test_panel_check_takes_variables_from_the_served_model(fake_clock: FakeClock) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": board(namespace="served-ns")}, ds_query=data)

    panel_check(double, fake_clock)

    assert 'namespace="served-ns"' in double.ds_queries[0]["expr"]


def test_profile_variables_win_over_the_served_ones(fake_clock: FakeClock) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": board(namespace="served-ns")}, ds_query=data)

    panel_check(double, fake_clock, namespace="shop")

    assert 'namespace="shop"' in double.ds_queries[0]["expr"]


def test_a_panel_missing_from_the_served_model_fails_naming_it(fake_clock: FakeClock) -> None:
    without = {**board(), "panels": []}
    double = GrafanaDouble(dashboards={"todo-overview": without}, ds_query=data)

    with pytest.raises(CheckFailed) as caught:
        panel_check(double, fake_clock)

    message = str(caught.value)
    assert (
        "last observation: panel todo-overview/4 'Request rate' is missing from the dashboard Grafana serves"
        in (message)
    )
    assert double.ds_queries == []


def test_a_frame_of_nulls_is_a_panel_without_data(fake_clock: FakeClock) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": board()}, ds_query=nulls)

    with pytest.raises(CheckFailed, match=r"last observation: A: no data"):
        panel_check(double, fake_clock)


# -- dashboards.provisioned compares the served queries with the file ------------------------------------


def test_identical_served_dashboard_is_provisioned(fake_clock: FakeClock) -> None:
    model = provisioned(GrafanaDouble(dashboards={"todo-overview": board()}), fake_clock)

    assert model["panels"][0]["targets"][0]["expr"] == FILE_EXPR


def test_served_expr_that_differs_from_the_file_fails_naming_the_panel(fake_clock: FakeClock) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": board(EDITED_EXPR)})

    with pytest.raises(CheckFailed) as caught:
        provisioned(double, fake_clock)

    message = str(caught.value)
    assert (
        "dashboard todo-overview differs from todo-overview.json: panel 4 'Request rate': query A expr is"
        in (message)
    )
    assert f"{EDITED_EXPR!r} in Grafana, {FILE_EXPR!r} in the file" in message


def test_served_datasource_uid_that_differs_from_the_file_fails(fake_clock: FakeClock) -> None:
    other = {"type": "prometheus", "uid": "thanos"}
    double = GrafanaDouble(dashboards={"todo-overview": board(ds=other)})

    with pytest.raises(CheckFailed) as caught:
        provisioned(double, fake_clock)

    expected = "panel 4 'Request rate': query A datasource uid is 'thanos' in Grafana, 'prometheus' in the"
    assert expected in str(caught.value)


# -- the comparison itself -----------------------------------------------------------------------------------


def test_differences_name_missing_and_extra_queries() -> None:
    extra = copy.deepcopy(board())
    extra["panels"][0]["targets"].append({"refId": "B", "expr": "up"})
    missing = copy.deepcopy(board())
    missing["panels"][0]["targets"] = []

    assert served.differences(board(), extra) == [
        "panel 4 'Request rate': query B is served by Grafana but not in the file"
    ]
    assert served.differences(board(), missing) == ["panel 4 'Request rate': query A is missing in Grafana"]
    assert served.differences(board(), {"panels": []}) == [
        "panel 4 'Request rate' is missing from the dashboard Grafana serves"
    ]


def test_a_datasource_inherited_from_the_panel_is_the_same_query() -> None:
    inherited = copy.deepcopy(board())
    del inherited["panels"][0]["targets"][0]["datasource"]  # Grafana may serve it either way

    assert served.differences(board(), inherited) == []
    assert served.differences(board(), board()) == []
