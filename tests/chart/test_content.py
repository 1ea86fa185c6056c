"""The rendered dashboards and rule groups are the files in dashboards/ and rules/, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.helm_offline import render_manifests
from tests.chart.chartcheck.content import check_dashboard_content, check_rule_content
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.rules import rule_files
from tests.chart.support import CHART, SCENARIOS, Render

pytestmark = pytest.mark.chart


def _break(template: Path, old: str, new: str) -> None:
    text = template.read_text()
    assert old in text, f"{template.name} no longer holds {old!r}: update this test"
    template.write_text(text.replace(old, new))


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_dashboard_configmaps_hold_the_dashboard_files(render: Render, scenario: str | None) -> None:
    manifests = render(scenario)
    assert sum(1 for m in manifests if m.kind == "ConfigMap") == len(
        list((CHART / "dashboards").glob("*.json"))
    )
    findings = check_dashboard_content(manifests, CHART / "dashboards")
    assert not findings, format_findings(findings)


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_the_prometheus_rule_holds_the_rule_files_groups(render: Render, scenario: str | None) -> None:
    findings = check_rule_content(render(scenario), rule_files(CHART))
    assert not findings, format_findings(findings)


def test_a_template_that_writes_an_empty_dashboard_is_reported(helm: Helm, offline_chart_copy: Path) -> None:
    _break(
        offline_chart_copy / "templates" / "grafana.yaml",
        "{{- $.Files.Get $path | trim | nindent 4 }}",
        "{{- `{}` | nindent 4 }}",
    )
    findings = check_dashboard_content(
        render_manifests(helm, offline_chart_copy), offline_chart_copy / "dashboards"
    )
    assert len(findings) == len(list((offline_chart_copy / "dashboards").glob("*.json")))
    first = findings[0]
    assert first.file == "monitoring/templates/grafana.yaml"
    assert first.where.startswith("ConfigMap/monitoring-dashboard-")
    assert first.where.endswith("data[todo-logs.json]")
    assert first.message.startswith(f"differs from {offline_chart_copy / 'dashboards' / 'todo-logs.json'}: ")
    assert "is missing" in first.message


def test_a_changed_dashboard_value_is_located(helm: Helm, offline_chart_copy: Path) -> None:
    _break(
        offline_chart_copy / "templates" / "grafana.yaml",
        "| trim |",
        '| replace "$namespace" "todo" | trim |',
    )
    findings = check_dashboard_content(
        render_manifests(helm, offline_chart_copy), offline_chart_copy / "dashboards"
    )
    assert "panels[0].targets[0].expr is " in format_findings(findings)


def test_emptied_rule_groups_are_reported(helm: Helm, offline_chart_copy: Path) -> None:
    _break(offline_chart_copy / "templates" / "prometheus.yaml", "{{- toYaml $groups | nindent 4 }}", "[]")
    (finding,) = check_rule_content(
        render_manifests(helm, offline_chart_copy), rule_files(offline_chart_copy)
    )
    assert finding.file == "monitoring/templates/prometheus.yaml"
    assert finding.where.startswith("PrometheusRule/monitoring-todo-backend")
    assert (
        finding.message == "spec.groups differ from todo-backend.yaml: groups [], expected ['todo-backend']"
    )


def test_a_rule_changed_on_the_way_is_located(helm: Helm, offline_chart_copy: Path) -> None:
    rules = offline_chart_copy / "rules" / "todo-backend.yaml"
    manifests = render_manifests(helm, offline_chart_copy)
    _break(rules, "severity: critical", "severity: page")  # the source now differs from what was rendered
    (finding,) = check_rule_content(manifests, rule_files(offline_chart_copy))
    assert 'groups[0].rules[0].labels.severity is "critical" instead of "page"' in finding.message
