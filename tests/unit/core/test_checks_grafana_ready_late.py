"""grafana.ready_within_30s at check level, on the polling path, with an injected clock: a Grafana that
becomes healthy 31 s after t0 fails, and one that becomes healthy at 29 s passes.

GrafanaDouble refuses connections on /api/health until ``health_after`` seconds of the fake clock have
passed; the check's poll sleeps on the same clock, so no real time passes.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.doubles import FakeClock, GrafanaDouble
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks import grafana as checks
from monitoring_conformance.checks.base import CheckFailed
from monitoring_conformance.fixtures import DASHBOARD_DIR
from monitoring_conformance.requirement import Record

pytestmark = pytest.mark.unit

BOARD: dict[str, Any] = {"uid": "todo-overview", "title": "Todo Backend / Overview", "panels": []}
T0_SOURCE = "--deployed-at 2026-11-27T10:00:00Z"
START = FakeClock().now()  # where every FakeClock starts


def run_ready(fake_clock: FakeClock, health_after: float, record: Record) -> float:
    double = GrafanaDouble(dashboards={"todo-overview": BOARD}, health_after=health_after, clock=fake_clock)
    spec = make_spec("grafana.ready_within_30s", threshold=30, timeout=120, interval=0.5)
    t0 = fake_clock.now()  # the deployment starts now; the check polls from the first moment
    return checks.ready_within(
        Grafana(double.endpoint(name="Grafana")), t0, T0_SOURCE, "todo-overview", spec, record,
        clock=fake_clock.clock, wall=fake_clock.now,
    )  # fmt: skip


def test_grafana_ready_after_31_seconds_fails_with_the_figure(fake_clock: FakeClock) -> None:
    record = make_record("grafana.ready_within_30s")

    with pytest.raises(CheckFailed) as caught:
        run_ready(fake_clock, 31, record)

    message = str(caught.value)
    assert message.startswith("grafana.ready_within_30s FAILED: Grafana became ready 31.")
    assert "s after t0 (--deployed-at 2026-11-27T10:00:00Z), more than 30s" in message
    assert isinstance(record.measured, float)
    assert 31.0 <= record.measured <= 31.5  # tight to one poll interval (0.5 s)
    assert fake_clock.now() - START <= 31.5  # the poll stopped at success: no waiting out the budget


def test_grafana_ready_after_29_seconds_passes(fake_clock: FakeClock) -> None:
    record = make_record("grafana.ready_within_30s")

    measured = run_ready(fake_clock, 29, record)

    assert 29.0 <= measured <= 29.5
    assert record.measured == measured
    assert record.threshold == 30


def test_the_overview_uid_served_here_is_the_one_the_suite_asks_for() -> None:
    assert checks.overview_uid(DASHBOARD_DIR) == BOARD["uid"]
