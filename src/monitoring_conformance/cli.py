"""``monitoring-conformance`` / ``python -m monitoring_conformance``: run the conformance suite.

It runs pytest on the repository's tests/conformance with pytest-kind's plugin off, JUnit XML in the report
folder and the user's options (any other argument goes to pytest as it is). Exit codes:

* 0: verdict pass
* 1: verdict fail (a requirement failed, or, in strict mode, was not verified)
* 2: bad input (an option, a file, an unreachable Prometheus); one line on stderr
* 3: the run could not complete (interrupted, internal error, no tests collected)
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

# Only light modules here: the signal handlers go in before pytest, the clients and kind's libraries are
# imported (about 1.5 s), so that a Ctrl-C or SIGTERM in the first second ends the run like any other.
from monitoring_conformance import interrupts, resources
from monitoring_conformance.errors import ConformanceError, UsageError
from monitoring_conformance.option_scope import WARNING_PREFIX
from monitoring_conformance.redact import redact
from monitoring_conformance.settings import (
    DEFAULT_PROFILE,
    OPTION_BY_NAME,
    OPTIONS,
    check_values_file,
    ensure_writable,
    parse_bool,
)
from monitoring_conformance.tools.runner import Runner, SubprocessRunner

if TYPE_CHECKING:
    from monitoring_conformance import preflight

SUITE_DIR = resources.SUITE
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
JUNIT_NAME = "junit.xml"  # report.JUNIT_NAME (report imports pytest; this module must not, see above)
PROG = "monitoring-conformance"


def exit_code(pytest_code: int) -> int:
    """Map pytest's exit code to this tool's (see the module docstring)."""
    import pytest

    if pytest_code == pytest.ExitCode.OK:
        return EXIT_PASS
    if pytest_code == pytest.ExitCode.TESTS_FAILED:
        return EXIT_FAIL
    if pytest_code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    return EXIT_INCOMPLETE


def help_text() -> str:
    lines = [
        f"usage: {PROG} [options] [pytest arguments]",
        "",
        "Checks the Todo backend's monitoring stack against a requirement profile and writes",
        "acceptance.json, acceptance.md and junit.xml into the report folder.",
        "",
        "options (flag / environment twin / default):",
    ]
    for opt in OPTIONS:
        flag = "--strict / --no-strict" if opt.name == "strict" else opt.flag
        default = opt.default if opt.default is not None else "-"
        lines.append(f"  {flag:<24} {opt.env:<24} {default:<24} {opt.help}")
    lines += [
        "",
        "Each option comes from the command line, else its environment twin, else an ini key mc_<name>,",
        "else the default (--report-dir has no ini key). ./scripts/conformance sets MC_TARGET=kind when",
        "it is unset.",
        "Grafana credentials come from MC_GRAFANA_USER / MC_GRAFANA_PASSWORD or MC_GRAFANA_TOKEN only.",
        "exit codes: 0 pass, 1 verdict fail, 2 bad input, 3 run incomplete",
        "  (3: interrupted by Ctrl-C or SIGTERM, the target could not be opened, the kind preflight failed,",
        "  or the report could not be written); a run that ends with 3 leaves no junit.xml (acceptance.json",
        "  says why: verdict interrupted or incomplete)",
    ]
    return "\n".join(lines)


def _option_value(args: Sequence[str], flag: str) -> str | None:
    value = None
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def report_dir(args: Sequence[str], env: dict[str, str]) -> tuple[Path, str]:
    """The report folder the run will use (CLI > env > default), checked writable before pytest starts,
    and the option as given (for messages).

    The same folder the plugin resolves: ``report_dir`` has no ini twin (settings refuse ``mc_report_dir``).
    """
    opt = OPTION_BY_NAME["report_dir"]
    given, shown = _given(args, env, "report_dir")
    directory = Path(given or str(opt.default))
    shown = shown or f"{opt.flag} {directory}"
    return ensure_writable(directory, shown), shown


def _given(args: Sequence[str], env: dict[str, str], name: str) -> tuple[str | None, str | None]:
    """Option ``name`` as the user gave it (its flag, else its non-empty env twin), and how that reads
    in a message (``--flag value`` or ``ENV=value``); ``(None, None)`` when not given."""
    opt = OPTION_BY_NAME[name]
    value = _option_value(args, opt.flag)
    if value is not None:
        return value, f"{opt.flag} {value}"
    if env.get(opt.env):
        return env[opt.env], f"{opt.env}={env[opt.env]}"
    return None, None


def plan_requested(args: Sequence[str], env: dict[str, str]) -> bool:
    """Whether this run only prints its plan (``--plan`` or a true ``MC_PLAN``)."""
    plan_env = OPTION_BY_NAME["plan"].env
    raw_plan = env.get(plan_env, "")
    return "--plan" in args or (raw_plan != "" and parse_bool(raw_plan, f"{plan_env}={raw_plan}"))


def kind_preflight(
    args: Sequence[str],
    env: dict[str, str],
    runner: Runner | None = None,
    host: preflight.Host | None = None,
) -> None:
    """For the kind target (without --plan), check the machine before pytest starts.

    A machine without Docker or kind stops here in a second or two with the preflight's lines (what is
    missing, one line each with its fix) and nothing else: no pytest session, no report of a run that
    never started. A ``--values`` file that does not exist is a usage error before any command runs.
    """
    given, shown = _given(args, env, "values")
    if given is not None and shown is not None:
        check_values_file(Path(given), shown)
    if _target(args, env) != "kind" or plan_requested(args, env):
        return
    from monitoring_conformance import preflight

    preflight.require(preflight.run_preflight(runner or SubprocessRunner(), host))


def _target(args: Sequence[str], env: dict[str, str]) -> str:
    return _given(args, env, "target")[0] or str(OPTION_BY_NAME["target"].default)


def pytest_args(args: Sequence[str], directory: Path, *, plan: bool = False) -> list[str]:
    """pytest's argv. A plan run writes no JUnit: an empty junit.xml reads as "0 failures" to a CI gate."""
    extra = list(args)
    wanted = [
        str(SUITE_DIR),
        "-p", "no:pytest-kind",
        # installed, pytest's rootdir is the common ancestor of the cwd and site-packages (e.g. $HOME)
        "-p", "no:cacheprovider",
        # this process imported the plugin before pytest started, so pytest cannot rewrite its asserts
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]  # fmt: skip
    if not plan:
        wanted.append(f"--junitxml={directory / JUNIT_NAME}")
    if not any(a.startswith("--tb") for a in extra):
        wanted.append("--tb=short")
    return [*wanted, *extra]


def _condense(stderr: str) -> str:
    """pytest's usage error output (possibly several lines) as one line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if ": error: " in line:
            return f"{line.split(': error: ', 1)[1]}; see {PROG} --help"
    for line in lines:
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()
    return lines[0] if lines else "bad input"


def main(argv: Sequence[str] | None = None, *, plugins: Sequence[object] = ()) -> int:
    """Run the suite; return the exit code. No traceback reaches the user."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "-h" in args or "--help" in args:
        sys.stdout.write(help_text() + "\n")
        return EXIT_PASS
    started = time.time()
    env = dict(os.environ)
    previous: dict[int, object] = {}
    try:
        try:  # the handlers go in inside the try: a signal right after them is an interrupt, not a traceback
            previous = interrupts.install()
            return _run(args, env, plugins, started)
        except KeyboardInterrupt:  # before pytest ran, or during its start-up (imports, options)
            return _interrupted(args, env, started)
    finally:
        interrupts.restore(previous)


class _HeldStderr(io.StringIO):
    """pytest's stderr, held for the end of the run; ``warning:`` lines go through at once."""

    def __init__(self, through: TextIO) -> None:
        super().__init__()
        self.through = through

    def write(self, text: str) -> int:
        if text.startswith(WARNING_PREFIX):
            self.through.write(redact(text))
            self.through.flush()
            return len(text)
        return super().write(text)


def _run(args: list[str], env: dict[str, str], plugins: Sequence[object], started: float) -> int:
    import pytest

    from monitoring_conformance import preflight
    from monitoring_conformance import report as reports
    from monitoring_conformance.gate import OutputGate

    captured = _HeldStderr(sys.stderr)
    # pytest's header waits here until the target is open: bad input shows as one line on stderr, alone
    gate = OutputGate(sys.stdout)
    directory: Path | None = None
    try:
        if missing := resources.problem():
            raise UsageError(missing)
        directory, shown_dir = report_dir(args, env)
        # an earlier run's report must not outlive this one (e.g. a "pass" next to this run's bad input)
        reports.remove_stale(directory, shown_dir)
        kind_preflight(args, env)
        suite_argv = pytest_args(args, directory, plan=plan_requested(args, env))
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(gate):
            code = int(pytest.main(suite_argv, plugins=[gate, *plugins]))
    except UsageError as exc:
        sys.stderr.write(f"{redact(str(exc))}\n")
        return EXIT_USAGE
    except preflight.PreflightFailed as exc:
        assert directory is not None
        _write_stopped(directory, args, env, started, reports.INCOMPLETE, str(exc).splitlines())
        sys.stderr.write(f"{redact(str(exc))}\n")
        return EXIT_INCOMPLETE
    except ConformanceError as exc:
        gate.release()
        _spill(captured)
        _drop_junit(directory)
        sys.stderr.write(f"{redact(str(exc))}\n")
        return EXIT_INCOMPLETE
    except KeyboardInterrupt:
        if not gate.released:
            gate.drop()
        _spill(captured)  # what pytest said on stderr before the interrupt got out of it
        return _interrupted(args, env, started, directory)
    except Exception as exc:  # the promise is: no traceback, ever
        gate.release()
        _spill(captured)
        _drop_junit(directory)
        sys.stderr.write(redact(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}") + "\n")
        return EXIT_INCOMPLETE
    if code == pytest.ExitCode.INTERRUPTED or interrupts.first():
        if not gate.released:
            gate.drop()  # the session header of a run that never started checking
        _spill(captured)
        return _interrupted(args, env, started, directory)
    result = exit_code(code)
    if result == EXIT_USAGE:
        gate.drop()
        with contextlib.suppress(UsageError):  # pytest's JUnit of a run that never ran
            reports.remove_stale(directory, str(directory))
        sys.stderr.write(redact(_condense(captured.getvalue())) + "\n")
    else:
        gate.release()
        _spill(captured)
        if result == EXIT_INCOMPLETE:
            _drop_junit(directory)
    return result


def _interrupted(
    args: Sequence[str], env: dict[str, str], started: float, directory: Path | None = None
) -> int:
    """End an interrupted run: no JUnit, an acceptance report whose verdict is ``interrupted`` (the plugin's,
    when the suite got far enough to write one), one line on stderr; exit 3."""
    import signal

    for sig in interrupts.SIGNALS:  # the clean-up below is short: let nothing cut it in half
        signal.signal(sig, signal.SIG_IGN)
    how = interrupts.first() or "SIGINT"
    where = ""
    with contextlib.suppress(UsageError, OSError, ValueError):
        directory = directory or report_dir(args, env)[0]
        _drop_junit(directory)
        from monitoring_conformance import report as reports

        if not _mark_interrupted(directory, how, since=started):
            _write_stopped(directory, args, env, started, reports.INTERRUPTED,
                           [f"interrupted by {how} before the suite started checking"])
        where = f"; report: {directory / reports.MARKDOWN_NAME}"
    sys.stderr.write(f"interrupted by {how}: run incomplete, nothing was left running{where}\n")
    return EXIT_INCOMPLETE


def _mark_interrupted(directory: Path, how: str, *, since: float) -> bool:
    """Make the report this run's suite wrote read ``interrupted`` (a signal that came after it was
    written); False when there is none to mark. A report older than ``since`` is an earlier run's (the
    signal came before it was removed): it is never marked, the caller writes this run's over it."""
    import json

    from monitoring_conformance import report as reports

    path = directory / reports.JSON_NAME
    try:
        if path.stat().st_mtime < since:
            return False
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(report, dict):
        return False
    if report.get("verdict") != reports.INTERRUPTED:
        report["verdict"] = reports.INTERRUPTED
        diagnostics = report.setdefault("diagnostics", {})
        diagnostics.setdefault("session", []).append(f"interrupted by {how} after the checks ended")
        reports.write(report, directory)
    return True


def _write_stopped(
    directory: Path, args: Sequence[str], env: dict[str, str], started: float, verdict: str, lines: list[str]
) -> None:
    """acceptance.json/md of a run that stopped before the suite could write its own (no requirement was
    checked): the verdict (interrupted or incomplete) and why, one problem per line."""
    from monitoring_conformance import report as reports

    target = _target(args, env)
    profile = _given(args, env, "profile")[0] or DEFAULT_PROFILE.get(target, "-")
    built = reports.build(
        [], strict=True, target=target, profile=profile, started=started, duration_s=time.time() - started,
        session_problems=[line for line in lines if line.strip()], stopped=verdict,
    )
    with contextlib.suppress(OSError, ValueError):
        reports.write(built, directory)


def _drop_junit(directory: Path | None) -> None:
    """Remove the JUnit of a run that did not complete (exit 3): a CI gate would read its cases (none when
    the target did not open, or the ones that ran before an interrupt) as green. acceptance.json stays."""
    if directory is not None:
        with contextlib.suppress(OSError):
            (directory / JUNIT_NAME).unlink(missing_ok=True)


def _spill(captured: io.StringIO) -> None:
    """Write what pytest wrote to stderr during the run (held until now), redacted."""
    text = captured.getvalue()
    if text:
        sys.stderr.write(redact(text) if text.endswith("\n") else redact(text) + "\n")

