"""The dashboard Grafana serves, compared with the chart's file: what the dashboard checks rely on.

Grafana may serve an older or edited copy of a dashboard (a stale ConfigMap, a manual edit saved over the
provisioned one). The panel checks therefore run the queries of the *served* model, and
dashboards.provisioned names every panel whose queries differ from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitoring_conformance import dashboards
from monitoring_conformance.api.panels import resolve_datasource

#: (refId, expr, datasource uid) of one panel query.
TargetKey = tuple[str, str, str]


def panel_name(panel: Mapping[str, Any]) -> str:
    """``panel 4 'Request rate'``."""
    return f"panel {panel.get('id')} {str(panel.get('title', ''))!r}"


def target_keys(
    panel: Mapping[str, Any], variables: Mapping[str, dashboards.VariableValue]
) -> list[TargetKey]:
    """Each query of ``panel`` as (refId, expr, datasource uid); a missing refId is its position (#1...)."""
    keys = []
    for index, target in enumerate(dashboards.panel_targets(panel)):
        ref = str(target.get("refId") or f"#{index + 1}")
        _, uid = resolve_datasource(dashboards.target_datasource(panel, target), variables)
        keys.append((ref, str(target.get("expr", "")), uid))
    return keys


def differences(file_model: Mapping[str, Any], served_model: Mapping[str, Any]) -> list[str]:
    """One line per panel query of the file that Grafana serves differently (expr or datasource uid),
    lacks, or serves in addition; panels are matched by id."""
    file_vars = dashboards.default_variables(file_model)
    served_vars = dashboards.default_variables(served_model)
    served_panels = {p.get("id"): p for p in dashboards.iter_panels(served_model)}
    found: list[str] = []
    for panel in dashboards.iter_panels(file_model):
        if not dashboards.panel_targets(panel):
            continue
        name = panel_name(panel)
        served = served_panels.get(panel.get("id"))
        if served is None:
            found.append(f"{name} is missing from the dashboard Grafana serves")
            continue
        want = {key[0]: key for key in target_keys(panel, file_vars)}
        got = {key[0]: key for key in target_keys(served, served_vars)}
        for ref in sorted(want.keys() | got.keys()):
            if ref not in got:
                found.append(f"{name}: query {ref} is missing in Grafana")
            elif ref not in want:
                found.append(f"{name}: query {ref} is served by Grafana but not in the file")
            else:
                found += _compare(name, ref, want[ref], got[ref])
    return found


def _compare(name: str, ref: str, want: TargetKey, got: TargetKey) -> list[str]:
    lines = []
    if want[1] != got[1]:
        lines.append(f"{name}: query {ref} expr is {got[1]!r} in Grafana, {want[1]!r} in the file")
    if want[2] != got[2]:
        lines.append(f"{name}: query {ref} datasource uid is {got[2]!r} in Grafana, {want[2]!r} in the file")
    return lines
