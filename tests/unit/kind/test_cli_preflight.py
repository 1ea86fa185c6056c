"""The CLI checks the machine before pytest starts, for the kind target only and never with --plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_conformance.cli import kind_preflight
from monitoring_conformance.errors import CommandFailed
from monitoring_conformance.preflight import Host, PreflightFailed
from monitoring_conformance.tools.runner import RecordingRunner

from .conftest import happy_runner

pytestmark = pytest.mark.unit


def no_docker_runner() -> RecordingRunner:
    runner = happy_runner()
    refused = CommandFailed(["docker", "info"], 1, "Cannot connect to the Docker daemon")
    runner.fail(["docker", "info"], refused)
    return runner


def test_kind_target_without_docker_stops_before_pytest(tools: Path, host: Host) -> None:
    runner = no_docker_runner()

    with pytest.raises(PreflightFailed) as failure:
        kind_preflight(["--target", "kind"], {}, runner, host)

    first = str(failure.value).splitlines()[0]
    assert first == "kind target cannot start: docker engine not reachable"
    assert "install Docker" in str(failure.value)


def test_kind_target_from_environment_is_checked(tools: Path, host: Host) -> None:
    with pytest.raises(PreflightFailed, match="docker engine not reachable"):
        kind_preflight([], {"MC_TARGET": "kind"}, no_docker_runner(), host)


def test_healthy_machine_passes(tools: Path, host: Host) -> None:
    runner = happy_runner()

    kind_preflight(["--target=kind"], {}, runner, host)

    assert [c[:2] for c in runner.commands()][:2] == [("docker", "info"), ("kind", "version")]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--target", "urls"], {}),
        ([], {}),
        (["--target", "kind", "--plan"], {}),
        (["--target", "kind"], {"MC_PLAN": "true"}),
    ],
)
def test_other_targets_and_plans_run_no_preflight(args: list[str], env: dict[str, str], host: Host) -> None:
    runner = no_docker_runner()

    kind_preflight(args, env, runner, host)

    assert runner.calls == []
