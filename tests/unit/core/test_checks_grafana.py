"""The Grafana checks against GrafanaDouble: dashboards provisioned, panels with data, ready within 30 s."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import FakeClock, GrafanaDouble, empty_result, error_result, log_frames, series_frames
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance import dashboards
from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks import grafana as checks
from monitoring_conformance.checks.base import CheckFailed, NotVerifiable

pytestmark = pytest.mark.unit

PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
BOARD: dict[str, Any] = {
    "uid": "todo-overview",
    "title": "Todo Backend / Overview",
    "templating": {"list": [{"name": "namespace", "type": "custom", "current": {"value": "todo"}}]},
    "panels": [
        {"id": 1, "title": "CPU", "datasource": PROM,
         "targets": [{"refId": "A", "datasource": PROM, "expr": 'rate(cpu{namespace="$namespace"}[5m])'}]},
        {"id": 7, "title": "Logs", "datasource": LOKI,
         "targets": [{"refId": "A", "datasource": LOKI, "expr": '{namespace="$namespace"}'}]},
    ],
}  # fmt: skip
DASHBOARD = dashboards.Dashboard(Path("todo-overview.json"), BOARD)


def grafana(double: GrafanaDouble) -> Grafana:
    return Grafana(double.endpoint(name="Grafana"))


# -- dashboards.provisioned -------------------------------------------------------------------------------


def test_dashboard_found_and_loaded(fake_clock: FakeClock) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": BOARD})
    record = make_record("dashboards.provisioned")

    model = checks.dashboard_provisioned(
        grafana(double),
        DASHBOARD,
        make_spec("dashboards.provisioned"),
        record,
        total=3,
        clock=fake_clock.clock,
    )

    assert model["uid"] == "todo-overview"
    assert record.measured == 1
    assert record.threshold == 3
    assert [c.path for c in double.calls] == ["/api/search", "/api/dashboards/uid/todo-overview"]


def test_dashboard_missing_from_search(fake_clock: FakeClock) -> None:
    double = GrafanaDouble(dashboards={"other": {"uid": "other", "panels": []}})

    with pytest.raises(CheckFailed) as caught:
        checks.dashboard_provisioned(
            grafana(double), DASHBOARD, make_spec("dashboards.provisioned", timeout=2),
            make_record("dashboards.provisioned"), total=1, clock=fake_clock.clock,
        )  # fmt: skip

    message = str(caught.value)
    assert message.startswith(
        "dashboards.provisioned FAILED after 2.0s (5 attempts): dashboard todo-overview"
    )
    assert "uid todo-overview is not among the 1 dashboards Grafana's search lists" in message
    assert "look next: the dashboard ConfigMaps and the Grafana sidecar's log" in message


def test_dashboard_loaded_with_other_panels_is_a_failure(fake_clock: FakeClock) -> None:
    stale = {**BOARD, "panels": BOARD["panels"][:1]}
    double = GrafanaDouble(dashboards={"todo-overview": stale})

    with pytest.raises(CheckFailed, match=r"loads with 1 panels, todo-overview\.json has 2"):
        checks.dashboard_provisioned(
            grafana(double), DASHBOARD, make_spec("dashboards.provisioned", timeout=1),
            make_record("dashboards.provisioned"), total=1, clock=fake_clock.clock,
        )  # fmt: skip


# -- dashboards.panels_have_data --------------------------------------------------------------------------


def answers(kind: str) -> Any:
    def respond(query: Mapping[str, Any]) -> dict[str, Any]:
        ref = str(query["refId"])
        if kind == "data":
            if query["datasource"]["type"] == "loki":
                return log_frames(ref, ["a line"])
            return series_frames(ref, [({"pod": "todo-backend-1"}, [0.1, 0.2])])
        if kind == "empty":
            return empty_result(ref)
        return error_result('bad_data: parse error: unexpected "}"')

    return respond


@pytest.mark.parametrize("panel_index", [0, 1], ids=["prometheus", "loki"])
def test_panel_with_data_passes(fake_clock: FakeClock, panel_index: int) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": BOARD}, ds_query=answers("data"))
    record = make_record("dashboards.panels_have_data")
    spec = make_spec("dashboards.panels_have_data", variables={"namespace": "shop"}, range="now-15m")

    described = checks.panel_has_data(
        grafana(double),
        DASHBOARD,
        BOARD["panels"][panel_index],
        spec,
        record,
        total=2,
        clock=fake_clock.clock,
    )

    assert described.startswith("A: 1 series")
    assert [c.path for c in double.calls] == ["/api/dashboards/uid/todo-overview", "/api/ds/query"]
    sent = double.ds_queries[0]
    assert 'namespace="shop"' in sent["expr"]  # the profile's variables win over the dashboard's
    assert double.calls[1].json()["from"] == "now-15m"
    assert record.measured == 1


@pytest.mark.parametrize(
    ("kind", "words"), [("empty", "A: no data"), ("error", "A: error bad_data: parse error")]
)
def test_panel_without_data_fails(fake_clock: FakeClock, kind: str, words: str) -> None:
    double = GrafanaDouble(dashboards={"todo-overview": BOARD}, ds_query=answers(kind))
    spec = make_spec("dashboards.panels_have_data", variables={}, range="now-15m", timeout=3)
    record = make_record("dashboards.panels_have_data")

    with pytest.raises(CheckFailed) as caught:
        checks.panel_has_data(
            grafana(double), DASHBOARD, BOARD["panels"][0], spec, record, total=2, clock=fake_clock.clock
        )

    message = str(caught.value)
    assert "panel todo-overview/1 'CPU' returns data for now-15m..now" in message
    assert words in message
    assert 'rate(cpu{namespace="todo"}[5m])' in message  # the query is in the last observation
    assert record.measured is None


def test_panel_without_queries_is_not_verifiable(fake_clock: FakeClock) -> None:
    spec = make_spec("dashboards.panels_have_data", variables={}, range="now-15m")

    text_panel = {"id": 9, "type": "text"}
    served = {**BOARD, "panels": [*BOARD["panels"], text_panel]}

    with pytest.raises(NotVerifiable, match="no visible query"):
        checks.panel_has_data(
            grafana(GrafanaDouble(dashboards={"todo-overview": served})),
            DASHBOARD,
            text_panel,
            spec,
            make_record("dashboards.panels_have_data"),
            total=1,
            clock=fake_clock.clock,
        )


# -- grafana.ready_within_30s ----------------------------------------------------------------------------


def ready(
    fake_clock: FakeClock,
    *,
    t0: float | None,
    health_after: float | None = None,
    timeout: float = 120,
    **double_options: Any,
) -> tuple[float, Any]:
    double = GrafanaDouble(
        dashboards={"todo-overview": BOARD}, health_after=health_after, clock=fake_clock, **double_options
    )
    record = make_record("grafana.ready_within_30s")
    spec = make_spec("grafana.ready_within_30s", threshold=30, timeout=timeout)
    measured = checks.ready_within(
        grafana(double), t0, "--deployed-at 2026-11-27T10:00:00Z", "todo-overview", spec, record,
        clock=fake_clock.clock, wall=fake_clock.now,
    )  # fmt: skip
    return measured, record


def test_no_t0_is_not_verified(fake_clock: FakeClock) -> None:
    with pytest.raises(NotVerifiable, match=r"^no deployment start time: pass --deployed-at$"):
        ready(fake_clock, t0=None)


def test_ready_after_t0_within_the_threshold_passes(fake_clock: FakeClock) -> None:
    measured, record = ready(fake_clock, t0=fake_clock.now(), health_after=12.2)

    assert measured == pytest.approx(12.5)  # the first probe after 12.2 s, to one interval
    assert record.measured == measured
    assert record.message.startswith("ready 12.5s after t0")


def test_ready_later_than_the_threshold_fails(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed) as caught:
        ready(fake_clock, t0=fake_clock.now() - 5, health_after=40, unhealthy="failing")

    message = str(caught.value)
    assert message.startswith("grafana.ready_within_30s FAILED: Grafana became ready 45.0s after t0")
    assert "more than 30s" in message


def test_already_ready_with_an_old_t0_is_not_verified(fake_clock: FakeClock) -> None:
    with pytest.raises(NotVerifiable) as caught:
        ready(fake_clock, t0=fake_clock.now() - 100)

    message = str(caught.value)
    assert "already ready at the first probe, 100.0s after t0" in message
    assert "[0, 100.0]s" in message


def test_already_ready_with_a_recent_t0_is_a_proven_pass(fake_clock: FakeClock) -> None:
    measured, record = ready(fake_clock, t0=fake_clock.now() - 10)

    assert measured == 10.0
    assert "the real figure is at most 10.0s" in record.as_dict()["message"]


def test_t0_after_the_first_probe_is_not_verified(fake_clock: FakeClock) -> None:
    with pytest.raises(NotVerifiable, match="clocks disagree"):
        ready(fake_clock, t0=fake_clock.now() + 50)


def test_never_ready_fails_after_the_budget(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed) as caught:
        ready(fake_clock, t0=fake_clock.now(), health_after=1000, timeout=20)

    message = str(caught.value)
    assert message.startswith("grafana.ready_within_30s FAILED after 20.0s (41 attempts)")
    assert "connection refused" in message


def test_unauthorized_ends_the_wait_at_once(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed) as caught:
        ready(fake_clock, t0=fake_clock.now(), credentials=("admin", "other"))

    message = str(caught.value)
    assert "FAILED at once after 0.0s (1 attempts, unrecoverable)" in message
    assert "401" in message


def test_overview_uid_is_the_dashboard_most_requirements_point_to(tmp_path: Path) -> None:
    (tmp_path / "requirements.yaml").write_text(
        "requirements:\n"
        "  metrics.cpu: {dashboard: main, panel_id: 1}\n"
        "  metrics.memory: {dashboard: main, panel_id: 2}\n"
        "  logs.todo_backend: {dashboard: logs, panel_id: 1}\n"
    )

    assert checks.overview_uid(tmp_path) == "main"
