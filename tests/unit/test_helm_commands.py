"""tools/helm.py: the argv each method builds and how it reads helm's answers (RecordingRunner, no helm)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.errors import CommandFailed, ToolError, UsageError
from monitoring_conformance.tools.helm import Helm, HelmVersion

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v4.1.4", HelmVersion(4, 1, 4)),
        ("v3.19.0+g3d8990f", HelmVersion(3, 19, 0)),
        ("v3.21.1", HelmVersion(3, 21, 1)),
    ],
)
def test_helm_version_parses_v3_and_v4(text: str, expected: HelmVersion) -> None:
    runner = RecordingRunner()
    runner.on(["helm", "version"], stdout=text)
    assert Helm(runner, path="/opt/helm").version() == expected
    assert runner.commands() == [("helm", "version", "--template", "{{.Version}}")]


def test_helm_version_refuses_v2_and_garbage() -> None:
    runner = RecordingRunner()
    runner.on(["helm", "version"], stdout="v2.17.0")
    with pytest.raises(ToolError, match=r"helm v2\.17\.0 at /opt/helm is not supported: run"):
        Helm(runner, path="/opt/helm").version()
    runner.on(["helm", "version"], stdout="Client: unknown")
    with pytest.raises(ToolError, match="cannot read a helm version from 'Client: unknown'"):
        Helm(runner, path="/opt/helm").version()


def test_template_argv_has_release_namespace_values_and_capabilities(tmp_path: Path) -> None:
    values = tmp_path / "kind-values.yaml"
    values.write_text("{}\n")
    runner = RecordingRunner()
    runner.on(["helm", "template"], stdout="---\n")
    Helm(runner, path="helm", timeout=7).template(
        tmp_path,
        release="monitoring",
        namespace="monitoring",
        values_files=[values],
        kube_version="1.33.0",
        api_versions=["monitoring.coreos.com/v1"],
    )
    assert runner.commands() == [
        (
            "helm", "template", "monitoring", str(tmp_path), "--namespace", "monitoring",
            "--values", str(values), "--kube-version", "1.33.0", "--api-versions", "monitoring.coreos.com/v1",
        )
    ]  # fmt: skip
    assert runner.timeouts == [7]


def test_lint_failure_names_helms_error_lines(tmp_path: Path) -> None:
    runner = RecordingRunner()
    runner.on(
        ["helm", "lint"],
        stdout="==> Linting x\n[ERROR] templates/: parse error at (x.yaml:3): unexpected EOF\n",
        stderr="Error: 1 chart(s) linted, 1 chart(s) failed",
        returncode=1,
    )
    with pytest.raises(CommandFailed) as failed:
        Helm(runner, path="helm").lint(tmp_path)
    message = str(failed.value)
    assert message.startswith(f"`helm lint {tmp_path} --strict` exited 1:")
    assert "[ERROR] templates/: parse error at (x.yaml:3): unexpected EOF" in message


def test_missing_values_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"values file .*nope-values\.yaml does not exist"):
        Helm(RecordingRunner(), path="helm").template(
            tmp_path, release="r", namespace="n", values_files=[tmp_path / "nope-values.yaml"]
        )


def test_dependency_build_argv(tmp_path: Path) -> None:
    runner = RecordingRunner()
    Helm(runner, path="helm").dependency_build(tmp_path, skip_refresh=True)
    assert runner.commands() == [("helm", "dependency", "build", str(tmp_path), "--skip-refresh")]


def test_install_dry_run_builds_a_client_side_install_with_json_output(tmp_path: Path) -> None:
    values = tmp_path / "kind-values.yaml"
    values.write_text("{}\n")
    runner = RecordingRunner()
    runner.on(["helm", "install"], stdout='{"info": {"notes": "hi"}}')

    out = Helm(runner, path="/opt/helm").install_dry_run(
        tmp_path / "chart", release="monitoring", namespace="monitoring", values_files=[values]
    )

    assert out == '{"info": {"notes": "hi"}}'
    assert runner.commands() == [
        ("helm", "install", "monitoring", str(tmp_path / "chart"), "--namespace", "monitoring",
         "--dry-run=client", "--values", str(values), "--output", "json"),
    ]  # fmt: skip
    with pytest.raises(UsageError, match=r"values file .*missing\.yaml does not exist"):
        Helm(runner, path="/opt/helm").install_dry_run(
            tmp_path, release="r", namespace="n", values_files=[tmp_path / "missing.yaml"]
        )
