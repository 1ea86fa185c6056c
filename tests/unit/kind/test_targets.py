"""KindTarget and KubeconfigTarget: --plan runs nothing, open/close timings, diagnostics on failure."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from kubernetes.client import V1Secret
from tests.doubles import FakeClock, RecordedTransport, Reply
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.errors import CommandFailed, ConformanceError, UsageError
from monitoring_conformance.orchestrate import KindOptions, PhaseFailed
from monitoring_conformance.preflight import Host
from monitoring_conformance.settings import GrafanaCredentials, Settings
from monitoring_conformance.targets import kubeconfig as kubeconfig_module
from monitoring_conformance.targets.kind import KindTarget, options_from
from monitoring_conformance.targets.kubeconfig import KubeconfigTarget

from .conftest import API_SERVER, answer, happy_runner, kind_payload, pods_of, write_kubeconfig
from .test_kubeaccess import CoreV1ApiDouble, grafana_secret

pytestmark = pytest.mark.unit

SECRET_PW = "kind-grafana-pw-42"


def secret_reader() -> CoreV1ApiDouble:
    return CoreV1ApiDouble(
        {("monitoring", "grafana"): grafana_secret(**{"admin-user": "admin", "admin-password": SECRET_PW})}
    )


def api_server() -> RecordedTransport:
    transport = RecordedTransport(base_url=API_SERVER)
    transport.route("POST", r".*/proxy/login", lambda call, match: Reply(200, {"message": "Logged in"}))
    return transport


def kind_target(
    settings: Settings,
    options: KindOptions,
    runner: RecordingRunner,
    clock: FakeClock,
    host: Host,
    lines: list[str],
    transport: RecordedTransport | None = None,
) -> KindTarget:
    return KindTarget(
        settings,
        runner,
        clock=clock.clock,
        echo=lines.append,
        host=host,
        options=options,
        secret_reader=secret_reader,
        session_hook=(transport or api_server()).mount,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(target="kind", report_dir=tmp_path / "reports", cluster_name="mc-test")


# -- kind: --plan -----------------------------------------------------------------------------------------


def test_plan_lists_every_command_and_runs_none(
    settings: Settings, options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = RecordingRunner()

    plan = kind_target(settings, options, runner, clock, host, []).plan()

    assert runner.calls == []
    printed = [" ".join([Path(argv[0]).name, *argv[1:]]) for argv in plan]
    k = options.kubeconfig_path
    repos = " ".join(options.repos.flags())
    for line in (
        "docker info --format {{.ServerVersion}}",
        "kind version",
        "kind get clusters",
        f"kind create cluster --name=mc-test --kubeconfig={k} --wait=180s --config {options.cluster_config}",
        f"docker build -t todo-backend:0.1.0 -t {options.image_tag} {options.app_context}",
        f"kind load docker-image --name mc-test todo-backend:0.1.0 {options.image_tag}",
        f"kubectl --kubeconfig {k} apply -f {options.app_manifests}",
        f"kubectl --kubeconfig {k} set image deployment/todo-backend todo-backend={options.image_tag} "
        "--namespace todo",
        f"helm repo add grafana https://grafana.github.io/helm-charts --force-update {repos}",
        f"helm dependency build {options.chart} {repos}",
        f"kubectl --kubeconfig {k} get pods --namespace monitoring --selector app.kubernetes.io/name=grafana "
        "-o json",
        f"kubectl --kubeconfig {k} get pods,jobs --namespace monitoring -o json",
        f"helm upgrade --install monitoring {options.chart} --namespace monitoring --create-namespace "
        f"--values {options.values} --wait=legacy --timeout 600s --kubeconfig {k}",
        f"kind delete cluster --name=mc-test --kubeconfig={k}",
    ):
        assert line in printed, line
    build = f"helm dependency build {options.chart} {repos}"
    assert printed.index("kind get clusters") < printed.index(build)
    assert not any(line.startswith("helm status") for line in printed)  # t0 is the wall clock before helm
    assert any(line.startswith("# install (helm 4 shown; helm 3 gets --wait") for line in printed)


def test_options_come_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        target="kind",
        cluster_name="c1",
        release="r1",
        monitoring_namespace="m1",
        app_namespace="a1",
        keep_cluster="always",
        values=tmp_path / "v.yaml",
    )

    options = options_from(settings)

    assert (
        options.cluster_name,
        options.release,
        options.monitoring_namespace,
        options.app_namespace,
        options.keep,
        options.values,
    ) == ("c1", "r1", "m1", "a1", "always", tmp_path / "v.yaml")
    assert options_from(Settings(target="kind")).values.name == "kind-values.yaml"


# -- kind: open / close --------------------------------------------------------------------------------------


def test_open_hands_back_a_proxied_stack_with_t0_and_timings(
    settings: Settings, options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    write_kubeconfig(options.kubeconfig_path)
    runner = happy_runner()
    runner.on(["helm", "get", "values"], stdout=kind_payload("helm-values-all.json"))
    transport = api_server()
    lines: list[str] = []
    target = kind_target(settings, options, runner, clock, host, lines, transport)

    stack = target.open()
    clock.advance(42.0)
    target.close(failed=False)

    assert stack.target == "kind"
    assert stack.prometheus is not None
    assert "/services/http:kps-prometheus:9090/proxy" in stack.prometheus.base_url
    assert stack.t0 is not None
    assert "right before `helm upgrade --install`" in stack.t0_source
    assert stack.timings["checks"] == pytest.approx(42.0)
    phases = ["preflight", "cluster", "image", "app", "dependency build", "install", "checks", "teardown"]
    assert list(stack.timings) == phases
    assert transport.calls[0].json() == {"user": "admin", "password": SECRET_PW}
    assert runner.commands()[-1][:3] == ("kind", "delete", "cluster")
    assert not any(SECRET_PW in line for line in lines)


def test_failed_phase_writes_diagnostics_and_keeps_the_cluster(
    settings: Settings, options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    answer(runner, pods_of("todo"), stdout=kind_payload("pods-todo-crashloop.json"))
    answer(
        runner,
        lambda a: a[0] == "kubectl" and "--all-namespaces" in a and "json" in a,
        stdout=kind_payload("pods-todo-crashloop.json"),
    )
    answer(runner, lambda a: a[0] == "kubectl" and "logs" in a, stdout="Traceback: boom\n")
    runner.on(["helm", "get", "values"], stdout=kind_payload("helm-values-all.json"))
    lines: list[str] = []
    target = kind_target(settings, options, runner, clock, host, lines)

    with pytest.raises(PhaseFailed, match="CrashLoopBackOff"):
        target.open()
    target.close(failed=True)

    diag = settings.report_dir / "diagnostics"
    summary = json.loads((diag / "summary.json").read_text())
    assert summary["pods"].startswith(
        "1 pods, 1 not ready: todo/todo-backend-7c9d8f6b5-x2lkq (CrashLoopBackOff"
    )
    assert (
        diag / "logs" / "todo_todo-backend-7c9d8f6b5-x2lkq.previous.log"
    ).read_text() == "Traceback: boom\n"
    assert any(c[-1] == "--previous" for c in runner.commands())
    assert all(c[:2] != ("kind", "delete") for c in runner.commands())
    assert sum("kept (--keep-cluster on-failure)" in line for line in lines) == 1


def test_failure_before_a_cluster_exists_writes_no_diagnostics(
    settings: Settings, options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["kind", "create"], returncode=1, stderr="ERROR: failed to create cluster: exit status 125")

    with pytest.raises(PhaseFailed, match="cluster failed"):
        kind_target(settings, options, runner, clock, host, []).open()

    assert not (settings.report_dir / "diagnostics").exists()


# -- kubeconfig target ------------------------------------------------------------------------------------


def kube_settings(tmp_path: Path, **overrides: object) -> Settings:
    config = write_kubeconfig(tmp_path / "kubeconfig")
    base = Settings(
        target="kubeconfig",
        kubeconfig=str(config),
        report_dir=tmp_path / "reports",
        sources={"kubeconfig": "cli", "context": "cli"},
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_kubeconfig_install_names_its_own_target_when_chart_yaml_is_unreadable(
    tmp_path: Path, tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = tmp_path / "chart"
    chart.mkdir()
    monkeypatch.setattr(kubeconfig_module, "CHART", chart)
    runner = RecordingRunner()

    with pytest.raises(PhaseFailed) as failed:
        KubeconfigTarget(kube_settings(tmp_path, install_chart=True), runner).plan()

    assert str(failed.value).startswith(
        f"kubeconfig target: install failed: cannot read {chart / 'Chart.yaml'} (No such file or directory)"
    )
    assert runner.calls == []


def test_kubeconfig_plan_runs_nothing(tmp_path: Path, tools: Path) -> None:
    runner = RecordingRunner()
    target = KubeconfigTarget(kube_settings(tmp_path, install_chart=True), runner)

    plan = target.plan()

    assert runner.calls == []
    printed = [" ".join([Path(a[0]).name, *a[1:]]) for a in plan]
    assert any(
        line.startswith("helm upgrade --install monitoring") and "--rollback-on-failure" in line
        for line in printed
    )
    assert "helm version --template {{.Version}}" in printed  # as run: no kubeconfig flag
    assert any(line.startswith("helm repo add prometheus-community https://") for line in printed)
    assert not any(line.startswith("helm status") for line in printed)
    verify = KubeconfigTarget(kube_settings(tmp_path), runner).plan()  # no --install-chart
    plain = [" ".join([Path(a[0]).name, *a[1:]]) for a in verify]
    status = f"helm status monitoring --namespace monitoring -o json --kubeconfig {tmp_path / 'kubeconfig'}"
    assert status in plain
    assert runner.calls == []


def test_kubeconfig_open_verifies_the_installed_release(tmp_path: Path, tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["helm", "status"], stdout=kind_payload("helm-status-deployed.json"))
    runner.on(["helm", "get", "values"], stdout="{}")
    runner.on(["helm", "version"], stdout="v3.19.0")
    transport = api_server()
    target = KubeconfigTarget(
        kube_settings(tmp_path),
        runner,
        echo=lambda line: None,
        secret_reader=secret_reader,
        session_hook=transport.mount,
    )

    stack = target.open()
    target.close(failed=True)

    assert stack.t0 == pytest.approx(1795773723.123456)
    assert stack.t0_source == "helm status info.last_deployed"
    assert stack.versions == {"helm": "v3.19.0"}
    assert all(c[:2] != ("helm", "upgrade") for c in runner.commands())
    assert all(c[0] != "kind" for c in runner.commands())


def test_kubeconfig_deployed_at_option_wins(tmp_path: Path, tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["helm", "status"], stdout=kind_payload("helm-status-deployed.json"))
    settings = kube_settings(
        tmp_path,
        deployed_at=1795770000.0,
        grafana=GrafanaCredentials(user="admin", password="env-pw-77"),
        sources={"deployed_at": "env", "kubeconfig": "cli", "context": "cli"},
    )
    target = KubeconfigTarget(settings, runner, echo=lambda line: None, session_hook=api_server().mount)

    stack = target.open()

    assert stack.t0 == 1795770000.0
    assert stack.t0_source == "MC_DEPLOYED_AT=1795770000.0"


def test_kubeconfig_missing_release_is_a_usage_error(tmp_path: Path, tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["helm", "status"], returncode=1, stderr="Error: release: not found")

    with pytest.raises(
        UsageError, match=r"^--release monitoring: no such release in namespace monitoring; .*--install-chart"
    ):
        KubeconfigTarget(kube_settings(tmp_path), runner, echo=lambda line: None).open()


def test_kubeconfig_unknown_context_fails_before_any_command(tmp_path: Path, tools: Path) -> None:
    runner = RecordingRunner()
    settings = kube_settings(tmp_path, context="kind-other")

    with pytest.raises(
        UsageError, match=r"--context kind-other: no such context .*contexts available: kind-mc-test"
    ):
        KubeconfigTarget(settings, runner).open()

    assert runner.calls == []


def test_kubeconfig_install_chart_uses_rollback_and_records_t0(tmp_path: Path, tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["helm", "version"], stdout="v4.1.4")
    runner.on(["helm", "status"], stdout=kind_payload("helm-status-deployed.json"))
    answer(runner, pods_of("monitoring"), stdout=kind_payload("pods-monitoring-ready.json"))
    target = KubeconfigTarget(
        kube_settings(tmp_path, install_chart=True),
        runner,
        clock=FakeClock().clock,
        echo=lambda line: None,
        secret_reader=secret_reader,
        session_hook=api_server().mount,
    )

    stack = target.open()

    upgrade = next(c for c in runner.commands() if c[:2] == ("helm", "upgrade"))
    assert "--rollback-on-failure" in upgrade
    assert "--wait=legacy" in upgrade
    assert "right before `helm upgrade --install` started (this run)" in stack.t0_source
    assert "install" in stack.timings


def test_secret_data_is_base64() -> None:
    secret: V1Secret = grafana_secret(**{"admin-password": "x"})

    assert secret.data is not None
    assert base64.b64decode(secret.data["admin-password"]) == b"x"


@pytest.mark.parametrize(
    ("failure", "reason", "fix"),
    [
        (
            CommandFailed(["helm", "status"], 1, 'Error: Kubernetes cluster unreachable: Get "https://127.0.0'
                          '.1:6443/version": dial tcp 127.0.0.1:6443: connect: connection refused'),
            "the cluster could not be reached",
            "check --kubeconfig/--context and that the API server answers: `kubectl --kubeconfig",
        ),
        (
            CommandFailed(["helm", "status"], 1, 'Error: query: failed to query with labels: secrets is '
                          'forbidden: User "dev" cannot list resource "secrets" in namespace "monitoring"'),
            "access denied",
            "helm reads releases from Secrets: this kubeconfig's user needs get/list on secrets in namespace",
        ),
        (
            CommandFailed(["helm", "status"], None, "", timeout=60),
            "helm status timed out",
            "check that the cluster answers: `kubectl --kubeconfig",
        ),
    ],
)  # fmt: skip
def test_kubeconfig_status_failures_other_than_not_found_say_what_happened(
    tmp_path: Path, tools: Path, failure: CommandFailed, reason: str, fix: str
) -> None:
    runner = RecordingRunner()
    runner.fail(["helm", "status"], failure)

    with pytest.raises(ConformanceError) as caught:
        KubeconfigTarget(kube_settings(tmp_path), runner, echo=lambda line: None).open()

    assert not isinstance(caught.value, UsageError)
    head, fix_line = str(caught.value).split("\n")
    where = "kubeconfig target: cannot read release monitoring in namespace monitoring"
    assert head.startswith(f"{where}: {reason}")
    assert fix_line.startswith(f"  fix: {fix}")
    assert "no such release" not in str(caught.value)
    if "kubectl" in fix:
        assert f"kubectl --kubeconfig {tmp_path / 'kubeconfig'} get --raw /readyz" in fix_line


def test_kubeconfig_versions_are_kept_on_the_target(tmp_path: Path, tools: Path) -> None:
    runner = RecordingRunner()
    runner.on(["helm", "status"], stdout=kind_payload("helm-status-deployed.json"))
    runner.on(["helm", "get", "values"], stdout="{}")
    runner.on(["helm", "version"], stdout="v3.19.0")
    target = KubeconfigTarget(kube_settings(tmp_path), runner, echo=lambda line: None,
                              secret_reader=secret_reader, session_hook=api_server().mount)  # fmt: skip

    target.open()

    assert target.versions == {"helm": "v3.19.0"}


def test_kubeconfig_install_that_fails_still_records_its_timing(tmp_path: Path, tools: Path) -> None:
    # before: timings["install"] was written only after a successful install, so a failed run's report
    # showed no figure for the phase that failed
    runner = RecordingRunner()
    runner.on(["helm", "version"], stdout="v4.1.4")
    runner.on(["helm", "upgrade"], stderr="Error: context deadline exceeded", returncode=1)
    answer(runner, pods_of("monitoring"), stdout=kind_payload("pods-monitoring-pending.json"))
    target = KubeconfigTarget(kube_settings(tmp_path, install_chart=True), runner, clock=FakeClock().clock,
                              echo=lambda line: None, secret_reader=secret_reader,
                              session_hook=api_server().mount)  # fmt: skip

    with pytest.raises(PhaseFailed, match="install failed"):
        target.open()

    assert "install" in target.timings
