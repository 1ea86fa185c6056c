"""promql-parser reads every PromQL query the project ships (it is the chart tier's vector-selector reader).

Dashboards (their default variables filled, as the chart tier and the suite fill them), the chart's rules, and
every profile's ``query``, ``counter`` and ``queries`` (bound as a run binds them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from monitoring_conformance import profile as profiles
from monitoring_conformance import resources
from monitoring_conformance.tools.helm_offline import load_yaml
from tests.chart.chartcheck.dashboards import load_all, queries
from tests.chart.chartcheck.rules import rule_files
from tests.chart.chartcheck.vectors import vector_selectors
from tests.chart.support import CHART

pytestmark = pytest.mark.chart

RUN_VARIABLES = {"app_namespace": "todo", "monitoring_namespace": "monitoring", "release": "monitoring",
                 "rate_window": "1m"}  # fmt: skip


def shipped_queries() -> list[tuple[str, str]]:
    dashboards, _ = load_all(CHART / "dashboards")
    found = [(f"{Path(q.file).name} {q.where}", q.expr) for q in queries(dashboards, "prometheus")]
    for path in rule_files(CHART):
        for group in load_yaml(path)["groups"]:
            found += [
                (f"{path.name} {r.get('alert') or r.get('record')}", str(r["expr"])) for r in group["rules"]
            ]
    for path in sorted(resources.PROFILES.glob("*.yaml")):
        profile = profiles.load(str(path)).bind(RUN_VARIABLES)
        for rid, spec in profile.requirements.items():
            found += [(f"{path.name} {rid}.{key}", expr) for key, expr in _promql(spec.options)]
    return found


def _promql(options: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``query``/``counter`` strings and ``queries`` mappings, at any depth (e.g. ``restarts.query``)."""
    found: list[tuple[str, str]] = []
    for key, value in options.items():
        if key in ("query", "counter") and isinstance(value, str):
            found.append((prefix + key, value))
        elif key == "queries" and isinstance(value, Mapping):
            found += [(f"{prefix}{key}.{name}", str(expr)) for name, expr in value.items()]
        elif isinstance(value, Mapping):
            found += _promql(value, f"{prefix}{key}.")
    return found


SHIPPED = shipped_queries()


def test_queries_come_from_every_dashboard_rule_file_and_profile() -> None:
    sources = {where.split(" ", 1)[0] for where, _ in SHIPPED}
    expected = {p.name for p in (CHART / "dashboards").glob("*.json")} | {p.name for p in rule_files(CHART)}
    expected |= {p.name for p in resources.PROFILES.glob("*.yaml")}
    # todo-logs.json holds LogQL only (read by the tokenizer in chartcheck/logql.py)
    assert sources == expected - {"todo-logs.json"}


@pytest.mark.parametrize(("where", "expr"), SHIPPED, ids=[where for where, _ in SHIPPED])
def test_promql_parser_reads_the_shipped_query(where: str, expr: str) -> None:
    assert "${" not in expr, f"{where}: unbound variable in {expr}"
    assert vector_selectors(expr), f"{where}: no vector selector in {expr}"
