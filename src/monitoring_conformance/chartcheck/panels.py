"""Required panels (dashboards/requirements.yaml): they exist, and their queries would return data.

PromQL panels are evaluated by promtool over input series shaped like kube-prometheus-stack's (see
:func:`monitoring_conformance.chartcheck.promql.check_nonempty`). Logs panels are LogQL: their stream
selectors must use labels the Alloy pipeline sets and select the Todo backend's stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitoring_conformance.chartcheck.dashboards import queries
from monitoring_conformance.chartcheck.findings import Finding
from monitoring_conformance.chartcheck.promql import Query
from monitoring_conformance.dashboards import REQUIREMENTS_FILE, resolve_requirements

#: The stream labels Alloy gives the Todo backend's container logs (namespace todo, one pod).
TODO_STREAM = {
    "namespace": "todo",
    "app": "todo-backend",
    "pod": "todo-backend-5c9d8f7b6-r4tkw",
    "container": "todo-backend",
}


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
