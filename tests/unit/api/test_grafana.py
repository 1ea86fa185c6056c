"""Grafana client over GrafanaDouble: health, dashboards, datasource health and /api/ds/query parsing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import requests
from tests.doubles import (
    FakeClock,
    GrafanaDouble,
    empty_result,
    error_result,
    log_frames,
    payload,
    recorded_result,
    series_frames,
)

from monitoring_conformance.api.grafana import Grafana, panel_queries, parse_ds_response
from monitoring_conformance.api.http import AuthError
from monitoring_conformance.errors import EndpointError, WaitTimeout
from monitoring_conformance.redact import register_secret
from monitoring_conformance.wait import eventually

pytestmark = pytest.mark.unit

PROM_QUERY = {"refId": "A", "datasource": {"type": "prometheus", "uid": "prometheus"}, "expr": "up"}
LOKI_QUERY = {"refId": "A", "datasource": {"type": "loki", "uid": "loki"}, "expr": '{app="todo-backend"}'}


PASSWORD = "Gr4fana-Adm1n"


def client(double: GrafanaDouble, *, user: str = "admin", password: str = PASSWORD) -> Grafana:
    session = requests.Session()
    session.auth = (user, password)
    register_secret(password)
    return Grafana(double.endpoint(name="Grafana", session=session))


# -- health and version ----------------------------------------------------------------------------------


def test_health_and_version() -> None:
    grafana = client(GrafanaDouble())
    assert grafana.health() == {"commit": "a1b2c3d4e5", "database": "ok", "version": "13.2.0"}
    assert grafana.version() == "13.2.0"


def test_hidden_version_falls_back_to_frontend_settings() -> None:
    grafana = client(GrafanaDouble(health=payload("grafana/health-hidden-version.json")))
    assert "version" not in grafana.health()
    assert grafana.version() == "13.2.0"


def test_failing_database_is_not_healthy() -> None:
    grafana = client(GrafanaDouble(health=payload("grafana/health-failing.json")))
    with pytest.raises(EndpointError, match="Grafana is not healthy: database is 'failing'"):
        grafana.health()


def test_health_only_ok_after_31_seconds() -> None:
    fake = FakeClock()
    grafana = client(GrafanaDouble(health_after=31, clock=fake))
    with pytest.raises(WaitTimeout) as caught:
        eventually(grafana.health, timeout=30, interval=1, what="Grafana healthy", clock=fake.clock, scale=1)
    assert "connection refused" in str(caught.value)
    assert "not met after 30.0s" in str(caught.value)


def test_health_ok_after_31_seconds_is_measured() -> None:
    fake = FakeClock()
    grafana = client(GrafanaDouble(health_after=31, clock=fake, unhealthy="failing"))
    start = fake.clock.now()
    health = eventually(
        grafana.health, timeout=60, interval=1, what="Grafana healthy", clock=fake.clock, scale=1
    )
    seconds = fake.clock.now() - start
    assert health["database"] == "ok"
    assert seconds == pytest.approx(31.0)


# -- credentials -----------------------------------------------------------------------------------------


def test_wrong_password_is_unrecoverable_and_never_shown() -> None:
    double = GrafanaDouble(credentials=("admin", "the-right-one"))
    grafana = client(double, password="Wr0ng-Pa55word")
    with pytest.raises(AuthError) as caught:
        grafana.search_dashboards()
    message = str(caught.value)
    assert "401 Unauthorized" in message
    assert "MC_GRAFANA_USER/MC_GRAFANA_PASSWORD" in message
    assert "grafana Secret" in message
    for shown in (message, repr(grafana), grafana.endpoint.last_request or ""):
        assert "Wr0ng-Pa55word" not in shown
        assert "the-right-one" not in shown


def test_right_password_is_accepted() -> None:
    grafana = client(GrafanaDouble(credentials=("admin", PASSWORD)))
    assert [hit["uid"] for hit in grafana.search_dashboards()] == ["todo-overview"]


def test_health_needs_no_credentials() -> None:
    grafana = client(GrafanaDouble(credentials=("admin", "other")))
    assert grafana.health()["database"] == "ok"


# -- dashboards ------------------------------------------------------------------------------------------


def test_search_lists_dashboards_only() -> None:
    grafana = client(GrafanaDouble(search=payload("grafana/search.json")))
    uids = [hit["uid"] for hit in grafana.search_dashboards()]
    assert uids == ["todo-overview", "todo-logs", "efa86fd1d0c121a26444b636a3f509a8"]
    assert grafana.endpoint.last_request == "GET /api/search?type=dash-db&limit=5000 -> 200"


def test_dashboard_missing_from_search() -> None:
    hits = [h for h in payload("grafana/search.json") if h["uid"] != "todo-logs"]
    grafana = client(GrafanaDouble(search=hits))
    uids = {hit["uid"] for hit in grafana.search_dashboards()}
    assert "todo-overview" in uids
    assert "todo-logs" not in uids


def test_search_by_title() -> None:
    grafana = client(GrafanaDouble(search=payload("grafana/search.json")))
    assert [h["uid"] for h in grafana.search_dashboards("logs")] == ["todo-logs"]


def test_dashboard_model() -> None:
    model = client(GrafanaDouble()).dashboard("todo-overview")
    assert model["uid"] == "todo-overview"
    assert [p["id"] for p in model["panels"]] == [1, 2, 3, 6]


def test_unknown_dashboard_uid_is_named() -> None:
    with pytest.raises(EndpointError) as caught:
        client(GrafanaDouble()).dashboard("todo-missing")
    assert caught.value.status == 404
    assert "dashboard uid todo-missing not found" in str(caught.value)
    assert "/api/dashboards/uid/todo-missing -> 404" in str(caught.value)


# -- datasource health -----------------------------------------------------------------------------------


def test_datasource_health_ok() -> None:
    health = client(GrafanaDouble()).datasource_health("prometheus")
    assert health.ok
    assert health.message == "Successfully queried the Prometheus API."


def test_datasource_health_error_is_returned_not_raised() -> None:
    double = GrafanaDouble(datasource_health={"loki": payload("grafana/datasource-health-loki-error.json")})
    health = client(double).datasource_health("loki")
    assert not health.ok
    assert health.status == "ERROR"
    assert "connection refused" in health.message


def test_unknown_datasource_is_named() -> None:
    with pytest.raises(EndpointError, match="datasource uid tempo not found"):
        client(GrafanaDouble()).datasource_health("tempo")


# -- /api/ds/query ---------------------------------------------------------------------------------------


def test_ds_query_prometheus_frames() -> None:
    result = client(GrafanaDouble()).ds_query([PROM_QUERY], from_="now-5m", to="now")
    a = result["A"]
    assert a.ok
    assert (a.frames, a.series, a.rows) == (2, 2, 6)
    assert a.sample == [0.0039, 0.0041, 0.0042]
    assert result.http_status == 200
    assert result.describe() == "A: 2 series, 6 rows in 2 frames"


def test_ds_query_loki_log_lines() -> None:
    a = client(GrafanaDouble()).ds_query([LOKI_QUERY])["A"]
    assert (a.frames, a.series, a.rows) == (1, 1, 2)
    assert a.sample[0].startswith('{"time":"2026-11-18T11:06:40.412Z"')


def test_panel_query_returning_an_error_frame() -> None:
    message = payload("grafana/ds-query-error.json")["results"]["A"]["error"]
    double = GrafanaDouble(ds_query=lambda q: error_result(message))
    result = client(double).ds_query([PROM_QUERY])
    assert result.http_status == 400
    assert not result["A"].ok
    assert result.errors == {"A": message}
    assert result.describe().startswith("A: error bad_data:")


def test_one_failing_query_among_several() -> None:
    def answer(query: Mapping[str, Any]) -> dict[str, Any]:
        if query["refId"] == "B":
            return error_result("parse error")
        return recorded_result(query)

    result = client(GrafanaDouble(ds_query=answer)).ds_query([PROM_QUERY, {**PROM_QUERY, "refId": "B"}])
    assert result["A"].ok
    assert result["B"].error == "parse error"


def test_empty_panel() -> None:
    result = client(GrafanaDouble(ds_query=lambda q: empty_result(q["refId"]))).ds_query([PROM_QUERY])
    a = result["A"]
    assert a.ok
    assert (a.frames, a.series, a.rows, a.sample) == (1, 0, 0, [])


def frame(fields: list[tuple[str, str]], values: list[list[Any]], **data: Any) -> dict[str, Any]:
    schema = {"refId": "A", "fields": [{"name": name, "type": kind} for name, kind in fields]}
    return {"schema": schema, "data": {"values": values, **data}}


def test_a_frame_of_nulls_is_no_data() -> None:
    # Grafana sends NaN, +Inf and -Inf as null (and names them in data.entities)
    nulls = frame(
        [("Time", "time"), ("Value", "number")],
        [[1, 2, 3], [None, None, None]],
        entities=[None, {"NaN": [0, 1], "Inf": [2]}],
    )
    a = parse_ds_response({"results": {"A": {"status": 200, "frames": [nulls]}}}, 200)["A"]
    assert (a.ok, a.frames, a.series, a.rows) == (True, 1, 0, 0)


def test_only_finite_numbers_of_non_time_fields_count_as_data() -> None:
    mixed = frame(
        [("Time", "time"), ("Value", "number"), ("pod", "string")],
        [[1, 2, 3, 4], [None, float("nan"), 0.0, True], ["a", "b", "c", "d"]],
    )
    untyped = {"data": {"values": [[5, None], [None, None]]}}  # no schema: numbers count
    a = parse_ds_response({"results": {"A": {"frames": [mixed, untyped]}}}, 200)["A"]
    assert (a.series, a.rows) == (2, 2)  # 0.0 in the first frame; 5 in the untyped one


def test_log_frames_count_non_empty_lines_only() -> None:
    logs = frame([("Time", "time"), ("Line", "string")], [[1, 2, 3], ["", "  ", None]])
    newer = frame([("timestamp", "time"), ("body", "string")], [[1, 2], ["a line", ""]])
    result = parse_ds_response({"results": {"A": {"frames": [logs]}, "B": {"frames": [newer]}}}, 200)
    assert (result["A"].series, result["A"].rows) == (0, 0)
    assert (result["B"].series, result["B"].rows) == (1, 1)


def test_recorded_empty_answer_parses_as_empty() -> None:
    a = parse_ds_response(payload("grafana/ds-query-empty.json"), 200)["A"]
    assert (a.ok, a.rows, a.series) == (True, 0, 0)


def test_a_query_grafana_did_not_answer_counts_as_an_error() -> None:
    result = parse_ds_response({"results": {}}, 200, ["A"])
    assert result["A"].error == "Grafana returned no result for this query"


def test_ds_query_body_carries_the_time_range() -> None:
    double = GrafanaDouble(ds_query=lambda q: series_frames(q["refId"], [({"pod": "p"}, [1.0])]))
    client(double).ds_query([PROM_QUERY], from_=1795000000000, to=1795000300000)
    body = double.calls_to("/api/ds/query")[0].json()
    assert (body["from"], body["to"]) == ("1795000000000", "1795000300000")


def test_ds_query_400_without_results_shows_grafanas_message() -> None:
    double = GrafanaDouble(status_overrides={"/api/ds/query": 400})
    with pytest.raises(EndpointError, match=r"/api/ds/query -> 400 Bad Request .*status 400"):
        client(double).ds_query([PROM_QUERY])


def test_ds_query_200_without_results_is_an_endpoint_error() -> None:
    double = GrafanaDouble()
    double.route("POST", "/api/ds/query", lambda call, m: "<html>login</html>", first=True)
    with pytest.raises(EndpointError, match=r"POST /api/ds/query -> 200 without per-query results"):
        client(double).ds_query([PROM_QUERY])


def test_ds_query_401() -> None:
    double = GrafanaDouble(status_overrides={"/api/ds/query": 401})
    with pytest.raises(AuthError):
        client(double).ds_query([PROM_QUERY])


def test_every_panel_of_the_recorded_dashboard_runs() -> None:
    double = GrafanaDouble(
        ds_query=lambda q: (
            log_frames(q["refId"], ["line"])
            if q["datasource"]["type"] == "loki"
            else series_frames(q["refId"], [({"pod": "p"}, [1.0, 2.0])])
        )
    )
    grafana = client(double)
    model = grafana.dashboard("todo-overview")
    variables = {"namespace": "todo", "datasource": "prometheus"}
    panels = [p for p in model["panels"] if p.get("targets")] + model["panels"][3]["panels"]
    rows = {p["id"]: grafana.ds_query(panel_queries(p, variables)).rows for p in panels}
    assert rows == {1: 2, 2: 4, 3: 2, 7: 1}
    assert all("$namespace" not in q["expr"] for q in double.ds_queries)
