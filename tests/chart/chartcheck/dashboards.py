"""Checks of charts/monitoring/dashboards/*.json as data: identity, datasources, and their queries.

The queries themselves are handed to promtool by :mod:`tests.chart.chartcheck.promql`; this module
decides which queries are PromQL and which are LogQL, and fills in the dashboard variables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from monitoring_conformance.dashboards import (
    Dashboard,
    dashboard_files,
    default_variables,
    iter_panels,
    load_dashboard,
    panel_targets,
    substitute,
    target_datasource,
    template_variables,
)
from monitoring_conformance.errors import UsageError
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.logql import selector_matches, stream_selectors
from tests.chart.chartcheck.promql import Query
from tests.chart.chartcheck.values import lookup

#: The datasource uids the chart provisions, and their types.
PROVISIONED = {"prometheus": "prometheus", "loki": "loki"}
MIXED = "-- Mixed --"
_VARIABLE_REF = re.compile(r"^\$\{?(\w+)\}?$")


def load_all(directory: Path) -> tuple[list[Dashboard], list[Finding]]:
    """Every dashboard that parses, and a finding for each file that does not."""
    dashboards: list[Dashboard] = []
    findings: list[Finding] = []
    for path in dashboard_files(directory):
        try:
            dashboards.append(load_dashboard(path))
        except UsageError as exc:
            findings.append(Finding(str(path), "", str(exc).removeprefix(f"{path}: ")))
    return dashboards, findings


def check_identity(dashboards: Sequence[Dashboard]) -> list[Finding]:
    """uid = file stem, ``id`` null, non-empty titles, unique uids and titles across files."""
    findings: list[Finding] = []
    seen_uids: dict[str, Path] = {}
    seen_titles: dict[str, Path] = {}
    for dashboard in dashboards:
        file = str(dashboard.path)
        stem = dashboard.path.stem
        if dashboard.uid != stem:
            findings.append(
                Finding(file, "uid", f"uid is {dashboard.uid!r}, must equal the file name {stem!r}")
            )
        if dashboard.data.get("id") is not None:
            findings.append(
                Finding(file, "id", f"id is {dashboard.data['id']!r}, must be null (Grafana assigns ids)")
            )
        if not dashboard.title:
            findings.append(Finding(file, "title", "title is empty"))
        for value, seen, what in ((dashboard.uid, seen_uids, "uid"), (dashboard.title, seen_titles, "title")):
            if value and value in seen:
                findings.append(
                    Finding(file, what, f"duplicate {what} {value!r}: also in {seen[value].name}")
                )
            elif value:
                seen[value] = dashboard.path
    return findings


def _datasource_variables(dashboard: Dashboard) -> dict[str, str]:
    """name -> plugin type (``prometheus``/``loki``) of every datasource-type template variable."""
    return {
        str(v["name"]): str(v.get("query") or "")
        for v in template_variables(dashboard.data)
        if v.get("type") == "datasource"
    }


def datasource_type(dashboard: Dashboard, ref: Any) -> tuple[str | None, str | None]:
    """(type, problem) of a datasource reference: type ``prometheus``/``loki``/``mixed``, or a problem."""
    if ref is None:
        return "prometheus", None  # no reference: Grafana's default datasource, the provisioned Prometheus
    if isinstance(ref, dict):
        uid = ref.get("uid")
        declared = ref.get("type")
    elif isinstance(ref, str):
        uid, declared = ref, None
    else:
        return None, f"datasource {ref!r} is neither a {{type, uid}} object nor a string"
    uid = str(uid) if uid is not None else ""
    if uid == MIXED:
        return "mixed", None
    variable = _VARIABLE_REF.match(uid)
    if variable:
        plugin = _datasource_variables(dashboard).get(variable.group(1))
        if plugin is None:
            return None, f"datasource {uid!r} names no datasource variable of this dashboard"
        if plugin not in PROVISIONED.values():
            return (
                None,
                f"datasource variable ${variable.group(1)} is of type {plugin!r}, not prometheus/loki",
            )
        resolved = plugin
    elif uid in PROVISIONED:
        resolved = PROVISIONED[uid]
    else:
        return None, f"unknown datasource uid {uid!r}: use 'prometheus', 'loki' or a datasource variable"
    if declared is not None and declared != resolved:
        return (
            None,
            f"datasource uid {uid!r} is a {resolved} datasource but the reference says type {declared!r}",
        )
    return resolved, None


def where(panel: Mapping[str, Any], target: Mapping[str, Any] | None = None) -> str:
    text = f"panel {panel.get('id')} {str(panel.get('title') or '')!r}"
    if target is not None:
        text += f" target {target.get('refId') or '?'}"
    return text


def check_datasources(dashboards: Sequence[Dashboard]) -> list[Finding]:
    """Panel- and target-level datasources name only the provisioned uids or a datasource variable."""
    findings: list[Finding] = []
    for dashboard in dashboards:
        for panel in iter_panels(dashboard.data):
            panel_type, problem = datasource_type(dashboard, panel.get("datasource"))
            if problem:
                findings.append(Finding(str(dashboard.path), where(panel), problem))
            for target in panel_targets(panel):
                if "datasource" not in target:
                    if panel_type == "mixed":
                        findings.append(
                            Finding(
                                str(dashboard.path),
                                where(panel, target),
                                "mixed panel: target has no datasource",
                            )
                        )
                    continue
                _, problem = datasource_type(dashboard, target.get("datasource"))
                if problem:
                    findings.append(Finding(str(dashboard.path), where(panel, target), problem))
    return findings


def queries(
    dashboards: Iterable[Dashboard],
    kind: str,
    *,
    variables: Mapping[str, Any] | None = None,
    panels: Iterable[tuple[Dashboard, Mapping[str, Any]]] | None = None,
) -> list[Query]:
    """Every query of datasource type ``kind`` (prometheus/loki), its dashboard's variables filled in.

    ``variables`` override the dashboard's own current values.
    """
    chosen = panels if panels is not None else ((d, p) for d in dashboards for p in iter_panels(d.data))
    found: list[Query] = []
    for dashboard, panel in chosen:
        values = {**default_variables(dashboard.data), **(variables or {})}
        for target in panel_targets(panel):
            resolved, _ = datasource_type(dashboard, target_datasource(panel, target))
            expr = target.get("expr")
            if resolved == kind and isinstance(expr, str) and expr.strip() and not target.get("hide"):
                found.append(Query(str(dashboard.path), where(panel, target), substitute(expr, values)))
    return found


def check_log_queries(
    log_queries: Sequence[Query], stream_labels: Iterable[str], app_stream: Mapping[str, str] | None = None
) -> list[Finding]:
    """LogQL selectors use only labels Alloy sets and (when given) select the stream ``app_stream``."""
    allowed = set(stream_labels)
    findings: list[Finding] = []
    for query in log_queries:
        try:
            selectors = stream_selectors(query.expr)
        except ValueError as exc:
            findings.append(query.finding(f"LogQL does not parse: {exc}"))
            continue
        if not selectors:
            findings.append(query.finding("LogQL query has no stream selector {...}"))
        for matchers in selectors:
            unknown = sorted({m.label for m in matchers} - allowed)
            if unknown:
                findings.append(
                    query.finding(
                        f"stream selector uses label(s) {unknown} that Alloy does not set "
                        f"(it sets {sorted(allowed)})"
                    )
                )
            elif app_stream is not None and not selector_matches(matchers, app_stream):
                findings.append(
                    query.finding(
                        f"stream selector does not match the Todo backend's stream {dict(app_stream)}"
                    )
                )
    return findings


def check_namespace_variable(
    dashboards: Sequence[Dashboard], values: Mapping[str, Any], source: str, *, variable: str = "namespace"
) -> list[Finding]:
    """Each dashboard's ``namespace`` variable defaults to ``todoBackend.namespace`` of the values.

    The dashboards are plain JSON (never templated), so a values change cannot reach them: this check is
    what notices that the panels would show another namespace than the one Prometheus scrapes.
    """
    namespace = lookup(values, "todoBackend.namespace")
    findings: list[Finding] = []
    for dashboard in dashboards:
        default = default_variables(dashboard.data).get(variable)
        if default is not None and default != namespace:
            findings.append(
                Finding(
                    str(dashboard.path),
                    f"templating {variable}",
                    f"defaults to {default!r}, but todoBackend.namespace is {namespace!r} in {source}: "
                    f"the panels would show another namespace; set the variable's current value and options "
                    f"to {namespace!r} (or keep the namespace at {default!r})",
                )
            )
    return findings
