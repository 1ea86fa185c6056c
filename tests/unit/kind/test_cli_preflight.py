"""The CLI checks the machine before pytest starts, for the kind target only and never with --plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.cli import SUITE_DIR, kind_preflight, main
from monitoring_conformance.errors import CommandFailed, UsageError
from monitoring_conformance.preflight import Host, PreflightFailed
from monitoring_conformance.settings import resolve

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


@pytest.mark.parametrize("value", ["on", "1", "yes", "TRUE"])
def test_plan_env_uses_the_settings_truthy_values(value: str, host: Host) -> None:
    runner = no_docker_runner()

    kind_preflight(["--target", "kind"], {"MC_PLAN": value}, runner, host)

    assert runner.calls == []


@pytest.mark.parametrize("value", ["off", "0", "no", "false"])
def test_plan_env_switched_off_still_checks_the_machine(value: str, tools: Path, host: Host) -> None:
    with pytest.raises(PreflightFailed):
        kind_preflight(["--target", "kind"], {"MC_PLAN": value}, no_docker_runner(), host)


def test_a_bad_plan_env_value_is_a_usage_error_before_any_command(host: Host) -> None:
    runner = no_docker_runner()

    with pytest.raises(UsageError, match=r"^MC_PLAN=maybe: not a yes/no value; use true or false$"):
        kind_preflight(["--target", "kind"], {"MC_PLAN": "maybe"}, runner, host)

    assert runner.calls == []


@pytest.mark.parametrize(
    ("args", "env", "shown"),
    [
        (["--target", "kind", "--values", "/nope.yaml"], {}, "--values /nope.yaml"),
        (["--target", "kind", "--plan", "--values=/nope.yaml"], {}, "--values /nope.yaml"),
        (["--target", "kind"], {"MC_VALUES": "/nope.yaml"}, "MC_VALUES=/nope.yaml"),
    ],
)
def test_missing_values_file_stops_before_any_command(
    args: list[str], env: dict[str, str], shown: str, host: Host
) -> None:
    runner = no_docker_runner()

    with pytest.raises(UsageError) as failure:
        kind_preflight(args, env, runner, host)

    assert str(failure.value) == (
        f"{shown}: file not found; pass a values file such as charts/monitoring/ci/kind-values.yaml"
    )
    assert runner.calls == []


def test_values_are_validated_when_settings_are_resolved(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^--values /nope.yaml: file not found; pass a values file such"):
        resolve({"target": "kind", "values": "/nope.yaml"}, {})
    with pytest.raises(UsageError, match=r"^MC_VALUES=.*: not a file; "):
        resolve({"target": "kind"}, {"MC_VALUES": str(tmp_path)})
    given = tmp_path / "v.yaml"
    given.write_text("{}\n")
    assert resolve({"target": "kind", "values": str(given)}, {}).values == given


def test_main_with_a_missing_values_file_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["--target", "kind", "--plan", "--values", "/nope.yaml", "--report-dir", str(tmp_path / "r")])

    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "--values /nope.yaml: file not found; pass a values file such as "
        "charts/monitoring/ci/kind-values.yaml\n"
    )


def test_plan_session_with_a_missing_values_file_is_a_usage_error_not_internal(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest_inprocess(
        str(SUITE_DIR), "-p", "no:pytest-kind", "-p", "no:cacheprovider", "--target", "kind", "--plan",
        "--values", "/nope.yaml", "--report-dir", str(tmp_path / "reports"),
    )  # fmt: skip

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "--values /nope.yaml: file not found" in result.stderr.str()
