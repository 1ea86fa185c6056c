"""The tool wrappers: kind (pytest-kind's KindCluster, our runner), kubectl pod states, docker, helm flags."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from pytest_kind.cluster import KindCluster
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.docker import Docker
from monitoring_conformance.tools.helm import HelmVersion, install_flags
from monitoring_conformance.tools.kind import KindCli, KindVersion, kind_version
from monitoring_conformance.tools.kubectl import Kubectl, job_failures, not_ready, pod_failures, pod_state

from .conftest import kind_payload

pytestmark = pytest.mark.unit


def no_download(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"a download was attempted: {args}")


# -- kind -------------------------------------------------------------------------------------------------


def test_upstream_kindcluster_does_not_download_when_the_binaries_exist(
    tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(requests, "get", no_download)
    cluster = KindCluster("x", kind_path=tools / "kind", kubectl_path=tools / "kubectl")

    cluster.ensure_kind()
    cluster.ensure_kubectl()

    assert cluster.kind_path == tools / "kind"


def test_upstream_kindcluster_would_download_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why KindCli checks the binaries first: the upstream class fetches a missing one from GitHub."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(requests, "get", no_download)
    cluster = KindCluster("x", kind_path=tmp_path / "missing-kind")

    with pytest.raises(AssertionError, match="a download was attempted"):
        cluster.ensure_kind()


def kind_cli(tmp_path: Path, runner: RecordingRunner, bin_dir: Path, **paths: str) -> KindCli:
    return KindCli("mc", kubeconfig=tmp_path / "kc", runner=runner,
                   kind_path=paths.get("kind", str(bin_dir / "kind")),
                   kubectl_path=paths.get("kubectl", str(bin_dir / "kubectl")))  # fmt: skip


def test_kind_cli_never_downloads_a_missing_binary(
    tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requests, "get", no_download)
    missing_kind = kind_cli(tmp_path, RecordingRunner(), tools, kind=str(tmp_path / "missing-kind"))
    missing_kubectl = kind_cli(tmp_path, RecordingRunner(), tools, kubectl=str(tmp_path / "kubectl"))

    with pytest.raises(ToolError, match=r"kind not found at .*missing-kind: install kind v0\.27"):
        missing_kind.create()
    with pytest.raises(ToolError, match="kubectl not found"):
        missing_kubectl.ensure()
    assert missing_kind.runner.calls == []  # type: ignore[attr-defined]


def test_kind_cli_holds_a_kindcluster_built_normally_and_leaves_the_working_directory_alone(
    tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    cli = kind_cli(tmp_path, RecordingRunner(), tools)

    assert isinstance(cli.cluster, KindCluster)
    described = (cli.cluster.name, cli.cluster.kind_path, cli.cluster.kubectl_path)
    assert described == ("mc", tools / "kind", tools / "kubectl")
    assert cli.cluster.kubeconfig_path == tmp_path / "kc"
    assert not (tmp_path / ".pytest-kind").exists()
    assert Path.cwd() == tmp_path


def test_every_cluster_command_goes_through_the_runner_with_a_timeout(tools: Path, tmp_path: Path) -> None:
    runner = RecordingRunner()
    cli = kind_cli(tmp_path, runner, tools)

    created = cli.create(tmp_path / "cluster.yaml")
    cli.load("todo-backend:0.1.0")
    cli.delete()

    assert created is True
    assert [c[:3] for c in runner.commands()] == [
        ("kind", "get", "clusters"),
        ("kind", "create", "cluster"),
        ("kind", "load", "docker-image"),
        ("kind", "delete", "cluster"),
    ]
    assert all(0 < t <= 600 for t in runner.timeouts)


def test_create_reuses_an_existing_cluster(tools: Path, tmp_path: Path) -> None:
    runner = RecordingRunner()
    runner.on(["kind", "get", "clusters"], stdout="mc\n")

    assert kind_cli(tmp_path, runner, tools).create() is False
    assert [c[:2] for c in runner.commands()] == [("kind", "get"), ("kind", "export")]


def test_kind_cli_offers_no_port_forward(tools: Path, tmp_path: Path) -> None:
    # services are reached through the API-server proxy; KindCluster.port_forward (no timeout) is not exposed
    assert not hasattr(kind_cli(tmp_path, RecordingRunner(), tools), "port_forward")


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("kind v0.32.0 go1.25.3 linux/amd64", KindVersion(0, 32, 0)),
        ("kind v0.27.0 go1.23.6 darwin/arm64", KindVersion(0, 27, 0)),
    ],
)
def test_kind_version_parses(text: str, version: KindVersion) -> None:
    runner = RecordingRunner()
    runner.on(["kind", "version"], stdout=text)

    assert kind_version(runner, "/usr/bin/kind") == version


def test_kind_version_unreadable() -> None:
    runner = RecordingRunner()
    runner.on(["kind", "version"], stdout="kind version unknown")

    with pytest.raises(ToolError, match="cannot read a kind version from 'kind version unknown'"):
        kind_version(runner, "/usr/bin/kind")


# -- kubectl pod states -------------------------------------------------------------------------------------


def pods(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kind_payload(name))["items"]
    return [item for item in items if item.get("kind", "Pod") == "Pod"]


def jobs(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kind_payload(name))["items"]
    return [item for item in items if item.get("kind") == "Job"]


def test_ready_pods_and_finished_hook_jobs_count_as_ready() -> None:
    assert not_ready(pods("pods-monitoring-ready.json")) == []
    assert pod_failures(pods("pods-monitoring-ready.json")) == []
    assert job_failures(jobs("pods-monitoring-ready.json")) == []


def test_pending_pod_is_not_ready_but_may_recover() -> None:
    waiting = not_ready(pods("pods-monitoring-pending.json"))

    assert [s.name for s in waiting] == ["loki-0"]
    assert waiting[0].stuck is None
    assert waiting[0].describe() == "monitoring/loki-0 (ContainerCreating in container loki)"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("pods-todo-crashloop.json", "CrashLoopBackOff in container todo-backend: back-off 2m40s"),
        ("pods-todo-imagepullbackoff.json", "ImagePullBackOff in container todo-backend: Back-off pulling"),
    ],
)
def test_unrecoverable_states_are_named(payload: str, reason: str) -> None:
    stuck = pod_failures(pods(payload))

    assert len(stuck) == 1
    assert stuck[0].stuck is not None
    assert stuck[0].stuck.startswith(reason)


def test_err_image_pull_may_still_recover() -> None:
    (state,) = map(pod_state, pods("pods-todo-imagepull.json"))

    assert state.stuck is None
    assert state.blocks
    assert state.waiting is not None
    assert state.waiting.startswith("ErrImagePull in container todo-backend")


def test_failed_hook_is_read_from_the_job_that_owns_the_pod() -> None:
    listing = pods("pods-monitoring-hook-failed.json")
    hook_pod = next(p for p in listing if p["metadata"]["name"].startswith("kps-admission-create"))

    assert "helm.sh/hook" not in (hook_pod["metadata"].get("annotations") or {})  # helm annotates the Job
    assert pod_state(hook_pod).owner == "Job/kps-admission-create"
    assert not pod_state(hook_pod).blocks  # the Job decides, not its failed pod
    assert job_failures(jobs("pods-monitoring-hook-failed.json")) == [
        "monitoring/kps-admission-create (helm hook Job (pre-install,pre-upgrade) failed: "
        "Job has reached the specified backoff limit)"
    ]


def test_a_hook_job_that_is_still_retrying_is_not_a_failure() -> None:
    (job,) = jobs("pods-monitoring-hook-failed.json")
    job["status"] = {"active": 1, "failed": 2}

    assert job_failures([job]) == []


def test_a_job_without_the_hook_annotation_is_not_a_hook_failure() -> None:
    (job,) = jobs("pods-monitoring-hook-failed.json")
    del job["metadata"]["annotations"]["helm.sh/hook"]

    assert job_failures([job]) == []


def test_a_failed_bare_pod_still_blocks_and_a_bare_failed_hook_pod_is_stuck() -> None:
    pod = pods("pods-monitoring-hook-failed.json")[-1]
    pod["metadata"]["ownerReferences"] = []
    pod["metadata"]["labels"] = {}

    assert pod_state(pod).blocks
    assert pod_state(pod).stuck is None
    pod["metadata"]["annotations"] = {"helm.sh/hook": "test"}
    assert pod_state(pod).stuck == "helm hook (test) failed"


def test_pods_and_jobs_come_from_one_call(tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["kubectl"], stdout=kind_payload("pods-monitoring-hook-failed.json"))

    found_pods, found_jobs = Kubectl(runner, kubeconfig="/k/config").pods_and_jobs("monitoring")

    assert runner.commands() == [
        ("kubectl", "--kubeconfig", "/k/config", "get", "pods,jobs", "--namespace", "monitoring", "-o",
         "json"),
    ]  # fmt: skip
    assert [p["metadata"]["name"] for p in found_pods][-1] == "kps-admission-create-5kq2d"
    assert [j["metadata"]["name"] for j in found_jobs] == ["kps-admission-create"]


def test_kubectl_binds_kubeconfig_and_context(tools: Path) -> None:
    runner = RecordingRunner()
    kubectl = Kubectl(runner, kubeconfig="/k/config", context="kind-mc")

    kubectl.apply("manifests")

    assert runner.commands() == [
        ("kubectl", "--kubeconfig", "/k/config", "--context", "kind-mc", "apply", "-f", "manifests")
    ]


def test_kubectl_pods_rejects_non_json(tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["kubectl"], stdout="No resources found")

    with pytest.raises(ToolError, match="did not return JSON"):
        Kubectl(runner).pods("todo")


# -- docker ---------------------------------------------------------------------------------------------


def test_docker_engine_version(tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["docker", "info"], stdout="28.0.4\n")

    assert Docker(runner).engine_version() == "28.0.4"
    assert runner.timeouts == [3.0]


def test_docker_without_engine_says_why(tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["docker", "info"], returncode=1, stdout="", stderr="permission denied while trying to connect")

    with pytest.raises(ToolError, match=r"docker engine not reachable \(permission denied"):
        Docker(runner).engine_version()


# -- helm flags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "rollback", "flags"),
    [
        (HelmVersion(3, 19, 0), False, ["--wait", "--timeout", "600s"]),
        (HelmVersion(3, 21, 4), True, ["--wait", "--timeout", "600s", "--atomic"]),
        (HelmVersion(4, 1, 4), False, ["--wait=legacy", "--timeout", "600s"]),
        (HelmVersion(4, 2, 4), True, ["--wait=legacy", "--timeout", "600s", "--rollback-on-failure"]),
    ],
)
def test_install_flags_follow_the_helm_major(version: HelmVersion, rollback: bool, flags: list[str]) -> None:
    assert install_flags(version, wait_seconds=600, rollback_on_failure=rollback) == flags
