"""The chart's alert rules: promtool check rules and promtool test rules, plus their negative cases."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.runner import Result
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.promtool import Promtool
from tests.chart.chartcheck.rules import (
    check_no_namespace_matchers,
    check_rule_files,
    rule_files,
    rule_test_files,
    run_rule_tests,
)
from tests.chart.support import CHART

pytestmark = pytest.mark.chart


def test_chart_has_rules_and_rule_tests() -> None:
    assert rule_files(CHART), "charts/monitoring/rules/*.yaml: none found"
    assert rule_test_files(CHART), "charts/monitoring/tests/rules/*.yaml: none found"


def test_rule_files_pass_promtool_check_rules(promtool: Promtool) -> None:
    findings = check_rule_files(promtool, rule_files(CHART))
    assert not findings, format_findings(findings)


def test_rule_unit_tests_pass(promtool: Promtool) -> None:
    findings = run_rule_tests(promtool, rule_test_files(CHART))
    assert not findings, format_findings(findings)


def test_a_broken_rule_expression_names_the_file_and_rule(promtool: Promtool, chart_copy: Path) -> None:
    path = chart_copy / "rules" / "todo-backend.yaml"
    path.write_text(path.read_text().replace("sum(up{job=", "sum(up{job=~~", 1))
    (finding,) = check_rule_files(promtool, rule_files(chart_copy))
    assert finding.file == str(path)
    assert 'group "todo-backend", rule 1, "TodoBackendDown": could not parse expression' in finding.message


def test_a_second_broken_file_is_reported_separately(promtool: Promtool, chart_copy: Path) -> None:
    extra = chart_copy / "rules" / "extra.yaml"
    extra.write_text("groups:\n  - name: extra\n    rules:\n      - record: bad name\n        expr: up\n")
    findings = check_rule_files(promtool, rule_files(chart_copy))
    assert [f.file for f in findings] == [str(extra)]
    assert "bad name" in findings[0].message


def test_a_failing_rule_unit_test_names_the_test_file(promtool: Promtool, chart_copy: Path) -> None:
    path = chart_copy / "tests" / "rules" / "todo-backend_test.yaml"
    path.write_text(path.read_text().replace("severity: critical", "severity: page", 1))
    (finding,) = run_rule_tests(promtool, rule_test_files(chart_copy))
    assert finding.file == str(path)
    assert "alertname: TodoBackendDown" in finding.message
    assert "page" in finding.message


def test_a_missing_rule_file_is_a_tool_error(promtool: Promtool, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="does not exist"):
        promtool.check_rules([tmp_path / "missing.yaml"])


def test_rules_select_the_backend_without_a_namespace() -> None:
    """The namespace is the value todoBackend.namespace; a plain rule file cannot follow it."""
    findings = check_no_namespace_matchers(rule_files(CHART))
    assert not findings, format_findings(findings)


def test_a_namespace_matcher_in_a_rule_is_reported(chart_copy: Path) -> None:
    path = chart_copy / "rules" / "todo-backend.yaml"
    text = path.read_text()
    path.write_text(
        text.replace(
            '{container="todo-backend", pod=~', '{namespace="todo", container="todo-backend", pod=~', 1
        )
    )
    assert path.read_text() != text
    (finding,) = check_no_namespace_matchers(rule_files(chart_copy))
    assert finding.file == str(path)
    assert finding.where == "group 'todo-backend', rule 3 'TodoBackendCrashLooping'"
    assert finding.message.startswith('selects namespace="todo" in kube_pod_container_status_restarts_total{')
    assert "select it by job, container or pod instead" in finding.message


def test_a_lone_failing_test_file_is_run_once(promtool: Promtool, chart_copy: Path) -> None:
    """Only a batch of several files is re-run file by file to say which failed; one file is its own batch."""
    path = chart_copy / "tests" / "rules" / "todo-backend_test.yaml"
    path.write_text(path.read_text().replace("severity: critical", "severity: page", 1))
    calls: list[tuple[str, ...]] = []

    class CountingRunner:
        def run(self, argv: Sequence[str], **options: Any) -> Result:
            calls.append(tuple(argv))
            return promtool.runner.run(argv, **options)

    (finding,) = run_rule_tests(Promtool(CountingRunner(), promtool.path), [path])
    assert finding.file == str(path)
    assert calls == [(promtool.path, "test", "rules", str(path))]
