"""Ctrl-C (SIGINT) and a CI cancel (SIGTERM) sent to the real CLI process, early and in the middle of a run.

Each must end with one line on stderr, exit 3, a report whose verdict is ``interrupted``, no junit.xml and no
report of an earlier run, and no process of the run left behind. The CLI runs in a session of its own, so
"left behind" means: a process of that session still alive after the CLI exited.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from monitoring_conformance.localstack import LocalStack
from monitoring_conformance.wait import eventually
from tests.live.live_support import FIGURES
from tests.unit.core.helpers import CLEAN_ENV

pytestmark = pytest.mark.live

#: A requirement that waits (for a series that never appears) long enough to be interrupted in the middle.
WAITING_PROFILE = "requirements:\n  metrics.cpu: {timeout: 300, queries: {never: 'mc_never_there_total'}}\n"
EXIT_TIMEOUT = 60.0


def _caught_signals(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigCgt in /proc/{pid}/status")


def _session_members(sid: int) -> list[str]:
    """Live processes of session ``sid`` (``pid command``); zombies waiting for their parent count too."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:
            members.append(f"{stat.parent.name} {text.split(')')[0].split('(', 1)[1]}")
    return members


@dataclass
class Interrupted:
    returncode: int
    stdout: str
    stderr: str
    report_dir: Path
    seconds: float

    def describe(self) -> str:
        return f"exit {self.returncode}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}"


class CliProcess:
    """The CLI as a user starts it, in its own session, output in files (read while it runs)."""

    def __init__(self, workdir: Path, args: list[str]) -> None:
        self.report_dir = workdir / "reports"
        self.report_dir.mkdir(parents=True)
        # what an earlier, passing run left: neither may outlive this run
        (self.report_dir / "acceptance.json").write_text(json.dumps({"verdict": "pass"}))
        (self.report_dir / "junit.xml").write_text('<testsuites><testsuite tests="1"/></testsuites>')
        self.out, self.err = workdir / "stdout", workdir / "stderr"
        env = {**os.environ, **CLEAN_ENV, "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-m", "monitoring_conformance", "--report-dir", str(self.report_dir), *args]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                argv, cwd=workdir, env=env, stdout=out, stderr=err, start_new_session=True
            )
        self.started = time.monotonic()

    def running(self) -> None:
        code = self.process.poll()
        assert code is None, f"exited early with {code}: {self.err.read_text()}"

    def handlers_installed(self) -> None:
        self.running()
        assert _caught_signals(self.process.pid) & (1 << (signal.SIGTERM - 1)), "SIGTERM not caught yet"

    def stdout_shows(self, text: str) -> None:
        self.running()
        assert text in self.out.read_text(), f"{text!r} not on stdout yet"

    def interrupt(self, sig: signal.Signals) -> Interrupted:
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=EXIT_TIMEOUT)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        leftovers = _session_members(self.process.pid)
        if leftovers:
            os.killpg(self.process.pid, signal.SIGKILL)
        assert not leftovers, f"processes of the run still alive after it exited: {leftovers}"
        return Interrupted(code, self.out.read_text(), self.err.read_text(), self.report_dir,
                           time.monotonic() - self.started)


@pytest.fixture
def waiting_profile(tmp_path: Path) -> Path:
    path = tmp_path / "waiting.yaml"
    path.write_text(WAITING_PROFILE)
    return path


def assert_interrupted(run: Interrupted, sig: signal.Signals) -> dict[str, Any]:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 3, run.describe()
    assert len(lines) == 1, run.describe()
    assert lines[0].startswith(f"interrupted by {sig.name}: run incomplete"), run.describe()
    assert "Traceback" not in run.stdout + run.stderr, run.describe()
    assert not (run.report_dir / "junit.xml").exists(), "a junit.xml outlived the interrupted run"
    report = json.loads((run.report_dir / "acceptance.json").read_text())
    assert report["verdict"] == "interrupted", report
    assert (run.report_dir / "acceptance.md").read_text().startswith("# Acceptance report: INTERRUPTED")
    return dict(report)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_in_the_first_second_ends_the_run_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    """Sent as soon as the handlers are in, while the CLI still imports pytest and the clients."""
    cli = CliProcess(tmp_path, ["--prometheus-url", "http://127.0.0.1:9"])
    eventually(cli.handlers_installed, timeout=10, interval=0.005, what="the CLI's signal handlers")
    waited = time.monotonic() - cli.started

    run = cli.interrupt(sig)

    report = assert_interrupted(run, sig)
    FIGURES[f"{sig.name} after {waited:.2f}s of start-up: exit after (s)"] = round(run.seconds, 2)
    assert report["requirements"] == [], report
    reason = f"interrupted by {sig.name} before the suite started checking"
    assert report["diagnostics"] == {"session": [reason]}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_signal_during_a_check_ends_the_run_with_its_records(
    tmp_path: Path, healthy_stack: LocalStack, waiting_profile: Path, sig: signal.Signals
) -> None:
    cli = CliProcess(tmp_path, ["--target", "urls", "--prometheus-url", healthy_stack.prometheus_url,
                                "--profile", str(waiting_profile)])  # fmt: skip
    eventually(lambda: cli.stdout_shows("test_metrics.py"), timeout=60, interval=0.05,
               what="the metrics.cpu check running")  # fmt: skip

    run = cli.interrupt(sig)

    report = assert_interrupted(run, sig)
    assert [r["id"] for r in report["requirements"]] == ["metrics.cpu"], report
    session = report["diagnostics"]["session"]
    assert f"interrupted by {sig.name}: the checks did not finish" in session, report
