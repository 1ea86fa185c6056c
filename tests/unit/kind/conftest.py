"""Fixtures of the kind/kubeconfig unit tests: fake tool paths, a scripted RecordingRunner, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.doubles import FakeClock
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.orchestrate import KindOptions
from monitoring_conformance.preflight import Host
from monitoring_conformance.redact import clear_secrets
from monitoring_conformance.tools.runner import Result

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "kind" / "payloads"
TOOLS = ("docker", "kind", "helm", "kubectl")
KIND_VERSION = "kind v0.32.0 go1.25.3 linux/amd64\n"
#: The dependencies of charts/monitoring/Chart.yaml: three https repositories (one listed twice here).
CHART_YAML = """apiVersion: v2
name: monitoring
version: 0.1.0
dependencies:
  - {name: kube-prometheus-stack, version: 88.5.3, repository: https://prometheus-community.github.io/helm-charts}
  - {name: loki, version: 18.11.0, repository: https://grafana-community.github.io/helm-charts}
  - {name: alloy, version: 1.11.1, repository: https://grafana.github.io/helm-charts}
  - {name: grafana-extra, version: 1.0.0, repository: "https://grafana.github.io/helm-charts/"}
  - {name: local-lib, version: 0.1.0, repository: "file://../lib"}
"""
REPOS = (
    ("prometheus-community", "https://prometheus-community.github.io/helm-charts"),
    ("grafana-community", "https://grafana-community.github.io/helm-charts"),
    ("grafana", "https://grafana.github.io/helm-charts"),
)
KUBECTL_VERSION = json.dumps({"clientVersion": {"gitVersion": "v1.36.3"}})


def kind_payload(name: str) -> str:
    """A hand-made command output from fixtures/kind/payloads (shaped like kubectl's/helm's, not recorded)."""
    return (PAYLOADS / name).read_text(encoding="utf-8")


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
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # caches (helm repository files) stay in tmp_path
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
    (chart / "Chart.yaml").write_text(CHART_YAML)
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
    """``kubectl get pods`` / ``get pods,jobs`` (any selector) in ``namespace``."""

    def match(argv: tuple[str, ...]) -> bool:
        listing = any(arg in ("pods", "pods,jobs") for arg in argv)
        return argv[0] == "kubectl" and listing and "-o" in argv and namespace in argv

    return match


def happy_runner(helm_version: str = "v4.1.4") -> RecordingRunner:
    """A runner that answers like a machine where everything works and no cluster exists yet."""
    runner = RecordingRunner()
    runner.on(["docker", "info"], stdout="28.0.4\n")
    runner.on(["kind", "version"], stdout=KIND_VERSION)
    runner.on(["helm", "version"], stdout=helm_version)
    runner.on(["kubectl", "version", "--client"], stdout=KUBECTL_VERSION)
    runner.on(["kind", "get", "clusters"], stdout="other-cluster\n")
    answer(runner, pods_of("todo"), stdout=kind_payload("pods-todo-ready.json"))
    answer(runner, pods_of("monitoring"), stdout=kind_payload("pods-monitoring-ready.json"))
    answer(runner, lambda a: a[:2] == ("helm", "status"), stdout=kind_payload("helm-status-deployed.json"))
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
