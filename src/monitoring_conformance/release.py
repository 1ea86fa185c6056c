"""The chart steps both kube targets share, and the step list that ``--plan`` prints and ``up()`` runs.

A run is a list of :class:`Step`: each names its phase, the command it runs (or what its ``run`` runs) and
the fix when it fails. ``--plan`` prints the steps' lines, :func:`run_steps` runs the same steps phase by
phase (timed by :class:`Phases`), so the plan and the run cannot drift. :class:`ChartRelease` gives the
steps of the chart: every http(s) repository of Chart.yaml added to a run-local repository config, ``helm
dependency build`` (none when ``charts/`` holds what Chart.lock pins), then ``helm upgrade --install`` with a
bounded wait (flags from the helm version) while Grafana is watched (:mod:`.install_watch`), then a wait for
every pod of the namespace that stops early on CrashLoopBackOff, ImagePullBackOff or a failed hook. A failing
step raises :class:`PhaseFailed`: one line naming the target, the phase, the reason and the fix.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from monitoring_conformance import vendored
from monitoring_conformance.errors import (
    CommandFailed,
    ConformanceError,
    ToolError,
    Unrecoverable,
)
from monitoring_conformance.helm_wait import HelmWaitReporter
from monitoring_conformance.install_watch import (
    GRAFANA_SELECTOR,
    HANDOVER_EVERY,
    INTERVAL,
    PODS_EVERY,
    T0_SOURCE,
    GrafanaWatch,
    Readiness,
    install_watched,
)
from monitoring_conformance.progress import Echo, terminal
from monitoring_conformance.tools.helm import INSTALL_MARGIN_S, Helm, HelmVersion, RepoFiles
from monitoring_conformance.tools.kubectl import Kubectl, kubeconfig_access, not_ready, wait_pods_ready
from monitoring_conformance.tools.runner import Runner, with_env
from monitoring_conformance.wait import Clock

NETWORK_MARKERS = ("no such host", "dial tcp", "i/o timeout", "could not download", "connection refused",
                   "tls handshake timeout", "failed to fetch", "network is unreachable",
                   "is not a valid chart repository or cannot be reached", "no cached repository")
DIAGNOSTICS_FIX = "read the pod describe/logs in the diagnostics folder of the report directory"
REPO_ADD_TIMEOUT = 120.0
DEPENDENCY_BUILD_TIMEOUT = 300.0
#: Shown for helm's version in --plan (the run uses the one helm reports).
PLAN_HELM = HelmVersion(4, 0, 0)


class PhaseFailed(ConformanceError):
    """A phase of a kube target failed. The message names the phase, the reason and the fix."""

    def __init__(self, phase: str, reason: str, fix: str = "", *, target: str = "kind"):
        self.phase, self.reason, self.fix = phase, reason, fix
        text = f"{target} target: {phase} failed: {reason}"
        super().__init__(f"{text}\n  fix: {fix}" if fix else text)


# -- steps ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step: ``argv`` is the command up() runs (with ``timeout``) unless ``run`` is given; ``run`` then
    runs the commands ``shows`` lists (built by the same methods). ``note`` is printed as a ``#`` line.

    A ToolError, Unrecoverable or AssertionError becomes PhaseFailed(phase, reason, ``fix``); ``quote``
    puts the last lines of the failed command's captured output into the reason.
    """

    phase: str
    argv: list[str] | None = None
    timeout: float = 60.0
    note: str = ""
    run: Callable[[], object] | None = None
    shows: tuple[list[str], ...] = ()
    fix: str | Callable[[str], str] = ""
    quote: bool = False

    def lines(self) -> list[list[str]]:
        note = [[f"# {self.note}"]] if self.note else []
        return [*note, *([self.argv] if self.argv else []), *self.shows]

    def execute(self, runner: Runner, target: str) -> None:
        try:
            if self.run is not None:
                self.run()
            elif self.argv is not None:
                runner.run(self.argv, timeout=self.timeout)
        except (ToolError, Unrecoverable, AssertionError) as exc:
            reason = with_output(exc) if self.quote and isinstance(exc, ToolError) else str(exc)
            fix = self.fix(str(exc)) if callable(self.fix) else self.fix
            raise PhaseFailed(self.phase, reason, fix, target=target) from exc


def plan_lines(steps: Sequence[Step]) -> list[list[str]]:
    return [line for step in steps for line in step.lines()]


@dataclass
class Phases:
    """Times each phase with the injected clock (a phase entered again adds up) and, unless ``quiet``,
    prints one line per phase (``[kind] install ok 212.4s``)."""

    clock: Clock
    echo: Echo = terminal
    prefix: str = "[kind]"
    quiet: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start, outcome = self.clock.now(), "FAILED"
        try:
            yield
            outcome = "ok"
        finally:
            seconds = self.clock.now() - start
            self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)
            if not self.quiet:
                self.echo(f"{self.prefix} {name:<17} {outcome:<6} {seconds:7.1f}s")


def run_steps(steps: Sequence[Step], phases: Phases, runner: Runner, target: str) -> None:
    """Run the steps in order, each run of steps of one phase inside that phase's timing."""
    for name, group in itertools.groupby(steps, key=lambda step: step.phase):
        with phases.phase(name):
            for step in group:
                step.execute(runner, target)


def with_output(exc: ToolError, lines: int = 8) -> str:
    """The error, plus the last lines the command wrote (its output is captured, not on the terminal)."""
    said = [line.strip() for line in exc.stderr.strip().splitlines() if line.strip()] \
        if isinstance(exc, CommandFailed) else []
    if not isinstance(exc, CommandFailed) or not said:
        return str(exc)
    ran = f"`{' '.join(exc.argv)}`"
    head = f"{ran} timed out after {exc.timeout:g}s" if exc.returncode is None and exc.timeout else \
        f"{ran} exited {exc.returncode}"
    return f"{head}; its last output: " + " | ".join(said[-lines:])


# -- helm bound to a cluster ------------------------------------------------------------------------------


class ClusterHelm(Helm):
    """helm bound to one kubeconfig/context: every command built by ``argv()`` carries the flags.

    A kubeconfig path list (``a:b``) goes into the ``KUBECONFIG`` environment of every command instead.
    """

    def __init__(self, runner: Runner, path: str, *, kubeconfig: str | os.PathLike[str] | None = None,
                 context: str | None = None):  # fmt: skip
        flags, env = kubeconfig_access(kubeconfig)
        super().__init__(with_env(runner, env), path)
        self.env = env
        self.kube_args: list[str] = [*flags, *(["--kube-context", context] if context else [])]

    def argv(self, *args: str) -> list[str]:
        return [self.path, *args, *self.kube_args]


# -- chart repositories -----------------------------------------------------------------------------------


def repo_name(url: str) -> str:
    """A stable repository name from its URL: ``https://grafana.github.io/helm-charts`` -> ``grafana``.

    GitHub Pages hosts give their owner (``prometheus-community``, ``grafana-community``, ``grafana``); any
    other URL gives its host and path, lower-case, with every other character turned into ``-``.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith(".github.io"):
        return host.removesuffix(".github.io")
    return re.sub(r"[^a-z0-9]+", "-", f"{host}{parts.path}".lower()).strip("-") or "repository"


def chart_repositories(chart: Path) -> list[tuple[str, str]]:
    """(name, URL) of every http(s) repository in ``chart/Chart.yaml``'s dependencies, each once, in order.

    ``file://``, ``oci://`` and ``@alias`` repositories need no ``helm repo add``.
    """
    path = chart / "Chart.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise PhaseFailed("dependency build", f"cannot read {path} ({reason})",
                          f"restore {path} (a Chart.yaml with its dependencies)") from None
    found: dict[str, str] = {}
    for entry in (data.get("dependencies") if isinstance(data, dict) else None) or []:
        url = str(entry.get("repository") or "").strip() if isinstance(entry, dict) else ""
        if url.startswith(("https://", "http://")) and url.rstrip("/") not in found:
            found[url.rstrip("/")] = repo_name(url)
    names: dict[str, int] = {}
    result: list[tuple[str, str]] = []
    for url, name in found.items():
        names[name] = names.get(name, 0) + 1
        result.append((name if names[name] == 1 else f"{name}-{names[name]}", url))
    return result


def dependency_commands(helm: Helm, chart: Path, repos: RepoFiles) -> list[list[str]]:
    """``helm repo add`` per repository, then ``helm dependency build``, all with the run-local repo files.

    None at all when ``chart/charts`` already holds the archives Chart.lock pins
    (:mod:`~monitoring_conformance.vendored`): the install then makes no network call for the chart.
    """
    if vendored.missing_reason(chart) is None:
        return []
    adds = [helm.repo_add_argv(name, url, repos) for name, url in chart_repositories(chart)]
    return [*adds, helm.dependency_build_argv(chart, repos)]


def dependency_fix(text: str, chart: Path, repos: RepoFiles, url: str | None) -> str:
    lowered = text.lower()
    if "no repository definition" in lowered:
        return (f"helm found no repository entry for a dependency of {chart}/Chart.yaml in {repos.config}: "
                "every dependency's `repository:` must be an http(s) URL (added by this run), a file:// path "
                "or an alias of a repository added by hand")
    if any(marker in lowered for marker in NETWORK_MARKERS):
        return (f"{url or f'the repositories in {chart}/Chart.yaml'} could not be reached: run with network "
                f"access to it (`curl -sI {url or 'URL'}/index.yaml` must answer), or put the dependency "
                f"archives into {chart}/charts")
    return f"check the dependencies in {chart}/Chart.yaml and {chart}/Chart.lock"


def dependency_steps(
    helm: Helm, chart: Path, repos: RepoFiles, phase: str = "dependency build"
) -> list[Step]:
    """The repository folder made, then every ``helm repo add`` and the ``helm dependency build``."""
    steps = [Step(phase, note=f"dependency build (repository config and cache in {repos.config.parent})",
                  run=lambda: repos.cache.mkdir(parents=True, exist_ok=True))]
    for argv in dependency_commands(helm, chart, repos):
        url = argv[4] if argv[1:3] == ["repo", "add"] else None
        steps.append(Step(phase, argv, timeout=REPO_ADD_TIMEOUT if url else DEPENDENCY_BUILD_TIMEOUT,
                          fix=partial(dependency_fix, chart=chart, repos=repos, url=url)))
    return steps


def build_dependencies(
    runner: Runner, helm: Helm, chart: Path, repos: RepoFiles, *, target: str = "kind"
) -> None:
    """Add the chart repositories, then ``helm dependency build``; a failure's fix says what to do."""
    for step in dependency_steps(helm, chart, repos):
        step.execute(runner, target)


# -- the install ------------------------------------------------------------------------------------------


@dataclass
class ChartRelease:
    """The chart's release in one namespace: its steps (dependency build, install with Grafana watched,
    readiness wait) and what the install found out (t0, the Grafana readiness, helm's progress lines)."""

    helm: ClusterHelm
    kubectl: Kubectl
    release: str
    chart: Path
    namespace: str
    values: Path | None
    repos: RepoFiles
    clock: Clock
    wall: Callable[[], float] = time.time
    echo: Echo = terminal
    target: str = "kind"
    wait_seconds: int = 900
    ready_timeout: float = 300.0
    rollback: bool = False
    #: Builds the Grafana watch when the install starts (None: not watched).
    watch: Callable[[], GrafanaWatch | None] | None = None
    version: HelmVersion | None = None
    watcher: GrafanaWatch | None = None
    readiness: Readiness | None = None
    t0: float | None = None
    t0_source: str = "unknown"
    #: Progress lines printed while helm waited (also written to the diagnostics).
    helm_wait: list[str] = field(default_factory=list)

    def install_argv(self) -> list[str]:
        return self.helm.upgrade_install_argv(
            self.release, self.chart, namespace=self.namespace,
            values_files=[self.values] if self.values else [], version=self.version or PLAN_HELM,
            wait_seconds=self.wait_seconds, rollback_on_failure=self.rollback,
        )

    def steps(self, *, build_phase: str = "dependency build", ask_version: bool = False) -> list[Step]:
        """``ask_version``: run ``helm version`` first (the kind target has it from its preflight)."""
        ns, kubectl = self.namespace, self.kubectl
        helm3 = "--wait and --atomic" if self.rollback else "--wait instead of --wait=legacy"
        asked = [Step("install", [self.helm.path, "version", "--template", "{{.Version}}"],
                      run=self._ask_version)] if ask_version else []  # fmt: skip
        try:
            dependencies = dependency_steps(self.helm, self.chart, self.repos, build_phase)
        except PhaseFailed as exc:  # an unreadable Chart.yaml: said for the target that runs
            raise PhaseFailed(build_phase, exc.reason, exc.fix, target=self.target) from None
        return [
            *asked, *dependencies,
            Step("install", note=f"install (helm 4 shown; helm 3 gets {helm3})", run=self._install,
                 shows=(self.install_argv(),
                        [f"# while helm runs: GET Grafana /api/health and its overview dashboard through "
                         f"the API-server proxy every {INTERVAL:g}s (t0: the wall clock right before helm "
                         f"starts; the admin login from Secret {ns}/grafana once it exists), and every "
                         f"{PODS_EVERY:g}s (every {HANDOVER_EVERY:g}s while Grafana answers and a pod from "
                         "before t0 is alive: an answer counts only from pods created after t0):"],
                        kubectl.pods_argv(ns, selector=GRAFANA_SELECTOR))),
            Step("install", note="then repeated until every pod is ready; stops early on CrashLoopBackOff/"
                 "ImagePullBackOff or a failed hook Job", shows=(kubectl.pods_and_jobs_argv(ns),),
                 run=lambda: wait_pods_ready(kubectl, ns, timeout=self.ready_timeout, clock=self.clock),
                 fix=DIAGNOSTICS_FIX),
        ]

    def _ask_version(self) -> None:
        self.version = self.helm.version()

    def _install(self) -> None:
        """``helm upgrade --install`` with a bounded wait while Grafana is watched (t0 right before helm)."""
        self.version = self.version or self.helm.version()  # the flags follow the helm that runs
        argv = self.install_argv()
        timeout = self.wait_seconds + INSTALL_MARGIN_S
        self.watcher = self.watch() if self.watch else None
        reporter = HelmWaitReporter(self.kubectl, self.namespace, self.echo, self.clock,
                                    prefix=f"[{self.target}]", lines=self.helm_wait)
        budget = timeout + (self.watcher.grace if self.watcher else 0)
        try:
            _, self.t0, self.readiness = install_watched(
                lambda: self.helm.runner.run(argv, timeout=timeout), self.watcher, clock=self.clock,
                wall=self.wall, budget=budget, reporter=reporter,
            )
        except ToolError as exc:
            hint = self._pods_hint()
            raise PhaseFailed("install", f"{exc}{hint}", DIAGNOSTICS_FIX, target=self.target) from exc
        self.t0_source = T0_SOURCE
        ready = self.readiness
        if ready is not None:
            seen = (f"{ready.ready_at - self.t0:.1f}s after helm started" if ready.ready_at is not None
                    else f"not seen ({ready.evidence.get('stopped')})")
            self.echo(f"[{self.target}] grafana ready: {seen}")

    def _pods_hint(self) -> str:
        """After a failed install: the pods that are not ready, as a hint (best effort)."""
        try:
            waiting = not_ready(self.kubectl.pods(self.namespace))
        except ToolError:
            return ""
        return "; not ready: " + ", ".join(state.describe() for state in waiting[:8]) if waiting else ""

    def watched_login(self) -> tuple[str, str] | None:
        """The login the watch used once it saw Grafana ready (the Secret need not be read again)."""
        if self.watcher is None or self.readiness is None or not self.readiness.ready_at:
            return None
        return self.watcher.used
