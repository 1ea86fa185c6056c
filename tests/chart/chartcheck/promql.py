"""PromQL through promtool: does each expression parse, and does it return series over given input?

promtool 2.42 has no ``check expr``. Parsing: every expression becomes a recording rule ``mc:expr:<n>`` in
one rules file, and ``promtool check rules`` names the failing rule. Evaluation: every expression becomes a
``promql_expr_test`` of ``label_replace((count(EXPR) > bool 0) or vector(0), "mc_check", "<n>", "", "")``
expecting the value 1 - an empty result yields 0 and the test fails naming ``<n>``. One promtool run per
batch, whatever the number of expressions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitoring_conformance.errors import UsageError
from monitoring_conformance.tools.helm_offline import load_yaml
from tests.chart.chartcheck.findings import Finding
from tests.chart.chartcheck.promtool import Promtool

EVAL_TIME = "10m"
_RULE_ERROR = re.compile(r'"mc:expr:(\d+)": (.*)$')
_CHECK_KEY = re.compile(r'mc_check\\?", \\?"q(\d+)\\?"')


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it came from."""

    file: str
    where: str
    expr: str

    def finding(self, message: str) -> Finding:
        return Finding(self.file, self.where, f"{message} in `{self.expr}`")


@dataclass(frozen=True)
class SeriesFile:
    """Input series for ``promtool test rules``: scrape interval and ``input_series`` entries."""

    path: Path
    interval: str
    input_series: list[dict[str, Any]]


def load_series(path: Path) -> SeriesFile:
    data = load_yaml(path)
    series = data.get("input_series") if isinstance(data, dict) else None
    if not isinstance(series, list) or not all(isinstance(s, dict) and "series" in s for s in series):
        raise UsageError(
            f"{path}: expected `input_series:` as a list of {{series, values}} (promtool's format)"
        )
    return SeriesFile(path, str(data.get("interval") or "15s"), series)


def check_parse(promtool: Promtool, queries: Sequence[Query], workdir: Path) -> list[Finding]:
    """A finding for every expression that promtool cannot parse."""
    if not queries:
        return []
    rules = [{"record": f"mc:expr:{n}", "expr": q.expr} for n, q in enumerate(queries)]
    path = workdir / "mc-parse-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "mc-parse", "rules": rules}]}), encoding="utf-8")
    run = promtool.check_rules([path])
    if run.ok:
        return []
    findings = []
    for line in run.output.splitlines():
        match = _RULE_ERROR.search(line)
        if match:
            query = queries[int(match.group(1))]
            findings.append(query.finding(f"PromQL does not parse: {match.group(2).strip()}"))
    if not findings:
        findings.append(Finding(str(path), "promtool check rules", f"failed: {run.tail()}"))
    return findings


def nonempty_test_file(
    queries: Sequence[Query], series: SeriesFile, *, eval_time: str = EVAL_TIME
) -> dict[str, Any]:
    """The ``promtool test rules`` document asserting that each query returns at least one series."""
    tests = [
        {
            "expr": f'label_replace((count({q.expr}) > bool 0) or vector(0), "mc_check", "q{n}", "", "")',
            "eval_time": eval_time,
            "exp_samples": [{"labels": f'{{mc_check="q{n}"}}', "value": 1}],
        }
        for n, q in enumerate(queries)
    ]
    group = {"interval": series.interval, "input_series": series.input_series, "promql_expr_test": tests}
    return {"rule_files": [], "evaluation_interval": "1m", "tests": [group]}


def check_nonempty(
    promtool: Promtool,
    queries: Sequence[Query],
    series: SeriesFile,
    workdir: Path,
    *,
    eval_time: str = EVAL_TIME,
) -> list[Finding]:
    """A finding for every query that returns no series (or fails) over ``series`` at ``eval_time``."""
    if not queries:
        return []
    path = workdir / "mc-nonempty-test.yaml"
    path.write_text(
        yaml.safe_dump(nonempty_test_file(queries, series, eval_time=eval_time)), encoding="utf-8"
    )
    run = promtool.test_rules([path])
    if run.ok:
        return []
    findings: list[Finding] = []
    lines = run.output.splitlines()
    for index, line in enumerate(lines):
        match = _CHECK_KEY.search(line)
        if not match or "expr:" not in line:
            continue
        query = queries[int(match.group(1))]
        if "err:" in line:
            error = line.split("err:", 1)[1].strip()
            findings.append(query.finding(f"PromQL fails to evaluate: {error}"))
        else:
            got = next((rest.strip() for rest in lines[index + 1 : index + 3] if "got:" in rest), "")
            findings.append(
                query.finding(f"returns no series over the input series of {series.path.name} ({got})")
            )
    if not findings:
        findings.append(Finding(str(path), "promtool test rules", f"failed: {run.tail()}"))
    return findings
