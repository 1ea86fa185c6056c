"""The kubeconfig target: an existing cluster, reached through the API server's service proxy.

The release already installed is verified as it is; ``--install-chart`` installs or upgrades it first
(``helm upgrade --install`` with rollback on failure, so a failed upgrade leaves the cluster as it was),
watching Grafana meanwhile for a measured grafana.ready_within_30s.
Nothing is ever deleted. Services, the session and the Grafana login are in :mod:`.kubeaccess`;
``kube_session`` and ``service_proxy_url`` are re-exported here, where docs/design.md names them.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import requests

from monitoring_conformance import resources
from monitoring_conformance.diagnostics import Sources, collect, stack_endpoints
from monitoring_conformance.errors import ToolError
from monitoring_conformance.helm_wait import HelmWaitReporter
from monitoring_conformance.install_watch import (
    GRAFANA_SELECTOR,
    INTERVAL,
    GrafanaWatch,
    grafana_watch,
    pods_evidence,
    watched_login,
)
from monitoring_conformance.progress import Echo, terminal
from monitoring_conformance.release import (
    ClusterHelm,
    build_dependencies,
    dependency_commands,
    deployed_at,
    install_release,
    status_failure,
)
from monitoring_conformance.settings import Settings
from monitoring_conformance.stack import Stack
from monitoring_conformance.targets import kubefault
from monitoring_conformance.targets.kubeaccess import (
    DEFAULT_KUBECONFIG,
    Connection,
    SecretReader,
    core_api,
    grafana_credentials,
    kube_session,
    service_proxy_url,
)
from monitoring_conformance.tools.helm import HELM_FIX, Helm, HelmVersion, RepoFiles
from monitoring_conformance.tools.kubectl import Kubectl
from monitoring_conformance.tools.runner import Runner, find_tool, tool_or_name
from monitoring_conformance.wait import Clock

__all__ = ["KubeconfigTarget", "kube_session", "service_proxy_url"]

CHART = resources.CHART
INSTALL_WAIT_SECONDS = 900


def default_repos() -> RepoFiles:
    """helm's repository config and cache for --install-chart (a cache folder, never the report folder)."""
    return RepoFiles.under(Path.home() / ".cache" / "monitoring-conformance" / "kubeconfig" / "helm")


class KubeconfigTarget:
    """An existing cluster: verify the installed release (or install it with --install-chart)."""

    name = "kubeconfig"

    def __init__(
        self,
        settings: Settings,
        runner: Runner,
        *,
        clock: Clock | None = None,
        echo: Echo = terminal,
        wall: Callable[[], float] = time.time,
        secret_reader: Callable[[], SecretReader] | None = None,
        session_hook: Callable[[requests.Session], object] | None = None,
    ):
        self.settings = settings
        self.runner = runner
        self.clock = clock or Clock()
        self.echo = echo
        self.wall = wall
        self.namespaces = {"monitoring": settings.monitoring_namespace, "app": settings.app_namespace}
        self.connection = Connection(
            settings.kubeconfig, settings.context, self.namespaces,
            shown_kubeconfig=_shown(settings, "kubeconfig"), shown_context=_shown(settings, "context"),
            session_hook=session_hook, loki_tenant=settings.loki_tenant,
        )
        self.secret_reader = secret_reader or (lambda: core_api(settings.kubeconfig, settings.context))
        self.stack: Stack | None = None
        self.timings: dict[str, float] = {}
        #: Progress lines printed while helm waited (also written to the diagnostics).
        self.helm_wait: list[str] = []
        self.versions: dict[str, str] = {}
        self.repos = default_repos()

    # -- tools ----------------------------------------------------------------------------------------

    def helm(self) -> ClusterHelm:
        path = find_tool("helm", fix=HELM_FIX) if self.settings.install_chart else tool_or_name("helm")
        return ClusterHelm(self.runner, path, kubeconfig=self.settings.kubeconfig,
                           context=self.settings.context)

    def kubectl(self) -> Kubectl:
        return Kubectl(self.runner, tool_or_name("kubectl"), kubeconfig=self.settings.kubeconfig,
                       context=self.settings.context)

    # -- Target ---------------------------------------------------------------------------------------

    def plan(self) -> list[list[str]]:
        s = self.settings
        helm, kubectl = self.helm(), self.kubectl()
        ns = s.monitoring_namespace
        lines: list[list[str]] = [[f"# kubeconfig {s.kubeconfig or DEFAULT_KUBECONFIG}, context "
                                   f"{s.context or '(current)'}; services via the API-server proxy (HTTP)"]]
        if helm.env:
            lines += [[f"# helm and kubectl get KUBECONFIG={s.kubeconfig} in the environment (a path list)"]]
        if s.install_chart:
            lines += [
                [helm.path, "version", "--template", "{{.Version}}"],
                [f"# dependency build (repository config and cache in {self.repos.config.parent})"],
                *dependency_commands(helm, CHART, self.repos),
                ["# helm 4 shown; helm 3 gets --wait and --atomic"],
                helm.upgrade_install_argv(
                    s.release, CHART, namespace=ns, values_files=[s.values] if s.values else [],
                    version=HelmVersion(4, 0, 0), wait_seconds=INSTALL_WAIT_SECONDS,
                    rollback_on_failure=True,
                ),
                [f"# while helm runs: GET Grafana /api/health and its overview dashboard through the "
                 f"API-server proxy every {INTERVAL:g}s (t0: the wall clock right before helm starts; an "
                 "answer counts only once no Grafana pod created before t0 is left); also"],
                kubectl.pods_argv(ns, selector=GRAFANA_SELECTOR),
                ["# then repeated until every pod is ready"],
                kubectl.pods_and_jobs_argv(ns),
            ]
        else:
            lines += [helm.status_argv(s.release, ns),
                      ["# Grafana pods created before t0 (info.last_deployed or --deployed-at) make "
                       "grafana.ready_within_30s not_verified:"],
                      kubectl.pods_argv(ns, selector=GRAFANA_SELECTOR)]
        if not (s.grafana.user and s.grafana.password):
            lines += [helm.get_values_argv(s.release, ns),
                      [f"# GET Secret {ns}/grafana (kubernetes client), then POST "
                       "Grafana /login through the proxy"]]
        return lines

    def open(self) -> Stack:
        s = self.settings
        self.connection.session()  # a bad kubeconfig/context fails here, before any command runs
        helm = self.helm()
        have_helm = Path(helm.path).is_absolute()
        start = self.clock.now()
        t0: float | None
        readiness = None
        watch: GrafanaWatch | None = None
        if s.install_chart:
            try:  # the install's time is recorded also when it fails (the report shows how long it tried)
                build_dependencies(self.runner, helm, CHART, self.repos, target=self.name)
                watch = self.grafana_watch()
                reporter = HelmWaitReporter(self.kubectl(), s.monitoring_namespace, self.echo, self.clock,
                                            prefix=f"[{self.name}]", lines=self.helm_wait)
                installed = install_release(
                    helm, self.kubectl(), release=s.release, chart=CHART, namespace=s.monitoring_namespace,
                    values=s.values, version=None, wait_seconds=INSTALL_WAIT_SECONDS, ready_timeout=300,
                    clock=self.clock, wall=self.wall, rollback_on_failure=True, target=self.name,
                    watch=watch, reporter=reporter,
                )
            finally:
                self.timings["install"] = round(self.clock.now() - start, 3)
            t0, source, readiness = installed.t0, installed.t0_source, installed.readiness
        elif have_helm:
            t0, source = self._deployed(helm)
        else:
            t0, source = None, "unknown: helm not found, so the release's deploy time cannot be read"
        if s.deployed_at is not None:
            t0, source = s.deployed_at, s.shown("deployed_at")
        credentials = watched_login(watch, readiness) or grafana_credentials(
            s, helm if have_helm else None, self.secret_reader, namespace=s.monitoring_namespace,
            release=s.release, echo=self.echo, target=self.name,
        )
        if have_helm:
            with contextlib.suppress(ToolError):  # a version is nice to report, not needed to verify
                self.versions["helm"] = str(helm.version())
        self.stack = self.connection.stack(self.name, credentials=credentials, t0=t0, t0_source=source,
                                           versions=self.versions, timings=self.timings, echo=self.echo)
        kubefault.attach(self.stack, self.connection, self.kubectl())
        if readiness is not None:
            readiness.apply_to(self.stack)
        elif t0 is not None:  # a t0 this run did not watch: is the Grafana running now younger than it?
            self.stack.grafana_ready_evidence = pods_evidence(self.kubectl(), s.monitoring_namespace, t0,
                                                              source)
        return self.stack

    def grafana_watch(self) -> GrafanaWatch | None:
        """What --install-chart polls while helm runs (None when the overview dashboard is unknown)."""
        s = self.settings
        return grafana_watch(s, self.connection, self.secret_reader, self.kubectl(), chart=CHART,
                             values=Path(s.values) if s.values else None, namespace=s.monitoring_namespace,
                             echo=self.echo, target=self.name)

    def close(self, *, failed: bool) -> None:
        """Nothing is deleted: the cluster and the release belong to the user."""

    def diagnostics(self, directory: Path) -> dict[str, str]:
        s = self.settings
        sources = Sources(
            kubectl=self.kubectl(), helm=self.helm(), release=s.release,
            monitoring_namespace=s.monitoring_namespace, endpoints=stack_endpoints(self.stack),
            versions=self.stack.versions if self.stack else {}, helm_wait=self.helm_wait,
        )
        return collect(directory, sources)

    def _deployed(self, helm: Helm) -> tuple[float | None, str]:
        s = self.settings
        try:
            status = helm.status(s.release, s.monitoring_namespace)
        except ToolError as exc:
            kubectl = self.kubectl()
            check = shlex.join([Path(kubectl.path).name, *kubectl.argv("get", "--raw", "/readyz")[1:]])
            raise status_failure(exc, release=s.release, namespace=s.monitoring_namespace, target=self.name,
                                 check=check) from None
        stamp = deployed_at(status)
        if stamp is None:
            return None, "unknown: helm status has no info.last_deployed"
        return stamp, "helm status info.last_deployed"


def _shown(settings: Settings, name: str) -> str:
    """How the option was given, without its value (``--kubeconfig`` or ``KUBECONFIG=``)."""
    shown = settings.shown(name)
    value = str(getattr(settings, name))
    return shown[: -len(value)].rstrip(" =") if value and shown.endswith(value) else shown

