"""The kind target inside a real pytest session (in process): a target that fails to open still leaves a
report with the phases it ran, the run ends with exit 3, and diagnostics are collected exactly once."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.doubles import FakeClock
from tests.doubles.runner import RecordingRunner

from monitoring_conformance import cli
from monitoring_conformance.cli import SUITE_DIR
from monitoring_conformance.orchestrate import KindOptions
from monitoring_conformance.preflight import Host
from monitoring_conformance.progress import terminal
from monitoring_conformance.settings import Settings
from monitoring_conformance.targets import kind as kind_module

from .conftest import answer, happy_runner, kind_payload, pods_of

pytestmark = pytest.mark.unit


def crash_looping_app() -> RecordingRunner:
    runner = happy_runner()
    answer(runner, pods_of("todo"), stdout=kind_payload("pods-todo-crashloop.json"))
    return runner


def run_kind_session(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    report_dir: Path,
    runner: RecordingRunner,
    options: KindOptions,
    host: Host,
    *args: str,
) -> tuple[pytest.RunResult, list[str]]:
    lines: list[str] = []
    base = kind_module.KindTarget

    class ScriptedKindTarget(base):  # type: ignore[misc, valid-type]
        """The real KindTarget over a RecordingRunner, a fake clock and the test's host and options."""

        def __init__(self, settings: Settings, _runner: Any) -> None:
            super().__init__(settings, runner, clock=FakeClock().clock, echo=lines.append, host=host,
                             options=options)  # fmt: skip

    monkeypatch.setattr(kind_module, "KindTarget", ScriptedKindTarget)
    result = pytester.runpytest_inprocess(
        str(SUITE_DIR), "-p", "no:pytest-kind", "-p", "no:cacheprovider", "--target", "kind",
        "--report-dir", str(report_dir), *args,
    )  # fmt: skip
    return result, lines


def test_a_kind_target_that_did_not_open_reports_its_phases_and_exits_3(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, options: KindOptions,
    tools: Path, host: Host,
) -> None:
    report_dir = tmp_path / "reports"
    runner = crash_looping_app()

    result, lines = run_kind_session(pytester, monkeypatch, report_dir, runner, options, host)

    assert result.ret == 3  # README: 3 = run incomplete (the target could not be opened)
    report = json.loads((report_dir / "acceptance.json").read_text())
    assert list(report["timings"]) == ["preflight", "cluster", "image", "app", "teardown"]
    assert report["versions"]["kind"] == "v0.32.0"
    assert report["versions"]["helm"] == "v4.1.4"
    assert report["versions"]["todo-backend image"] == options.image_tag
    assert report["verdict"] == "fail"
    assert any("the kind target did not open" in p for p in report["diagnostics"]["session"])
    assert not any("INTERNAL_ERROR" in p for p in report["diagnostics"]["session"])
    wide = [c for c in runner.commands() if c[-3:] == ("--all-namespaces", "-o", "wide")]
    assert len(wide) == 1  # diagnostics once: at the failure, not again at the end of the session
    assert sum("kept (--keep-cluster on-failure)" in line for line in lines) == 1


def test_a_deleted_cluster_is_not_asked_for_diagnostics_again(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, options: KindOptions,
    tools: Path, host: Host,
) -> None:
    runner = crash_looping_app()
    never = KindOptions(**{**options.__dict__, "keep": "never"})

    result, lines = run_kind_session(pytester, monkeypatch, tmp_path / "reports", runner, never, host)

    assert result.ret == 3
    commands = runner.commands()
    deleted = next(i for i, c in enumerate(commands) if c[:3] == ("kind", "delete", "cluster"))
    assert all(c[0] != "kubectl" for c in commands[deleted:])  # nothing asked of a cluster that is gone
    assert f"[kind] cluster {options.cluster_name} deleted" in lines


def test_plan_with_a_broken_target_is_one_line_not_an_internal_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from monitoring_conformance.errors import ToolError

    def broken(self: Any) -> list[list[str]]:
        raise ToolError("kind not found at /nowhere/kind: install kind v0.27 or newer")

    monkeypatch.setattr(kind_module.KindTarget, "plan", broken)

    result = pytester.runpytest_inprocess(
        str(SUITE_DIR), "-p", "no:pytest-kind", "-p", "no:cacheprovider", "--target", "kind", "--plan",
        "--report-dir", str(tmp_path / "reports"),
    )  # fmt: skip

    assert result.ret == 3
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "--plan: kind not found at /nowhere/kind" in result.stdout.str() + result.stderr.str()


def test_progress_lines_bypass_the_cli_capture_and_the_kept_line_survives_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, options: KindOptions, tools: Path, host: Host
) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", terminal)
    runner = happy_runner()  # `kind create` is scripted: no kubeconfig appears, a usage error after install
    base = kind_module.KindTarget

    class ScriptedKindTarget(base):  # type: ignore[misc, valid-type]
        def __init__(self, settings: Settings, _runner: Any) -> None:
            super().__init__(settings, runner, clock=FakeClock().clock, host=host, options=options)

    monkeypatch.setattr(kind_module, "KindTarget", ScriptedKindTarget)
    monkeypatch.setattr(cli, "kind_preflight", lambda args, env: None)  # the target's own preflight runs

    code = cli.main([
        "--target", "kind", "--report-dir", str(tmp_path / "reports"), "-p", "no:cacheprovider",
        "-p", "no:faulthandler",  # it wants a real file descriptor behind sys.__stderr__
    ])  # fmt: skip

    shown = terminal.getvalue().splitlines()
    assert code == 2
    assert shown[0].startswith("[kind] preflight         ok")
    assert any(line.startswith("[kind] install           ok") for line in shown)
    kept = [line for line in shown if "kept (--keep-cluster on-failure)" in line]
    assert len(kept) == 1
    assert f"delete with `kind delete cluster --name {options.cluster_name}`" in kept[0]


def test_terminal_writes_past_a_redirected_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    real, captured = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", real)

    with contextlib.redirect_stderr(captured):
        terminal("[kind] cluster          ok     61.0s")

    assert real.getvalue() == "[kind] cluster          ok     61.0s\n"
    assert captured.getvalue() == ""
