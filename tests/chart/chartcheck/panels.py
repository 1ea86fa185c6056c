"""Required panels (dashboards/requirements.yaml): they exist, and their queries would return data.

PromQL panels are evaluated by promtool over input series shaped like kube-prometheus-stack's (see
:func:`tests.chart.chartcheck.promql.check_nonempty`). Logs panels are LogQL: their stream
selectors must use labels the Alloy pipeline sets and select the Todo backend's stream (derived from the
Alloy config by :func:`tests.chart.chartcheck.logs.todo_stream`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitoring_conformance.dashboards import REQUIREMENTS_FILE, load_requirements, resolve_requirements
from monitoring_conformance.errors import UsageError
from monitoring_conformance.tools.helm_offline import load_yaml
from tests.chart.chartcheck.dashboards import queries
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.promql import Query
from tests.chart.chartcheck.vectors import vector_selectors


@dataclass
class RequiredQueries:
    """The queries of the required panels, by language, and the requirements that do not resolve."""

    promql: list[Query] = field(default_factory=list)
    logql: list[Query] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def required_queries(dashboards_dir: Path, variables: Mapping[str, str] | None = None) -> RequiredQueries:
    """Each required panel's queries (variables filled in), labelled with the requirement id."""
    found = RequiredQueries()
    resolved, problems = resolve_requirements(dashboards_dir)
    requirements = str(dashboards_dir / REQUIREMENTS_FILE)
    found.findings += [Finding(requirements, "requirements", problem) for problem in problems]
    for req_id, (dashboard, panel) in sorted(resolved.items()):
        chosen = [(dashboard, panel)]
        promql = queries([], "prometheus", variables=variables, panels=chosen)
        logql = queries([], "loki", variables=variables, panels=chosen)
        if not promql and not logql:
            found.findings.append(
                Finding(
                    str(dashboard.path), f"{req_id}: panel {panel.get('id')}", "has no PromQL/LogQL query"
                )
            )
        found.promql += [dataclasses.replace(q, where=f"{req_id}: {q.where}") for q in promql]
        found.logql += [dataclasses.replace(q, where=f"{req_id}: {q.where}") for q in logql]
    return found


def load_requirement_expectations(path: Path) -> dict[str, dict[str, Any]]:
    """``requirements:`` of an expectations file: requirement id -> {datasource, metrics | panel_type}."""
    data = load_yaml(path)
    entries = data.get("requirements") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        raise UsageError(
            f"{path}: expected `requirements:` mapping each id to {{datasource, metrics|panel_type}}"
        )
    return {str(k): dict(v) for k, v in entries.items()}


def _panel_metrics(promql: list[Query]) -> set[str]:
    names: set[str] = set()
    for query in promql:
        try:
            names |= {s.metric for s in vector_selectors(query.expr) if s.metric}
        except ValueError:
            continue  # the selector check reports unreadable expressions
    return names


def check_requirement_panels(
    dashboards_dir: Path, expectations: Mapping[str, Mapping[str, Any]]
) -> list[Finding]:
    """Each requirement's panel shows what the requirement is about: its metric family, or Loki logs."""
    requirements = str(dashboards_dir / REQUIREMENTS_FILE)
    resolved, problems = resolve_requirements(dashboards_dir)
    findings = [Finding(requirements, "requirements", problem) for problem in problems]
    for req_id in sorted(set(expectations) - set(load_requirements(dashboards_dir))):
        findings.append(Finding(requirements, req_id, "is expected but not mapped to a panel"))
    for req_id, (dashboard, panel) in sorted(resolved.items()):
        expected = expectations.get(req_id)
        where = f"{req_id}: panel {panel.get('id')} {str(panel.get('title') or '')!r}"
        if expected is None:
            findings.append(
                Finding(requirements, req_id, "has no entry in the expectations of what it must show")
            )
            continue
        chosen = [(dashboard, panel)]
        if expected.get("datasource") == "loki":
            logql = queries([], "loki", panels=chosen)
            kind = expected.get("panel_type", "logs")
            if panel.get("type") != kind or not logql:
                findings.append(
                    Finding(
                        str(dashboard.path),
                        where,
                        f"is a {panel.get('type')!r} panel with {len(logql)} Loki queries; "
                        f"{req_id} needs a {kind!r} panel querying Loki",
                    )
                )
            continue
        wanted = [str(m) for m in expected.get("metrics") or []]
        used = _panel_metrics(queries([], "prometheus", panels=chosen))
        if not used & set(wanted):
            findings.append(
                Finding(
                    str(dashboard.path),
                    where,
                    f"queries {sorted(used) or 'no metric'}; {req_id} needs "
                    f"{' or '.join(wanted)} (mapped in {REQUIREMENTS_FILE})",
                )
            )
    return findings
