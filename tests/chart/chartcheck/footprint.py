"""The footprint tables of the READMEs, compared with the requests computed from each scenario's values.

A table sits under a heading ``Footprint`` (any level) with one row per scenario: the scenario's file name
in backticks in the first cell, then the CPU and memory requests as ``format_cpu``/``format_memory`` write
them. Rows are matched by file name; every computed scenario needs a row and every row a scenario.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tests.chart.chartcheck.budget import Budget, format_cpu, format_memory
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.markdown import section_lines

TITLE = "Footprint"
HEADING = f"## {TITLE}"
_ROW = re.compile(r"^\|\s*`([^`]+)`[^|]*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|")


def footprint_rows(readme: str) -> dict[str, tuple[str, str]]:
    """Scenario file name -> (CPU cell, memory cell) from the table under HEADING (empty when absent)."""
    rows: dict[str, tuple[str, str]] = {}
    for line in section_lines(readme, TITLE):
        match = _ROW.match(line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def check_footprint(readme: str, budgets: Mapping[str, Budget], source: str) -> list[Finding]:
    """A finding for each scenario whose README row is missing or disagrees with the computed figures."""
    rows = footprint_rows(readme)
    findings: list[Finding] = []
    if not rows:
        return [Finding(source, HEADING, "no table with a row per scenario under this heading")]
    for scenario, budget in budgets.items():
        expected = (format_cpu(budget.cpu), format_memory(budget.memory))
        row = rows.get(scenario)
        if row is None:
            findings.append(
                Finding(
                    source, HEADING, f"has no row for `{scenario}` (computed: {expected[0]}, {expected[1]})"
                )
            )
        elif row != expected:
            findings.append(
                Finding(
                    source,
                    f"{HEADING} `{scenario}`",
                    f"says {row[0]} CPU, {row[1]} memory; the values request {expected[0]}, {expected[1]}",
                )
            )
    findings += [
        Finding(source, f"{HEADING} `{name}`", "is a row for no scenario the chart tier computes")
        for name in rows
        if name not in budgets
    ]
    return findings
