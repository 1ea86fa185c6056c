"""helm lint --strict and helm template of every ci scenario, offline (stand-in subcharts)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from monitoring_conformance.errors import CommandFailed, UsageError
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.helm_offline import dependencies, offline_copy, parse_manifests
from tests.chart.support import CHART, SCENARIOS, Render

pytestmark = pytest.mark.chart


def test_chart_has_ci_scenarios_including_kind() -> None:
    assert "kind-values.yaml" in SCENARIOS, (
        f"charts/monitoring/ci/ holds {SCENARIOS}, expected kind-values.yaml"
    )


def test_offline_copy_has_a_stand_in_per_dependency_at_the_pinned_version(offline_chart: Path) -> None:
    deps = dependencies(CHART)
    assert {d.name for d in deps} >= {"kube-prometheus-stack", "loki", "alloy"}
    for dep in deps:
        stand_in = yaml.safe_load((offline_chart / "charts" / dep.name / "Chart.yaml").read_text())
        assert (stand_in["name"], stand_in["version"]) == (dep.name, dep.version)
        assert [p.name for p in (offline_chart / "charts" / dep.name).iterdir()] == ["Chart.yaml"]


def test_helm_refuses_the_chart_without_stand_ins(helm: Helm, tmp_path: Path) -> None:
    """Why the offline copy exists: missing dependencies fail helm template even when disabled."""
    bare = Path(shutil.copytree(CHART, tmp_path / "monitoring", ignore=shutil.ignore_patterns("charts")))
    with pytest.raises(CommandFailed, match="missing in charts/ directory"):
        helm.template(bare, release="monitoring", namespace="monitoring")


def test_offline_copy_leaves_fetched_archives_behind(chart_copy: Path, tmp_path: Path) -> None:
    (chart_copy / "charts").mkdir(exist_ok=True)
    (chart_copy / "charts" / "loki-18.11.0.tgz").write_bytes(b"not really a chart")
    copy = offline_copy(chart_copy, tmp_path / "offline")
    assert sorted(p.name for p in (copy / "charts").iterdir()) == ["alloy", "kube-prometheus-stack", "loki"]


def test_offline_copy_refuses_a_version_range(chart_copy: Path, tmp_path: Path) -> None:
    chart_yaml = chart_copy / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("version: 18.11.0", "version: ~18.11.0"))
    with pytest.raises(
        UsageError, match=r"Chart\.yaml: dependency loki has version '~18\.11\.0'; pin an exact"
    ):
        offline_copy(chart_copy, tmp_path / "offline")


def test_lint_strict_passes_with_default_values(helm: Helm, offline_chart: Path) -> None:
    helm.lint(offline_chart, strict=True)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_strict_passes(helm: Helm, offline_chart: Path, scenario: str) -> None:
    helm.lint(offline_chart, [offline_chart / "ci" / scenario], strict=True)


@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_template_renders_the_umbrella_objects(render: Render, scenario: str | None) -> None:
    manifests = render(scenario)
    kinds = {m.kind for m in manifests}
    assert {"ConfigMap", "ServiceMonitor", "PrometheusRule"} <= kinds, f"rendered only {sorted(kinds)}"
    assert all(m.source.startswith("monitoring/templates/") for m in manifests)


def test_lint_strict_fails_on_a_template_error(helm: Helm, offline_chart_copy: Path) -> None:
    (offline_chart_copy / "templates" / "broken.yaml").write_text("kind: ConfigMap\nname: {{ .Values.x \n")
    with pytest.raises(CommandFailed) as failed:
        helm.lint(offline_chart_copy, strict=True)
    assert "broken.yaml" in str(failed.value)
    assert "[ERROR]" in str(failed.value)


def test_schema_breaking_values_fail_with_helms_message_and_the_file(
    helm: Helm, offline_chart_copy: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text("todoBackend:\n  port: 8000\n")
    with pytest.raises(CommandFailed) as failed:
        helm.template(offline_chart_copy, release="monitoring", namespace="monitoring", values_files=[bad])
    message = str(failed.value)
    assert "bad-values.yaml" in message
    assert "/todoBackend/port" in message, message
    assert "Traceback" not in message


def test_parse_manifests_keeps_each_objects_template() -> None:
    text = (
        "---\n# Source: monitoring/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
        "---\n# Source: monitoring/templates/b.yaml\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n"
        "---\n"
    )
    assert [(m.source, m.describe()) for m in parse_manifests(text)] == [
        ("monitoring/templates/a.yaml", "ConfigMap/a from monitoring/templates/a.yaml"),
        ("monitoring/templates/b.yaml", "Service/b from monitoring/templates/b.yaml"),
    ]


def test_an_alertmanager_datasource_without_alertmanager_stops_helm(
    helm: Helm, offline_chart_copy: Path, tmp_path: Path
) -> None:
    """templates/validate.yaml refuses a Grafana datasource for an Alertmanager that is not deployed."""
    bad = tmp_path / "datasource-values.yaml"
    bad.write_text(
        "kube-prometheus-stack:\n"
        "  alertmanager:\n    enabled: false\n"
        "  grafana:\n    sidecar:\n      datasources:\n        alertmanager:\n          enabled: true\n"
    )
    with pytest.raises(CommandFailed) as failed:
        helm.template(offline_chart_copy, release="monitoring", namespace="monitoring", values_files=[bad])
    message = str(failed.value)
    assert "validate.yaml" in message
    assert (
        "kube-prometheus-stack.alertmanager.enabled is false but "
        "kube-prometheus-stack.grafana.sidecar.datasources.alertmanager.enabled is true" in message
    )
    assert "set the datasource flag to false as well" in message


def test_the_guard_lets_a_consistent_alertmanager_setting_through(
    helm: Helm, offline_chart: Path, tmp_path: Path
) -> None:
    both_off = tmp_path / "both-off-values.yaml"
    both_off.write_text(
        "kube-prometheus-stack:\n"
        "  alertmanager:\n    enabled: false\n"
        "  grafana:\n    sidecar:\n      datasources:\n        alertmanager:\n          enabled: false\n"
    )
    assert "kind: PrometheusRule" in helm.template(
        offline_chart, release="monitoring", namespace="monitoring", values_files=[both_off]
    )
