"""What conformance tests get: the run's state (:class:`Suite`) and the fixtures built from it.

The suite is inert until it is activated: by ``--target`` on the command line, or by collecting tests
marked ``requirement`` (the tests/conformance folder). Only then are options validated, the profile
loaded and (after collection) the target opened.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from monitoring_conformance import profile as profiles
from monitoring_conformance import report as reports
from monitoring_conformance import resources, targets, wait
from monitoring_conformance import settings as options
from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.loki import Loki
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import app as app_checks
from monitoring_conformance.errors import ConformanceError, UsageError
from monitoring_conformance.profile import Profile, Spec
from monitoring_conformance.redact import redact, register_secret
from monitoring_conformance.requirement import Record, Unavailable
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack, Target
from monitoring_conformance.tools.runner import SubprocessRunner

CHART_DIR = resources.CHART
DASHBOARD_DIR = CHART_DIR / "dashboards"

#: Why a fixture cannot give a system, per system: becomes the not_verified reason.
MISSING = {
    "prometheus": "no Prometheus endpoint on this target",
    "grafana": "no Grafana endpoint on this target: pass --grafana-url (urls target)",
    "loki": "no Loki endpoint on this target: pass --loki-url (urls target)",
    "app": "no Todo backend endpoint on this target: pass --app-url (urls target)",
}

#: The API client class of each system.
CLIENTS: dict[str, Callable[[Endpoint], Any]] = {
    "prometheus": Prometheus, "grafana": Grafana, "loki": Loki, "app": TodoApp,
}


class Phase(Enum):
    """Where a run is. INERT until activated; REFUSED (bad input) and OPEN_FAILED end it early."""

    INERT = "inert"  # no --target and no conformance test collected: the suite does nothing
    ACTIVE = "active"  # options resolved, profile loaded
    COLLECTED = "collected"  # the requirement tests are selected and ordered; the target opens next
    REFUSED = "refused"  # a usage error (one line, exit 2): no report, the JUnit file is dropped
    OPEN_FAILED = "open failed"  # the target did not open (exit 3); the report is still written
    FINISHED = "finished"  # the report is written (or the --plan printed)
    VERDICT_SHOWN = "verdict shown"  # the verdict line was printed (terminal summary, else unconfigure)


@dataclass
class Suite:
    """One conformance run: settings, profile, target, stack and the records of every requirement."""

    config: pytest.Config
    settings: Settings | None = None
    profile: Profile | None = None
    target: Target | None = None
    stack: Stack | None = None
    phase: Phase = Phase.INERT
    selected: set[str] = field(default_factory=set)
    records: dict[str, Record] = field(default_factory=dict)
    clients: dict[str, Any] = field(default_factory=dict)
    baseline: app_checks.Baseline | None = None
    problems: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    report_paths: tuple[Path, Path] | None = None
    verdict: str | None = None

    # -- start-up -------------------------------------------------------------------------------------

    def activate(self, read_cli: Callable[[], dict[str, object | None]], ini: dict[str, str | None]) -> None:
        """Resolve and validate everything that needs no network. Idempotent."""
        if self.phase is not Phase.INERT:
            return
        self.phase = Phase.ACTIVE
        try:
            settings = options.resolve(read_cli(), options.environment(), ini)
            for secret in settings.grafana.secrets():  # masked in every message from here on
                register_secret(secret)
            wait.set_timeout_scale(settings.timeout_scale)
            options.check_report_dir(settings)
            reports.remove_stale(settings.report_dir, settings.shown("report_dir"))
            loaded = profiles.load(settings.profile, settings.shown("profile"))
        except UsageError as exc:
            self._refuse(exc)
        self.settings = settings
        self.profile = loaded.bind(
            {
                "app_namespace": settings.app_namespace,
                "monitoring_namespace": settings.monitoring_namespace,
                "release": settings.release,
            }
        )
        for rid in self.profile.ids():
            self.records[rid] = Record.new(rid)

    def _refuse(self, error: UsageError) -> NoReturn:
        """Bad input: pytest's usage error (one line, exit 4; the CLI makes it exit 2)."""
        self.phase = Phase.REFUSED
        raise pytest.UsageError(redact(str(error))) from None

    def plan_lines(self, session_factory: targets.SessionFactory | None) -> list[str]:
        assert self.settings is not None
        try:
            target = targets.create(self.settings, SubprocessRunner(), session_factory=session_factory)
            plan = target.plan()
        except UsageError as exc:
            self._refuse(exc)
        except ConformanceError as exc:  # never an INTERNALERROR: one line, run incomplete (exit 3)
            self.phase = Phase.FINISHED
            pytest.exit(redact(f"--plan: {' '.join(str(exc).split())}"), returncode=3)
        # A plan entry starting with "#" is a note (a condition, a phase heading): printed as is.
        commands = [" ".join(a) if a[:1] and a[0].startswith("#") else shlex.join(a) for a in plan]
        return commands or [f"(the {target.name} target runs no commands)"]

    def open(self, session_factory: targets.SessionFactory | None) -> None:
        """Create and open the target; a usage problem becomes pytest.UsageError (one line, exit 4)."""
        assert self.settings is not None
        assert self.profile is not None
        try:
            self.target = targets.create(self.settings, SubprocessRunner(), session_factory=session_factory)
            self.stack = self.target.open()
        except UsageError as exc:
            self._refuse(exc)
        except ConformanceError as exc:
            self.phase = Phase.OPEN_FAILED
            self.problems.append(f"the {self.settings.target} target did not open: {exc}")
            # 3: the run could not complete (README's exit codes); the report is still written
            pytest.exit(redact(f"the {self.settings.target} target did not open: {exc}"), returncode=3)
        # urls: the stack was not deployed from this checkout, so its chart version is only the checkout's
        chart_key = "chart (checkout)" if self.settings.target == "urls" else "chart"
        self.stack.versions.setdefault(chart_key, chart_version())
        spec = self.profile.spec("app.unchanged")
        if spec is not None and "app.unchanged" in self.selected:
            self.baseline = app_checks.take_baseline(self.client("prometheus"), self.client("app"), spec)

    # -- during the run -------------------------------------------------------------------------------

    def client(self, system: str) -> Any:
        """The API client of ``system`` (prometheus, grafana, loki, app), or None when not offered."""
        if system in self.clients:
            return self.clients[system]
        endpoint: Endpoint | None = getattr(self.stack, system, None) if self.stack else None
        made = CLIENTS[system](endpoint) if endpoint is not None else None
        self.clients[system] = made
        return made

    def fill_versions(self) -> dict[str, str]:
        """The stack's versions, completed (best effort, one request each) from the clients."""
        versions = dict(self.stack.versions) if self.stack else {}
        for system in ("prometheus", "grafana", "loki"):
            client = self.client(system) if system not in versions else None
            if client is None:
                continue
            try:
                found = client.version()
            except Exception:  # noqa: S112 - a version is nice to have, never a reason to fail
                continue
            if found:
                versions[system] = str(found)
        return versions

    def record(self, requirement_id: str) -> Record:
        if requirement_id not in self.records:
            self.records[requirement_id] = Record.new(requirement_id)
        return self.records[requirement_id]

    def elapsed(self) -> float:
        return time.monotonic() - self.started_mono


def chart_version() -> str:
    """``version`` of charts/monitoring/Chart.yaml, or ``unknown``."""
    try:
        data = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "unknown"
    return str(data.get("version", "unknown")) if isinstance(data, dict) else "unknown"


SUITE = pytest.StashKey[Suite]()


def item_requirement(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("requirement")
    return str(marker.args[0]) if marker is not None and marker.args else None


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def suite(request: pytest.FixtureRequest) -> Suite:
    """The conformance run (active only when conformance tests are collected)."""
    state = request.config.stash.get(SUITE, None)
    if state is None or state.phase is Phase.INERT or state.stack is None:
        pytest.skip("the conformance suite is not active in this run (no target opened)")
    return state


@pytest.fixture(scope="session")
def settings(suite: Suite) -> Settings:
    assert suite.settings is not None
    return suite.settings


@pytest.fixture(scope="session")
def stack(suite: Suite) -> Stack:
    assert suite.stack is not None
    return suite.stack


def _system(name: str, system: str) -> Any:
    """A session fixture ``name`` giving the client of ``system``, or an :class:`Unavailable` the plugin
    turns into not_verified before the test runs (a failure in strict mode; a skip here could only ever
    be a skip)."""

    def client(suite: Suite) -> Any:
        made = suite.client(system)
        return Unavailable(system, MISSING[system]) if made is None else made

    client.__doc__ = f"The {system} API client of the target ({CLIENTS[system].__name__})."
    return pytest.fixture(scope="session", name=name)(client)


prometheus = _system("prometheus", "prometheus")
grafana = _system("grafana", "grafana")
loki = _system("loki", "loki")
todo_app = _system("todo_app", "app")


@pytest.fixture
def requirement_id(request: pytest.FixtureRequest) -> str:
    """The id of the requirement the current test checks (the plugin also parametrizes it, for test ids)."""
    rid = item_requirement(request.node)
    assert rid is not None, f"{request.node.nodeid} has no @requirement marker"
    return rid


@pytest.fixture
def spec(suite: Suite, requirement_id: str) -> Spec:
    """The profile's entry for the requirement of the current test."""
    assert suite.profile is not None
    found = suite.profile.spec(requirement_id)
    if found is None:
        pytest.skip(f"requirement {requirement_id} is not part of profile {suite.profile.name}")
    return found


@pytest.fixture
def record(suite: Suite, requirement_id: str) -> Record:
    """The requirement's record: the check writes its figure, evidence and message here."""
    return suite.record(requirement_id)


@pytest.fixture(scope="session")
def app_baseline(suite: Suite) -> app_checks.Baseline | None:
    """The restart baseline taken when the target opened (``mode: unchanged``)."""
    return suite.baseline
