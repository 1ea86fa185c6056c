"""pytest hooks of the conformance suite: options, activation, outcomes -> records, the acceptance report.

The plugin is loaded in every pytest run of this environment (pytest11 entry point) and stays inert
unless the conformance suite is in play: ``--target`` on the command line (options are then validated at
start-up), or collected tests marked ``requirement`` (tests/conformance). Only when such tests are
collected, and not with ``--collect-only``, is the target opened, and only then is a report written.

``--strict`` is pytest's own flag (pytest 9); it also turns on strict verdicts here. ``--no-strict`` is
ours. Options that another plugin already registered are skipped (their env twins still work).
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from monitoring_conformance import interrupts, series, settings, wait
from monitoring_conformance import report as reports
from monitoring_conformance.checks import diagnose
from monitoring_conformance.checks.base import CheckFailed, NotVerifiable
from monitoring_conformance.errors import UsageError
from monitoring_conformance.fixtures import SUITE, Phase, Suite, item_requirement
from monitoring_conformance.option_scope import WARNING_PREFIX, ignored_options
from monitoring_conformance.redact import redact
from monitoring_conformance.requirement import (
    FAIL,
    NOT_VERIFIED,
    PASS,
    NotVerified,
    Unavailable,
    first_line,
)
from monitoring_conformance.settings import OPTIONS

pytest_plugins = ("monitoring_conformance.fixtures",)

#: The first requirement to run: grafana.ready_within_30s measures from t0, so nothing may delay it.
RUN_FIRST = ("grafana.ready_within_30s",)
#: Next to last: alerts.fire takes the backend down and back, so the other checks run before it.
RUN_LATE = ("alerts.fire",)
#: The last requirement to run: app.unchanged looks at the whole session (the fault's recovery included).
RUN_LAST = ("app.unchanged",)


def run_order(item: pytest.Item) -> int:
    """0 for :data:`RUN_FIRST`, 2 for :data:`RUN_LATE`, 3 for :data:`RUN_LAST`, 1 for the rest (a stable
    sort keeps their order)."""
    rid = item_requirement(item)
    return 0 if rid in RUN_FIRST else 3 if rid in RUN_LAST else 2 if rid in RUN_LATE else 1


class ConformanceHooks:
    """Hooks other plugins (test doubles) may implement."""

    @pytest.hookspec(firstresult=True)
    def pytest_mc_session_factory(self, config: pytest.Config) -> Any:
        """Return ``callable(system_name) -> requests.Session`` used by the urls target (test doubles)."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(ConformanceHooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("monitoring-conformance", "conformance suite (Todo backend's monitoring stack)")
    for opt in OPTIONS:
        default = f"; default {opt.default}" if opt.default is not None else ""
        helptext = f"{opt.help} [env {opt.env}{default}]"
        try:
            if opt.name == "strict":
                group.addoption(
                    "--no-strict", dest=opt.dest, action="store_false", default=None,
                    help=f"report not_verified requirements without failing the verdict [env {opt.env}]",
                )
            elif opt.kind == "bool":
                group.addoption(opt.flag, dest=opt.dest, action="store_true", default=None, help=helptext)
            else:
                metavar = opt.kind.upper()
                group.addoption(opt.flag, dest=opt.dest, default=None, metavar=metavar, help=helptext)
        except ValueError:
            continue  # another plugin owns this flag; the env twin still works
        # an ini key without a twin is still registered, so that a value there is refused in one line
        inihelp = opt.help if opt.in_ini else f"refused: use {opt.flag} or {opt.env}"
        parser.addini(opt.ini, f"{inihelp} (conformance suite)", default=None)


def _read_cli(config: pytest.Config) -> dict[str, object | None]:
    values: dict[str, object | None] = {opt.name: config.getoption(opt.dest, default=None) for opt in OPTIONS}
    if values.get("strict") is None and getattr(config.option, "strict", False):
        values["strict"] = True  # pytest's own --strict
    return values


def _read_ini(config: pytest.Config) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for opt in OPTIONS:
        try:
            value = config.getini(opt.ini)
        except ValueError:
            value = None
        found[opt.name] = str(value) if value not in (None, "", []) else None
    return found


WARNED = pytest.StashKey[bool]()


def _activate(config: pytest.Config) -> Suite:
    suite = config.stash[SUITE]
    suite.activate(lambda: _read_cli(config), _read_ini(config))
    if suite.settings is not None and not config.stash.get(WARNED, False):
        config.stash[WARNED] = True
        for line in ignored_options(suite.settings):  # the run goes on: one line each, on stderr
            sys.stderr.write(f"{WARNING_PREFIX}{line}\n")
    return suite


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(id): the acceptance requirement a test checks")
    config.stash[SUITE] = Suite(config)
    # MC_TIMEOUT_SCALE for this process's own waits; a run that activates the suite resolves the option
    # again (CLI > env > ini) and refuses a bad value there, with the option named.
    with contextlib.suppress(UsageError):
        wait.set_timeout_scale(settings.env_timeout_scale(settings.environment()))
    if config.getoption("mc_target", default=None) is not None:
        _activate(config)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not any(item_requirement(item) for item in items):
        return
    suite = _activate(config)
    assert suite.profile is not None
    wanted = set(suite.profile.ids())
    keep = [item for item in items if item_requirement(item) in wanted | {None}]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    keep.sort(key=run_order)
    items[:] = keep
    suite.selected = {rid for rid in map(item_requirement, keep) if rid}
    suite.phase = Phase.COLLECTED


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Put the requirement id into the test id: ``test_request_rate_is_positive[metrics.request_rate]``."""
    marker = metafunc.definition.get_closest_marker("requirement")
    if marker is not None and marker.args and "requirement_id" in metafunc.fixturenames:
        rid = str(marker.args[0])
        metafunc.parametrize("requirement_id", [rid], ids=[rid])


#: The exit status of a run stopped before its tests (a plan printed, a target that did not open).
STOPPED = pytest.StashKey[int]()
#: Session problems already written to stderr (the verdict summary does not repeat them).
TOLD = pytest.StashKey[list[str]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    suite = config.stash[SUITE]
    if suite.phase is not Phase.COLLECTED or config.option.collectonly:
        return
    factory = config.hook.pytest_mc_session_factory(config=config)
    assert suite.settings is not None
    try:
        if suite.settings.plan:
            lines = suite.plan_lines(factory)
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            for line in lines:
                if reporter is not None:
                    reporter.write_line(line)
            suite.phase = Phase.FINISHED
            _stop(session, "", 0)
            return
        suite.open(factory)
    except pytest.exit.Exception as stop:  # the suite's own stop: one line, not pytest's "!!! Exit:" banner
        _stop(session, str(stop.msg), stop.returncode if stop.returncode is not None else 3)


def _stop(session: pytest.Session, message: str, code: int) -> None:
    """End the session before any test runs: no test is run, ``message`` is one line on stderr, and
    ``code`` is the session's exit status (set again in pytest_sessionfinish, after pytest's own)."""
    session.items.clear()
    session.config.stash[STOPPED] = code
    if message:
        line = " ".join(message.split())
        session.config.stash.setdefault(TOLD, []).append(line)
        sys.stderr.write(line + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """not_verified (a system the target lacks, or NotVerifiable from a check): a failure in strict mode,
    a skip with --no-strict. Only for conformance tests (marked ``requirement``): in any other test (this
    project's own) a NotVerifiable is an ordinary error, never a quiet skip."""
    if item_requirement(item) is None:
        return (yield)
    missing = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Unavailable)]
    if missing:
        _not_verified(item, missing[0].reason)
    try:
        return (yield)
    except NotVerifiable as exc:
        _not_verified(item, str(exc))


def _not_verified(item: pytest.Item, reason: str) -> NoReturn:
    suite = item.config.stash.get(SUITE, None)
    if suite is not None and suite.settings is not None and suite.settings.strict:
        raise NotVerified(reason)
    pytest.skip(f"not_verified: {reason}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    result = yield
    rid = item_requirement(item)
    suite = item.config.stash.get(SUITE, None)
    if rid is None or suite is None or suite.phase is not Phase.COLLECTED:
        return result
    decisive = result.when == "call" or (result.when == "setup" and not result.passed)
    if result.when == "teardown" and result.failed:
        decisive = True
    if not decisive:
        return result
    record = suite.record(rid)
    status, message = _outcome(result, call)
    record.add_case(item.name, status, message)
    # junitxml writes the properties of the teardown report, which copies the item's.
    item.user_properties.extend(reports.junit_properties(record, status))
    return result


def _outcome(result: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str, str]:
    if result.passed:
        return PASS, ""
    if result.skipped:
        longrepr = result.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        return NOT_VERIFIED, reason.removeprefix("Skipped: ").removeprefix("not_verified: ")
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, NotVerified):  # strict mode: a failing case, a not_verified requirement
        return NOT_VERIFIED, error.reason
    if isinstance(error, CheckFailed):
        return FAIL, str(error)
    if error is not None:
        where = "" if result.when == "call" else f" (in {result.when})"
        return FAIL, f"{type(error).__name__}{where}: {first_line(str(error))}"
    return FAIL, first_line(result.longreprtext)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _finish(session, exitstatus)
    stopped = session.config.stash.get(STOPPED, None)
    if stopped is not None and session.exitstatus != pytest.ExitCode.INTERNAL_ERROR:
        session.exitstatus = stopped


def _finish(session: pytest.Session, exitstatus: int) -> None:
    suite = session.config.stash.get(SUITE, None)
    if suite is None or suite.phase not in (Phase.COLLECTED, Phase.OPEN_FAILED):
        return
    if session.config.option.collectonly:
        return
    open_failed = suite.phase is Phase.OPEN_FAILED
    suite.phase = Phase.FINISHED
    assert suite.settings is not None
    assert suite.profile is not None
    for rid, record in suite.records.items():
        if not record.cases:
            record.add_case(rid, NOT_VERIFIED, "not run in this session (deselected, interrupted or no test)")
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    if interrupted:
        suite.problems.append(f"interrupted by {interrupts.first() or 'SIGINT'}: the checks did not finish")
    elif exitstatus == pytest.ExitCode.INTERNAL_ERROR and not open_failed:
        suite.problems.append(f"the pytest session ended with {pytest.ExitCode(exitstatus).name}")
    statuses = [r.status for r in suite.records.values()]
    failing = reports.verdict(statuses, strict=suite.settings.strict, session_ok=not suite.problems) == FAIL
    diagnostics: dict[str, Any] = {}
    if failing and not interrupted:  # an interrupted run stops now: no diagnostics round
        diagnostics = diagnose.collect(
            prometheus=suite.client("prometheus"),
            grafana=suite.client("grafana"),
            loki=suite.client("loki"),
            target=suite.target,
            directory=suite.settings.report_dir / "diagnostics",
        )
    # The plots of acceptance.html, read while the stack is still up (bounded; errors become notes);
    # none after Ctrl-C, which must end the run at once.
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    prometheus = None if interrupted else suite.client("prometheus")
    plotted = series.collect(prometheus, suite.profile, suite.started, time.time())
    # Close (kind teardown) before the report is built, so its checks/teardown timings land in it.
    stack = suite.stack
    target = suite.target  # its timings/versions tell how far a target that failed to open got
    _close(suite, failed=failing and not interrupted)  # interrupted: nothing kept running (kind included)
    built = reports.build(
        suite.records.values(),
        strict=suite.settings.strict,
        target=suite.settings.target,
        profile=suite.profile.name,
        started=suite.started,
        duration_s=suite.elapsed(),
        versions={**(getattr(target, "versions", None) or {}), **suite.fill_versions()},
        timings=stack.timings if stack else dict(getattr(target, "timings", None) or {}),
        diagnostics=diagnostics,
        series=plotted,
        session_problems=suite.problems,
        secrets=suite.settings.grafana.secrets(),
        stopped=reports.INTERRUPTED if interrupted else None,
    )
    suite.verdict = built["verdict"]
    try:
        suite.report_paths = reports.write(built, suite.settings.report_dir)
    except (OSError, ValueError) as exc:
        suite.problems.append(f"the report could not be written: {exc}")
        # nobody can read the verdict: the run is incomplete (CLI exit 3), whatever the verdict was
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    if suite.verdict == FAIL and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _close(suite: Suite, *, failed: bool) -> None:
    target, suite.target = suite.target, None
    if target is None:
        return
    try:
        target.close(failed=failed)
    except Exception as exc:
        suite.problems.append(f"closing the {target.name} target failed: {first_line(str(exc))}")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    suite = config.stash.get(SUITE, None)
    if suite is not None:
        _show_verdict(suite, terminalreporter, config.stash.get(TOLD, []))


def _show_verdict(suite: Suite, terminalreporter: Any, told: list[str]) -> None:
    """The verdict line with the report's path, and the session problems not yet on stderr; once."""
    if suite.verdict is None or suite.phase is Phase.VERDICT_SHOWN or terminalreporter is None:
        return
    suite.phase = Phase.VERDICT_SHOWN
    where = f" (report: {suite.report_paths[1]})" if suite.report_paths else ""
    terminalreporter.write_sep("=", f"acceptance verdict: {suite.verdict.upper()}{where}",
                               red=suite.verdict == FAIL, green=suite.verdict == PASS)
    for problem in suite.problems:
        if " ".join(redact(problem).split()) not in told:
            terminalreporter.write_line(f"  {problem}")


def pytest_unconfigure(config: pytest.Config) -> None:
    suite = config.stash.get(SUITE, None)
    if suite is not None:
        # pytest skips the terminal summary after pytest.exit(returncode=3) (the target did not open):
        # the report was written all the same, so say where it is
        _show_verdict(suite, config.pluginmanager.get_plugin("terminalreporter"), config.stash.get(TOLD, []))
        _close(suite, failed=True)
        if suite.phase is Phase.REFUSED:
            _drop_junit(config)


def _drop_junit(config: pytest.Config) -> None:
    """After a usage error, remove the JUnit file pytest wrote: 0 tests and no failure reads as a pass."""
    xmlpath = getattr(config.option, "xmlpath", None)
    if xmlpath:
        Path(xmlpath).unlink(missing_ok=True)
