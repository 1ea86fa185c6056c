"""The kubeconfig target: an existing cluster, reached through the API server's service proxy.

The release already installed is verified as it is; ``--install-chart`` installs or upgrades it first
(``helm upgrade --install`` with rollback on failure, so a failed upgrade leaves the cluster as it was),
watching Grafana meanwhile for a measured grafana.ready_within_30s. Nothing is ever deleted.

This is the one place that installs the chart (:class:`~monitoring_conformance.release.ChartRelease`),
builds the Grafana watch, reads the Grafana login and hands back the :class:`Stack`; the kind target
(:mod:`.kind`) is a prelude (cluster, image, app) that subclasses it. Its steps are one list: ``plan()``
prints them, ``open()`` runs them. Services and the session are in :mod:`.kubeaccess`; ``kube_session``
and ``service_proxy_url`` are re-exported here, where docs/interfaces.md names them.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import requests

from monitoring_conformance import dashboards, resources
from monitoring_conformance.diagnostics import Sources, collect, stack_endpoints
from monitoring_conformance.errors import CommandFailed, ConformanceError, ToolError, UsageError
from monitoring_conformance.install_watch import GRAFANA_SELECTOR, GrafanaWatch, pods_evidence
from monitoring_conformance.progress import Echo, terminal
from monitoring_conformance.release import (
    ChartRelease,
    ClusterHelm,
    Phases,
    Step,
    plan_lines,
    run_steps,
)
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack
from monitoring_conformance.targets import kubefault
from monitoring_conformance.targets.kubeaccess import (
    DEFAULT_KUBECONFIG,
    Connection,
    SecretReader,
    admin_login,
    core_api,
    grafana_credentials,
    kube_session,
    service_proxy_url,
    values_secret_ref,
)
from monitoring_conformance.tools.helm import HELM_FIX, RepoFiles
from monitoring_conformance.tools.kubectl import Kubectl
from monitoring_conformance.tools.runner import Runner, find_tool, tool_or_name
from monitoring_conformance.wait import Clock

__all__ = ["KubeconfigTarget", "kube_session", "service_proxy_url"]

CHART = resources.CHART
INSTALL_WAIT_SECONDS = 900
UNREACHABLE_MARKERS = ("kubernetes cluster unreachable", "connection refused", "no such host", "i/o timeout",
                       "dial tcp", "unable to connect", "network is unreachable", "tls handshake timeout")


def default_repos() -> RepoFiles:
    """helm's repository config and cache for --install-chart (a cache folder, never the report folder)."""
    return RepoFiles.under(Path.home() / ".cache" / "monitoring-conformance" / "kubeconfig" / "helm")


class KubeconfigTarget:
    """An existing cluster: verify the installed release (or install it with --install-chart)."""

    name = "kubeconfig"

    def __init__(self, settings: Settings, runner: Runner, *, clock: Clock | None = None,
                 echo: Echo = terminal, wall: Callable[[], float] = time.time,
                 secret_reader: Callable[[], SecretReader] | None = None,
                 session_hook: Callable[[requests.Session], object] | None = None):  # fmt: skip
        self.settings = settings
        self.runner = runner
        self.clock = clock or Clock()
        self.echo = echo
        self.wall = wall
        self.session_hook = session_hook
        self.connection = self._connection()
        kubeconfig, context = self.connection.kubeconfig, self.connection.context
        self.secret_reader = secret_reader or (lambda: core_api(kubeconfig, context))
        self.stack: Stack | None = None
        self.phases = Phases(self.clock, echo, quiet=True)
        self.versions: dict[str, str] = {}

    # -- what the kind target changes -------------------------------------------------------------------

    def _connection(self) -> Connection:
        s = self.settings
        namespaces = {"monitoring": s.monitoring_namespace, "app": s.app_namespace}
        return Connection(s.kubeconfig, s.context, namespaces,
                          shown_kubeconfig=_shown(s, "kubeconfig"), shown_context=_shown(s, "context"),
                          session_hook=self.session_hook, loki_tenant=s.loki_tenant)  # fmt: skip

    @cached_property
    def chart(self) -> ChartRelease:
        """The release's steps and what its install found out (built when first needed: helm is looked up)."""
        return self._chart()

    def _chart(self) -> ChartRelease:
        s = self.settings
        return ChartRelease(
            self.helm(), self.kubectl(), s.release, CHART, s.monitoring_namespace,
            Path(s.values) if s.values else None, default_repos(), self.clock, self.wall, self.echo,
            target=self.name, wait_seconds=INSTALL_WAIT_SECONDS, rollback=True, watch=self.grafana_watch,
        )

    def steps(self) -> list[Step]:
        """--install-chart: the chart's steps (all timed as ``install``); else ``helm status`` for t0."""
        if self.settings.install_chart:
            return self.chart.steps(build_phase="install", ask_version=True)
        ns = self.settings.monitoring_namespace
        return [Step("status", self.chart.helm.status_argv(self.settings.release, ns), run=self._deployed,
                     shows=(["# Grafana pods created before t0 (info.last_deployed or --deployed-at) make "
                             "grafana.ready_within_30s not_verified:"],
                            self.kubectl().pods_argv(ns, selector=GRAFANA_SELECTOR)))]

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per phase so far (the same dict the Stack gets)."""
        return self.phases.timings

    # -- tools ----------------------------------------------------------------------------------------

    def helm(self) -> ClusterHelm:
        c = self.connection
        path = find_tool("helm", fix=HELM_FIX) if self.settings.install_chart else tool_or_name("helm")
        return ClusterHelm(self.runner, path, kubeconfig=c.kubeconfig, context=c.context)

    def kubectl(self) -> Kubectl:
        c = self.connection
        return Kubectl(self.runner, tool_or_name("kubectl"), kubeconfig=c.kubeconfig, context=c.context)

    @property
    def repos(self) -> RepoFiles:
        return self.chart.repos

    # -- Target ---------------------------------------------------------------------------------------

    def plan(self) -> list[list[str]]:
        s = self.settings
        lines = [[f"# kubeconfig {s.kubeconfig or DEFAULT_KUBECONFIG}, context {s.context or '(current)'}; "
                  "services via the API-server proxy (HTTP)"]]
        if self.chart.helm.env:
            lines += [[f"# helm and kubectl get KUBECONFIG={s.kubeconfig} in the environment (a path list)"]]
        return [*lines, *plan_lines(self.steps()), *self.login_plan()]

    def login_plan(self) -> list[list[str]]:
        s, ns = self.settings, self.chart.namespace
        if s.grafana.user and s.grafana.password:
            return []
        return [["# Grafana login for the checks (unless MC_GRAFANA_USER/PASSWORD are set): the Secret's "
                 "name"], self.chart.helm.get_values_argv(self.chart.release, ns),
                [f"# then GET Secret {ns}/grafana (kubernetes client); POST Grafana /login through the "
                 "proxy"]]

    def open(self) -> Stack:
        self.connection.session()  # a bad kubeconfig/context fails here, before any command runs
        if self.settings.install_chart:
            run_steps(self.steps(), self.phases, self.runner, self.name)
        else:  # reading the release is not a timed phase
            for step in self.steps():
                step.execute(self.runner, self.name)
        have_helm = Path(self.chart.helm.path).is_absolute()
        if have_helm:
            with contextlib.suppress(ToolError):  # a version is nice to report, not needed to verify
                self.versions["helm"] = str(self.chart.version or self.chart.helm.version())
        if self.settings.deployed_at is not None:
            self.chart.t0 = self.settings.deployed_at
            self.chart.t0_source = self.settings.shown("deployed_at")
        return self._stack(self.chart.helm if have_helm else None)

    def _stack(self, helm: ClusterHelm | None) -> Stack:
        """Log in to Grafana (the login the watch used, else the Secret's), build the stack, hand it what the
        watch saw (or, for a t0 this run did not watch, one look at the Grafana pods)."""
        chart, s = self.chart, self.settings
        credentials = chart.watched_login() or grafana_credentials(
            s, helm, self.secret_reader, namespace=chart.namespace, release=chart.release, echo=self.echo,
            target=self.name,
        )
        self.stack = self.connection.stack(self.name, credentials=credentials, t0=chart.t0,
                                           t0_source=chart.t0_source, versions=self.versions,
                                           timings=self.timings, echo=self.echo)  # checks/teardown land in it
        kubefault.attach(self.stack, self.connection, self.kubectl())
        if chart.readiness is not None:
            chart.readiness.apply_to(self.stack)
        elif chart.t0 is not None:  # a t0 this run did not watch: is the Grafana running now younger than it?
            self.stack.grafana_ready_evidence = pods_evidence(self.kubectl(), chart.namespace, chart.t0,
                                                              chart.t0_source)
        return self.stack

    def grafana_watch(self) -> GrafanaWatch | None:
        """What the install polls while helm runs (None when the overview dashboard is unknown). The admin
        Secret's name and keys come from the chart's values.yaml and the values file (the release may not
        exist yet); MC_GRAFANA_USER/PASSWORD win over the Secret."""
        chart = self.chart
        folder = chart.chart / "dashboards"
        try:  # the overview: the dashboard most requirements point to
            mapping = dashboards.load_requirements(folder)
            if not mapping:
                path = folder / dashboards.REQUIREMENTS_FILE
                raise ConformanceError(f"{path} maps no requirement to a dashboard")
        except ConformanceError as exc:
            self.echo(f"[{self.name}] Grafana is not watched during the install: {exc}")
            return None
        uid = Counter(uid for uid, _ in mapping.values()).most_common(1)[0][0]
        ref = values_secret_ref([chart.chart / "values.yaml", *([chart.values] if chart.values else [])])
        return GrafanaWatch(endpoint=self.connection.grafana_endpoint, dashboard_uid=uid,
                            kubectl=self.kubectl(),
                            credentials=admin_login(self.settings, self.secret_reader, chart.namespace, ref),
                            namespace=chart.namespace)  # fmt: skip

    def close(self, *, failed: bool) -> None:
        """Nothing is deleted: the cluster and the release belong to the user."""

    def diagnostics(self, directory: Path) -> dict[str, str]:
        chart = self.chart
        return collect(directory, Sources(
            kubectl=self.kubectl(), helm=chart.helm, release=chart.release,
            monitoring_namespace=chart.namespace,
            endpoints=stack_endpoints(self.stack), versions=self.versions, helm_wait=chart.helm_wait,
        ))

    def _deployed(self) -> None:
        """t0 from ``helm status``'s info.last_deployed (unknown when helm is not installed)."""
        chart = self.chart
        if not Path(chart.helm.path).is_absolute():
            chart.t0_source = "unknown: helm not found, so the release's deploy time cannot be read"
            return
        try:
            status = chart.helm.status(chart.release, chart.namespace)
        except ToolError as exc:
            kubectl = self.kubectl()
            check = shlex.join([Path(kubectl.path).name, *kubectl.argv("get", "--raw", "/readyz")[1:]])
            raise status_failure(exc, release=chart.release, namespace=chart.namespace, target=self.name,
                                 check=check) from None
        chart.t0 = deployed_at(status)
        chart.t0_source = "helm status info.last_deployed" if chart.t0 else \
            "unknown: helm status has no info.last_deployed"


def deployed_at(status: Mapping[str, Any]) -> float | None:
    """Epoch seconds of ``info.last_deployed`` in ``helm status -o json`` (None when absent or unreadable).

    helm writes RFC3339 with nanoseconds (``2026-11-27T10:00:00.123456789Z``); Python reads microseconds.
    """
    info = status.get("info")
    raw = info.get("last_deployed") if isinstance(info, Mapping) else None
    if not isinstance(raw, str) or not raw:
        return None
    text = raw.strip().replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        zone = rest.lstrip("0123456789")
        text = f"{head}.{rest[: len(rest) - len(zone)][:6].ljust(6, '0')}{zone}"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


def status_failure(
    exc: ToolError, *, release: str, namespace: str, target: str, check: str
) -> ConformanceError:
    """The error for a failed ``helm status``: only helm's ``release: not found`` is a usage error.

    ``check`` is a command that shows whether the cluster answers (with the user's kubeconfig flags).
    """
    text = str(exc).lower()
    if "release: not found" in text:
        return UsageError(f"--release {release}: no such release in namespace {namespace}; install it first, "
                          "pass --install-chart, or fix --release/--monitoring-namespace")
    if isinstance(exc, CommandFailed) and exc.returncode is None:
        reason, fix = "helm status timed out", f"check that the cluster answers: `{check}`"
    elif "forbidden" in text:
        reason = "access denied"
        fix = (f"helm reads releases from Secrets: this kubeconfig's user needs get/list on secrets in "
               f"namespace {namespace}")
    elif any(marker in text for marker in UNREACHABLE_MARKERS):
        reason = "the cluster could not be reached"
        fix = f"check --kubeconfig/--context and that the API server answers: `{check}`"
    else:
        reason, fix = "helm status failed", "run the helm status command above by hand to see why"
    return ConformanceError(f"{target} target: cannot read release {release} in namespace {namespace}: "
                            f"{reason} ({exc})\n  fix: {fix}")


def _shown(settings: Settings, name: str) -> str:
    """How the option was given, without its value (``--kubeconfig`` or ``KUBECONFIG=``)."""
    shown = settings.shown(name)
    value = str(getattr(settings, name))
    return shown[: -len(value)].rstrip(" =") if value and shown.endswith(value) else shown
