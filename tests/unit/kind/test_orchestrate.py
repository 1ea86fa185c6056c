"""KindRun over a RecordingRunner: the exact command sequence of a happy run, and of each failure."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests.doubles import FakeClock
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.errors import CommandFailed
from monitoring_conformance.orchestrate import KindOptions, KindRun, PhaseFailed, should_delete
from monitoring_conformance.preflight import Host, PreflightFailed
from monitoring_conformance.targets.kubeconfig import deployed_at
from monitoring_conformance.tools.runner import Result

from .conftest import REPOS, answer, happy_runner, kind_payload, pods_of

pytestmark = pytest.mark.unit


def make_run(options: KindOptions, runner: RecordingRunner, clock: FakeClock, host: Host) -> KindRun:
    return KindRun(
        options, runner, clock=clock.clock, echo=lambda line: None, wall=lambda: 1795773000.0, host=host
    )


def up_fails(options: KindOptions, runner: RecordingRunner, clock: FakeClock, host: Host) -> PhaseFailed:
    """up() over a runner scripted to make one phase fail: that PhaseFailed."""
    with pytest.raises(PhaseFailed) as failure:
        make_run(options, runner, clock, host).up()
    return failure.value


def expected_up(o: KindOptions, *, helm_wait: str = "--wait=legacy") -> list[tuple[str, ...]]:
    k = str(o.kubeconfig_path)
    tag = o.image_tag
    repo = o.repos.flags()
    return [
        ("docker", "info", "--format", "{{.ServerVersion}}"),
        ("kind", "version"),
        ("helm", "version", "--template", "{{.Version}}"),
        ("kubectl", "version", "--client", "-o", "json"),
        ("kind", "get", "clusters"),
        (
            "kind",
            "create",
            "cluster",
            "--name=mc-test",
            f"--kubeconfig={k}",
            "--wait=180s",
            "--config",
            str(o.cluster_config),
        ),
        ("docker", "build", "-t", "todo-backend:0.1.0", "-t", tag, str(o.app_context)),
        ("kind", "load", "docker-image", "--name", "mc-test", "todo-backend:0.1.0", tag),
        ("kubectl", "--kubeconfig", k, "apply", "-f", str(o.app_manifests)),
        (
            "kubectl", "--kubeconfig", k, "set", "image", "deployment/todo-backend", f"todo-backend={tag}",
            "--namespace", "todo",
        ),
        ("kubectl", "--kubeconfig", k, "get", "pods", "--namespace", "todo", "-o", "json"),
        (
            "kubectl",
            "--kubeconfig",
            k,
            "rollout",
            "status",
            "deployment/todo-backend",
            "--namespace",
            "todo",
            "--timeout=10s",
        ),
        *(("helm", "repo", "add", name, url, "--force-update", *repo) for name, url in REPOS),
        ("helm", "dependency", "build", str(o.chart), *repo),
        (
            "helm",
            "upgrade",
            "--install",
            "monitoring",
            str(o.chart),
            "--namespace",
            "monitoring",
            "--create-namespace",
            "--values",
            str(o.values),
            helm_wait,
            "--timeout",
            "600s",
            "--kubeconfig",
            k,
        ),
        ("kubectl", "--kubeconfig", k, "get", "pods,jobs", "--namespace", "monitoring", "-o", "json"),
    ]  # fmt: skip


def test_happy_run_runs_exactly_this_command_sequence(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    run = make_run(options, runner, clock, host)

    run.up()
    run.down(failed=False)

    k = str(options.kubeconfig_path)
    assert runner.commands() == [
        *expected_up(options),
        ("kind", "delete", "cluster", "--name=mc-test", f"--kubeconfig={k}"),
    ]
    assert all(timeout > 0 for timeout in runner.timeouts)


def test_happy_run_takes_t0_right_before_helm_and_times_every_phase(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    run = make_run(options, happy_runner(), clock, host)

    run.up()
    run.down(failed=False)

    assert run.t0 == 1795773000.0  # the injected wall clock, read just before `helm upgrade --install`
    assert "right before `helm upgrade --install`" in run.t0_source
    assert run.versions["todo-backend image"] == options.image_tag
    phases = ["preflight", "cluster", "image", "app", "dependency build", "install", "teardown"]
    assert list(run.phases.timings) == phases
    assert run.versions["kind"] == "v0.32.0"
    assert run.versions["helm"] == "v4.1.4"


def test_helm3_gets_plain_wait(options: KindOptions, tools: Path, clock: FakeClock, host: Host) -> None:
    runner = happy_runner(helm_version="v3.19.0")

    make_run(options, runner, clock, host).up()

    assert runner.commands() == expected_up(options, helm_wait="--wait")


def test_existing_cluster_is_reused_and_never_deleted(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["kind", "get", "clusters"], stdout="kind\nmc-test\n")
    run = make_run(dataclasses.replace(options, keep="never"), runner, clock, host)

    run.up()
    run.down(failed=False)

    kind_commands = [c[:2] for c in runner.commands() if c[0] == "kind"]
    assert ("kind", "export") in kind_commands
    assert ("kind", "create") not in kind_commands
    assert ("kind", "delete") not in kind_commands


def test_kind_create_failure_names_the_phase_and_deletes_nothing(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["kind", "create"], returncode=1, stderr=(
        "ERROR: failed to create cluster: node(s) already exist for a cluster with the name\n"))
    run = make_run(options, runner, clock, host)

    with pytest.raises(PhaseFailed, match=r"kind target: cluster failed: `.*kind create cluster.*exited 1"):
        run.up()
    run.down(failed=True)

    assert not run.cluster_up
    assert all(c[:2] != ("kind", "delete") for c in runner.commands())
    assert runner.commands()[-1][:3] == ("kind", "create", "cluster")


def test_image_load_failure_keeps_cluster_on_failure(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(
        ["kind", "load"], returncode=1, stderr='ERROR: image: "todo-backend:0.1.0" not present locally\n'
    )
    lines: list[str] = []
    run = KindRun(options, runner, clock=clock.clock, echo=lines.append, host=host)

    with pytest.raises(PhaseFailed) as failure:
        run.up()
    run.down(failed=True)

    assert failure.value.phase == "image"
    assert "not present locally" in str(failure.value)
    assert f"docker image inspect {options.image_tag}" in str(failure.value)
    assert all(c[:2] != ("kind", "delete") for c in runner.commands())
    assert any("kept (--keep-cluster on-failure)" in line for line in lines)


def test_image_load_failure_deletes_created_cluster_with_keep_never(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["kind", "load"], returncode=1, stderr='ERROR: no nodes found for cluster "mc-test"\n')
    run = make_run(dataclasses.replace(options, keep="never"), runner, clock, host)

    with pytest.raises(PhaseFailed):
        run.up()
    run.down(failed=True)

    assert runner.commands()[-1][:3] == ("kind", "delete", "cluster")


def test_dependency_build_without_network_says_so(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["helm", "dependency", "build"], returncode=1, stderr=(
        "Error: could not download https://prometheus-community.github.io/helm-charts/index.yaml: "
        'Get "https://prometheus-community.github.io/helm-charts/index.yaml": '
        "dial tcp: lookup prometheus-community.github.io: no such host\n"))

    failure = up_fails(options, runner, clock, host)

    assert failure.phase == "dependency build"
    assert "no such host" in failure.reason
    assert "could not be reached" in failure.fix
    assert all(c[:2] != ("helm", "upgrade") for c in runner.commands())


def test_dependency_build_other_failure_points_at_chart_yaml(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["helm", "dependency", "build"], returncode=1, stderr="Error: Chart.yaml file is missing\n")

    failure = up_fails(options, runner, clock, host)

    assert "Chart.yaml" in failure.fix
    assert "could not be reached" not in failure.fix


def test_install_timeout_lists_pods_that_are_not_ready(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.fail(["helm", "upgrade"], CommandFailed(["helm", "upgrade"], None, "", timeout=720))
    answer(runner, pods_of("monitoring"), stdout=kind_payload("pods-monitoring-pending.json"))

    failure = up_fails(options, runner, clock, host)

    message = str(failure)
    assert failure.phase == "install"
    assert "timed out after 720s" in message
    assert "monitoring/loki-0 (ContainerCreating in container loki)" in message
    assert "diagnostics" in failure.fix


def test_install_helm_timeout_is_bounded(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()

    make_run(options, runner, clock, host).up()

    index = next(i for i, c in enumerate(runner.commands()) if c[:2] == ("helm", "upgrade"))
    assert "--timeout" in runner.calls[index]
    assert runner.timeouts[index] == options.install_wait_seconds + 120


def test_pods_never_ready_time_out_on_the_injected_clock(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    answer(runner, pods_of("monitoring"), stdout=kind_payload("pods-monitoring-pending.json"))

    failure = up_fails(options, runner, clock, host)

    assert "not met after 300.0s" in str(failure)
    assert "1 of 7 pods not ready: monitoring/loki-0" in str(failure)
    assert clock.t - 1000.0 == pytest.approx(300.0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("pods-todo-crashloop.json", "CrashLoopBackOff"),
        ("pods-todo-imagepullbackoff.json", "ImagePullBackOff"),
    ],
)
def test_app_stuck_pod_ends_the_wait_at_once(
    payload: str, reason: str, options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    answer(runner, pods_of("todo"), stdout=kind_payload(payload))

    failure = up_fails(options, runner, clock, host)

    assert failure.phase == "app"
    assert f"{reason} in container todo-backend" in str(failure)
    assert clock.sleeps == []
    assert all("rollout" not in c for c in runner.commands())


def test_app_err_image_pull_is_retried_not_final(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    pulls = iter([kind_payload("pods-todo-imagepull.json")] * 2)

    def first_pulls_fail(argv: tuple[str, ...]) -> Result | None:
        if pods_of("todo")((Path(argv[0]).name, *argv[1:])):
            return Result(argv, 0, next(pulls, kind_payload("pods-todo-ready.json")), "")
        return None

    runner.responders.insert(0, first_pulls_fail)
    rollouts = iter([1, 1])
    runner.responders.insert(
        0, lambda argv: Result(argv, next(rollouts, 0), "", "waiting") if "rollout" in argv else None
    )

    make_run(options, runner, clock, host).up()

    assert sum(1 for c in runner.commands() if "rollout" in c) == 3
    assert len(clock.sleeps) == 2


def test_failed_helm_hook_ends_the_readiness_wait(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    answer(runner, pods_of("monitoring"), stdout=kind_payload("pods-monitoring-hook-failed.json"))

    failure = up_fails(options, runner, clock, host)

    assert clock.sleeps == []
    assert (
        "monitoring/kps-admission-create (helm hook Job (pre-install,pre-upgrade) failed: "
        "Job has reached the specified backoff limit)" in str(failure)
    )


def test_app_rollout_retries_until_complete(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    outcomes = iter([1, 1, 0])

    def rollout(argv: tuple[str, ...]) -> Result | None:
        if "rollout" in argv:
            code = next(outcomes)
            return Result(argv, code, "", "error: timed out waiting for the condition" if code else "")
        return None

    runner.responders.insert(0, rollout)

    make_run(options, runner, clock, host).up()

    assert sum(1 for c in runner.commands() if "rollout" in c) == 3
    assert len(clock.sleeps) == 2


def test_preflight_failure_runs_nothing_else(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["docker", "info"], returncode=1, stderr=(
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the daemon running?"))
    run = make_run(options, runner, clock, host)

    with pytest.raises(PreflightFailed, match="docker engine not reachable"):
        run.up()
    run.down(failed=True)

    assert [c[0] for c in runner.commands()] == ["docker", "kind", "helm", "kubectl"]


@pytest.mark.parametrize(
    ("policy", "created", "failed", "delete"),
    [
        ("never", True, False, True),
        ("never", True, True, True),
        ("on-failure", True, False, True),
        ("on-failure", True, True, False),
        ("always", True, False, False),
        ("always", True, True, False),
        ("never", False, False, False),
        ("on-failure", False, False, False),
    ],
)
def test_keep_policy(policy: str, created: bool, failed: bool, delete: bool) -> None:
    assert should_delete(policy, created=created, failed=failed) is delete


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-27T10:02:03.123456789Z", 1795773723.123456),
        ("2026-11-27T11:02:03+01:00", 1795773723.0),
        ("2026-11-27T10:02:03.5Z", 1795773723.5),
        ("", None),
        ("yesterday", None),
        ("2026-11-27T10:02:03", None),
    ],
)
def test_deployed_at_reads_helm_timestamps(stamp: str, expected: float | None) -> None:
    assert deployed_at({"info": {"last_deployed": stamp}}) == (pytest.approx(expected) if expected else None)


def test_namespace_manifests_are_applied_before_the_folder(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    folder = options.app_manifests
    folder.mkdir(parents=True)
    (folder / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    (folder / "namespace.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: todo\n")
    runner = happy_runner()

    make_run(options, runner, clock, host).up()

    applies = [c[-1] for c in runner.commands() if "apply" in c]
    assert applies == [str(folder / "namespace.yaml"), str(folder)]


# -- teardown state and messages -----------------------------------------------------------------------------


def test_a_deleted_cluster_is_no_longer_up(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    run = make_run(dataclasses.replace(options, keep="never"), happy_runner(), clock, host)
    run.up()
    assert run.cluster_up

    run.down(failed=True)

    assert not run.cluster_up  # so nothing collects diagnostics from a cluster that is gone


def test_a_cluster_that_could_not_be_deleted_still_counts_as_up(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["kind", "delete"], returncode=1, stderr="ERROR: failed to delete cluster")
    run = make_run(dataclasses.replace(options, keep="never"), runner, clock, host)
    run.up()

    run.down(failed=True)

    assert run.cluster_up


def test_kind_create_failure_quotes_the_last_lines_of_its_captured_output(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    said = "\n".join(f"line {n}" for n in range(1, 13))
    runner.on(["kind", "create"], returncode=1, stderr=said)

    failure = up_fails(options, runner, clock, host)

    message = str(failure)
    assert "its last output: line 5 | line 6" in message
    assert "line 12" in message
    assert "line 4 " not in message
    assert "above" not in message
    assert "docker ps -a --filter label=io.x-k8s.kind.cluster=mc-test" in failure.fix


# -- the plan and the run come from one list of steps --------------------------------------------------------


def planned_and_ran(
    options: KindOptions, clock: FakeClock, host: Host, helm: str
) -> tuple[set[tuple[str, ...]], list[tuple[str, ...]]]:
    runner = happy_runner(helm_version=helm)
    run = make_run(options, runner, clock, host)
    planned = {tuple(line) for line in [*run.plan(), *run.teardown_plan()] if not line[0].startswith("#")}
    assert runner.calls == []  # listing the plan ran nothing

    run.up()
    run.down(failed=False)

    return planned, runner.calls


def test_every_command_the_run_runs_is_in_the_plan(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    planned, ran = planned_and_ran(options, clock, host, "v4.1.4")

    assert [argv for argv in ran if argv not in planned] == []
    # planned but not run here: the reuse branch, and the Grafana pods (no Grafana watch in this run)
    left_out = sorted(" ".join(argv[1:3]) if "export" in argv else argv[-3] for argv in planned - set(ran))
    assert left_out == ["app.kubernetes.io/name=grafana", "export kubeconfig"]


def test_a_command_that_differs_from_the_plan_is_found(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    planned, ran = planned_and_ran(options, clock, host, "v3.19.0")  # the plan shows helm 4's flags

    unplanned = [Path(argv[0]).name + " " + " ".join(argv[1:3]) for argv in ran if argv not in planned]
    assert unplanned == ["helm upgrade --install"]
