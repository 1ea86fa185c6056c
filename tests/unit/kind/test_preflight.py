"""Preflight: every failure listed, one line each with its fix; all within a 10 s budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.errors import CommandFailed
from monitoring_conformance.preflight import Host, PreflightFailed, require, run_preflight

from .conftest import happy_runner

pytestmark = pytest.mark.unit

NO_DAEMON = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
)


def failures(runner: RecordingRunner, host: Host) -> str:
    with pytest.raises(PreflightFailed) as failure:
        require(run_preflight(runner, host))
    return str(failure.value)


def test_all_present_returns_versions(tools: Path, host: Host) -> None:
    found = require(run_preflight(happy_runner(), host))

    assert found["docker"] == "engine 28.0.4"
    assert found["kind"] == "v0.32.0"
    assert found["helm"] == "v4.1.4"
    assert found["kubectl"] == "v1.36.3"
    assert found["memory"] == "16.0 GiB available"


def test_no_tools_at_all_lists_every_one(tmp_path: Path, host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("monitoring_conformance.tools.runner.TOOLS_DIR", tmp_path / "no-tools")
    runner = RecordingRunner()

    message = failures(runner, host)

    lines = message.splitlines()
    assert lines[0] == (
        "kind target cannot start: docker not found, kind not found, helm not found, kubectl not found"
    )
    assert len(lines) == 5
    assert lines[1].startswith("  - docker not found on PATH: install Docker")
    assert "kind v0.27 or newer" in lines[2]
    assert runner.calls == []


def test_docker_engine_down_is_named_with_its_reason(tools: Path, host: Host) -> None:
    runner = happy_runner()
    runner.on(["docker", "info"], returncode=1, stderr=NO_DAEMON)

    message = failures(runner, host)

    assert message.splitlines()[0] == "kind target cannot start: docker engine not reachable"
    assert f"docker engine not reachable ({NO_DAEMON}): install Docker" in message


def test_docker_info_hanging_is_a_timeout_not_a_stall(tools: Path, host: Host) -> None:
    runner = happy_runner()
    runner.fail(["docker", "info"], CommandFailed(["docker", "info"], None, "", timeout=3))

    assert "`docker info` timed out after 3s" in failures(runner, host)


def test_kind_too_old(tools: Path, host: Host) -> None:
    runner = happy_runner()
    runner.on(["kind", "version"], stdout="kind v0.20.0 go1.20.4 linux/amd64\n")

    message = failures(runner, host)

    assert "kind too old" in message.splitlines()[0]
    assert "kind v0.20.0" in message
    assert "need v0.27 or newer" in message


def test_helm_2_is_not_supported(tools: Path, host: Host) -> None:
    runner = happy_runner()
    runner.on(["helm", "version"], stdout="v2.17.0")

    assert "helm v2.17.0" in failures(runner, host)


def test_low_memory_and_inotify_are_both_listed(tools: Path, host: Host) -> None:
    host.meminfo.write_text("MemTotal: 8000000 kB\nMemAvailable:    2097152 kB\n")
    (host.proc_sys / "fs" / "inotify" / "max_user_instances").write_text("128\n")

    message = failures(happy_runner(), host)

    assert (
        message.splitlines()[0] == "kind target cannot start: too little free memory, inotify limits too low"
    )
    assert "only 2.0 GiB memory available (need 6 GiB)" in message
    assert "fs.inotify.max_user_instances=128 (need 512)" in message
    assert "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512" in message


def test_inotify_not_checked_off_linux(tools: Path, host: Host) -> None:
    (host.proc_sys / "fs" / "inotify" / "max_user_instances").write_text("128\n")
    mac = Host(meminfo=host.meminfo, proc_sys=host.proc_sys, platform="darwin")

    found = require(run_preflight(happy_runner(), mac))

    assert found["inotify"] == "not checked on darwin"


def test_preflight_stays_within_ten_seconds_even_when_commands_hang(tools: Path, host: Host) -> None:
    runner = happy_runner()

    run_preflight(runner, host)

    assert len(runner.calls) == 4
    assert sum(runner.timeouts) <= 10
