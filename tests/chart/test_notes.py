"""templates/NOTES.txt, rendered by `helm install --dry-run=client`, names what the values produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_conformance.tools.helm import Helm
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.notes import check_notes, subchart_fullname
from tests.chart.chartcheck.render import render_notes
from tests.chart.chartcheck.values import merged_values
from tests.chart.support import NAMESPACE, RELEASE, SCENARIOS, source_of

pytestmark = pytest.mark.chart

OVERRIDES = """\
kube-prometheus-stack:
  fullnameOverride: null
  grafana:
    fullnameOverride: dash
    admin: {existingSecret: grafana-admin-credentials}
    service: {port: 3000}
loki:
  fullnameOverride: logs
  loki: {server: {http_listen_port: 3101}}
alloy:
  fullnameOverride: null
"""


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_notes_name_the_services_and_secret_of_the_scenario(
    helm: Helm, offline_chart: Path, scenario: str
) -> None:
    values_file = offline_chart / "ci" / scenario
    notes = render_notes(helm, offline_chart, [values_file], release=RELEASE, namespace=NAMESPACE)
    findings = check_notes(
        notes,
        merged_values(offline_chart, values_file),
        source_of(scenario),
        release=RELEASE,
        namespace=NAMESPACE,
    )
    assert not findings, format_findings(findings) + "\n--- notes:\n" + notes
    assert "kps-prometheus.monitoring.svc:9090" in notes
    assert "get secret grafana " in notes


def test_notes_follow_overridden_names_ports_and_secret(
    helm: Helm, offline_chart: Path, tmp_path: Path
) -> None:
    overrides = tmp_path / "names-values.yaml"
    overrides.write_text(OVERRIDES)
    notes = render_notes(helm, offline_chart, [overrides], release="obs", namespace="observability")
    values = merged_values(offline_chart, overrides)
    assert not check_notes(notes, values, "names-values.yaml", release="obs", namespace="observability"), (
        notes
    )
    for expected in (
        "obs-kube-prometheus-stack-prometheus.observability.svc:9090",
        "obs-kube-prometheus-stack-alertmanager.observability.svc:9093",
        "dash.observability.svc:3000",
        "logs.observability.svc:3101",
        "obs-alloy.observability.svc:12345",
        "get secret grafana-admin-credentials ",
        "port-forward svc/dash 3000:3000",
    ):
        assert expected in notes


def test_kube_prometheus_stack_names_are_cut_at_26_characters() -> None:
    assert subchart_fullname({}, "kube-prometheus-stack", "monitoring", 26) == "monitoring-kube-prometheus"
    assert subchart_fullname({}, "grafana", "my-grafana") == "my-grafana"
    assert subchart_fullname({"fullnameOverride": "kps"}, "kube-prometheus-stack", "x", 26) == "kps"


def test_hard_coded_names_in_the_notes_are_reported(
    helm: Helm, offline_chart_copy: Path, tmp_path: Path
) -> None:
    notes_template = offline_chart_copy / "templates" / "NOTES.txt"
    text = notes_template.read_text()
    notes_template.write_text(text.replace("{{ $lokiName }}.{{ $ns }}.svc", "loki.{{ $ns }}.svc"))
    assert notes_template.read_text() != text
    overrides = tmp_path / "names-values.yaml"
    overrides.write_text(OVERRIDES)
    notes = render_notes(helm, offline_chart_copy, [overrides], release="obs", namespace="observability")
    (finding,) = check_notes(
        notes,
        merged_values(offline_chart_copy, overrides),
        "names-values.yaml",
        release="obs",
        namespace="observability",
    )
    assert (finding.file, finding.where) == ("monitoring/templates/NOTES.txt", "Loki")
    assert finding.message == (
        "should show 'logs.observability.svc:3101', from the values of names-values.yaml "
        "(it says 'Loki          loki.observability.svc:3101')"
    )


def test_a_component_that_is_off_must_not_be_named(helm: Helm, offline_chart: Path, tmp_path: Path) -> None:
    """The kind scenario without Alertmanager: notes that still list one are wrong."""
    values_file = offline_chart / "ci" / "kind-values.yaml"
    off = tmp_path / "no-alertmanager.yaml"
    off.write_text("kube-prometheus-stack:\n  alertmanager: {enabled: false}\n"
                   "  grafana: {sidecar: {datasources: {alertmanager: {enabled: false}}}}\n")
    notes = render_notes(helm, offline_chart, [values_file, off])
    assert "Alertmanager" not in notes
    listed = notes.replace(
        "Grafana datasources", "Alertmanager  kps-alertmanager.monitoring.svc:9093\nGrafana datasources"
    )
    (finding,) = check_notes(
        listed, merged_values(offline_chart, values_file, off), "kind", release=RELEASE, namespace=NAMESPACE
    )
    assert finding.message == "names Alertmanager, which the values of kind switch off"
