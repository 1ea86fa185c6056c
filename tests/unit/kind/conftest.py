"""Fixtures of the kind/kubeconfig unit tests: fake tool paths, a scripted RecordingRunner, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.doubles import FakeClock

from monitoring_conformance.orchestrate import KindOptions
from monitoring_conformance.preflight import Host
from monitoring_conformance.redact import clear_secrets
from monitoring_conformance.tools.runner import RecordingRunner, Result

RECORDED = Path(__file__).resolve().parents[3] / "fixtures" / "kind" / "recorded"
TOOLS = ("docker", "kind", "helm", "kubectl")
KIND_VERSION = "kind v0.32.0 go1.25.3 linux/amd64\n"
KUBECTL_VERSION = json.dumps({"clientVersion": {"gitVersion": "v1.36.3"}})


def recorded(name: str) -> str:
    """A recorded command output from fixtures/kind/recorded."""
    return (RECORDED / name).read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    clear_secrets()


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """docker, kind, helm and kubectl as empty executables on an isolated PATH (never run)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in TOOLS:
        exe = bin_dir / name
        exe.write_text("#!/bin/false\n")
        exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr("monitoring_conformance.tools.runner.TOOLS_DIR", tmp_path / "no-tools")
    return bin_dir


@pytest.fixture
def host(tmp_path: Path) -> Host:
    """A Linux host with 16 GiB available and kind's recommended inotify limits."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24576000 kB\nMemAvailable:   16777216 kB\n")
    inotify = tmp_path / "sys" / "fs" / "inotify"
    inotify.mkdir(parents=True)
    (inotify / "max_user_watches").write_text("524288\n")
    (inotify / "max_user_instances").write_text("512\n")
    return Host(meminfo=meminfo, proc_sys=tmp_path / "sys", platform="linux")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def options(tmp_path: Path) -> KindOptions:
    """KindOptions whose files exist in tmp_path (the values file must exist for helm's --values)."""
    chart = tmp_path / "chart"
    (chart / "ci").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: monitoring\nversion: 0.1.0\n")
    (chart / "ci" / "kind-values.yaml").write_text("{}\n")
    return KindOptions(
        cluster_name="mc-test",
        keep="on-failure",
        chart=chart,
        values=chart / "ci" / "kind-values.yaml",
        cluster_config=tmp_path / "cluster.yaml",
        app_context=tmp_path / "todo-backend",
        app_manifests=tmp_path / "todo-backend" / "manifests",
        kubeconfig=tmp_path / "kube" / "kubeconfig",
        install_wait_seconds=600,
        app_timeout=120,
        ready_timeout=300,
    )


def answer(
    runner: RecordingRunner,
    match: Callable[[tuple[str, ...]], bool],
    *,
    stdout: str = "",
    stderr: str = "",
    returncode: int = 0,
) -> None:
    """Answer every command for which ``match(argv)`` holds (argv with the executable's basename)."""

    def responder(argv: tuple[str, ...]) -> Result | None:
        short = (Path(argv[0]).name, *argv[1:])
        return Result(argv, returncode, stdout, stderr) if match(short) else None

    runner.responders.insert(0, responder)


def pods_of(namespace: str) -> Callable[[tuple[str, ...]], bool]:
    def match(argv: tuple[str, ...]) -> bool:
        return argv[0] == "kubectl" and "pods" in argv and "-o" in argv and namespace in argv

    return match


def happy_runner(helm_version: str = "v4.1.4") -> RecordingRunner:
    """A runner that answers like a machine where everything works and no cluster exists yet."""
    runner = RecordingRunner()
    runner.on(["docker", "info"], stdout="28.0.4\n")
    runner.on(["kind", "version"], stdout=KIND_VERSION)
    runner.on(["helm", "version"], stdout=helm_version)
    runner.on(["kubectl", "version", "--client"], stdout=KUBECTL_VERSION)
    runner.on(["kind", "get", "clusters"], stdout="other-cluster\n")
    answer(runner, pods_of("todo"), stdout=recorded("pods-todo-ready.json"))
    answer(runner, pods_of("monitoring"), stdout=recorded("pods-monitoring-ready.json"))
    answer(runner, lambda a: a[:2] == ("helm", "status"), stdout=recorded("helm-status-deployed.json"))
    return runner


API_SERVER = "https://127.0.0.1:6443"
TOKEN = "kube-token-0123456789abcdef"


def write_kubeconfig(
    path: Path, *, contexts: tuple[str, ...] = ("kind-mc-test",), current: str | None = None
) -> Path:
    """A kubeconfig with a fake server URL and a bearer token (what `kind create cluster` would write)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = "\n".join(f"- name: {name}\n  context: {{cluster: c, user: u}}" for name in contexts)
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: c\n  cluster:\n    server: {API_SERVER}\n    insecure-skip-tls-verify: true\n"
        f"users:\n- name: u\n  user:\n    token: {TOKEN}\n"
        f"contexts:\n{entries}\n"
        f"current-context: {current if current is not None else contexts[0]}\n",
        encoding="utf-8",
    )
    return path
