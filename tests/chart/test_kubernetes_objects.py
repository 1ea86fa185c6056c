"""Rendered built-in objects and the Todo manifests pass kubernetes-validate (strict) for 1.33 to 1.36."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from monitoring_conformance.errors import UsageError
from monitoring_conformance.tools.helm_offline import Manifest
from tests.chart.chartcheck.findings import format_findings
from tests.chart.chartcheck.kube import (
    KUBE_VERSIONS,
    check_objects,
    is_builtin,
    load_manifest_dir,
    supported_versions,
)
from tests.chart.support import APP_MANIFESTS, SCENARIOS, Render

pytestmark = pytest.mark.chart


def test_kubernetes_validate_bundles_every_supported_version() -> None:
    bundled = supported_versions()
    missing = [v for v in KUBE_VERSIONS if v not in bundled]
    assert not missing, f"kubernetes-validate bundles {bundled[0]}..{bundled[-1]}, missing {missing}"


@pytest.mark.parametrize(
    ("api_version", "builtin"),
    [
        ("v1", True),
        ("apps/v1", True),
        ("rbac.authorization.k8s.io/v1", True),
        ("monitoring.coreos.com/v1", False),
        ("monitoring.grafana.com/v1alpha2", False),
    ],
)
def test_builtin_api_groups(api_version: str, builtin: bool) -> None:
    assert is_builtin(api_version) is builtin


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("scenario", [None, *SCENARIOS])
def test_rendered_builtin_objects_validate(render: Render, scenario: str | None, kube_version: str) -> None:
    manifests = render(scenario, f"{kube_version}.0")
    checked = [m for m in manifests if is_builtin(str(m.obj.get("apiVersion")))]
    assert checked, "no built-in object was rendered, nothing to validate"
    findings = check_objects(manifests, [kube_version])
    assert not findings, format_findings(findings)


def test_todo_backend_manifests_validate() -> None:
    manifests = load_manifest_dir(APP_MANIFESTS)
    assert {m.kind for m in manifests} >= {"Namespace", "Deployment", "Service"}
    findings = check_objects(manifests, KUBE_VERSIONS)
    assert not findings, format_findings(findings)


def test_a_service_with_an_unknown_field_fails_for_every_version() -> None:
    service = next(m for m in load_manifest_dir(APP_MANIFESTS) if m.kind == "Service")
    broken = copy.deepcopy(service.obj)
    broken["spec"]["portz"] = [{"port": 80}]
    findings = check_objects([Manifest(service.source, broken)], KUBE_VERSIONS)
    assert len(findings) == 1
    text = str(findings[0])
    assert text.startswith(f"{service.source} [Service/todo-backend from {service.source}]: ")
    assert "invalid for Kubernetes 1.33, 1.34, 1.35, 1.36" in text
    assert "'portz' was unexpected" in text


def test_a_rendered_configmap_with_a_wrong_type_fails(render: Render) -> None:
    configmap = next(m for m in render(None) if m.kind == "ConfigMap")
    broken = copy.deepcopy(configmap.obj)
    broken["data"] = {"x.json": 42}
    (finding,) = check_objects([Manifest(configmap.source, broken)], ["1.35"])
    assert finding.file == "monitoring/templates/grafana.yaml"
    assert "data.x.json: 42 is not of type 'string'" in finding.message


def test_a_removed_api_version_is_reported() -> None:
    job = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "x"}, "spec": {}}
    (finding,) = check_objects([Manifest("t.yaml", job)], ["1.33"])
    assert "no schema for CronJob batch/v1beta1 in Kubernetes 1.33" in finding.message


def test_custom_resources_are_not_validated() -> None:
    monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"}}
    assert check_objects([Manifest("t.yaml", monitor)], KUBE_VERSIONS) == []


def test_an_unbundled_kubernetes_version_is_a_usage_error() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(UsageError, match=r"no schemas for Kubernetes 1\.99"):
        check_objects([Manifest("t.yaml", service)], ["1.99"])


def test_invalid_yaml_in_a_manifest_dir_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "svc.yaml").write_text("kind: Service\n  bad: [\n")
    with pytest.raises(UsageError, match=r"svc\.yaml: invalid YAML"):
        load_manifest_dir(tmp_path)
