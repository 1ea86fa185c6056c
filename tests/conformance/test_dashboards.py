"""dashboards.*: every dashboard of charts/monitoring/dashboards is in Grafana, and every panel has data.

Parametrized from the chart's files: a dashboard or panel added to the chart is checked without a change
here.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitoring_conformance import dashboards
from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.checks import grafana as checks
from monitoring_conformance.fixtures import DASHBOARD_DIR
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record, requirement

DASHBOARDS = dashboards.load_dashboards(DASHBOARD_DIR)
PANELS = [
    (dashboard, panel)
    for dashboard in DASHBOARDS
    for panel in dashboards.iter_panels(dashboard.data)
    if dashboards.panel_targets(panel)
]


@requirement("dashboards.provisioned")
@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=[d.uid for d in DASHBOARDS])
def test_dashboard_is_provisioned(
    grafana: Grafana, dashboard: dashboards.Dashboard, spec: Spec, record: Record
) -> None:
    checks.dashboard_provisioned(grafana, dashboard, spec, record, total=len(DASHBOARDS))


@requirement("dashboards.panels_have_data")
@pytest.mark.parametrize(
    ("dashboard", "panel"), PANELS, ids=[f"{d.uid}/{p.get('id')}" for d, p in PANELS]
)
def test_every_panel_returns_data(
    grafana: Grafana,
    dashboard: dashboards.Dashboard,
    panel: dict[str, Any],
    spec: Spec,
    record: Record,
) -> None:
    checks.panel_has_data(grafana, dashboard, panel, spec, record, total=len(PANELS))
