"""The kubeconfig target: an existing cluster, reached through the API server's service proxy.

The release already installed is verified as it is; ``--install-chart`` installs or upgrades it first
(``helm upgrade --install`` with rollback on failure, so a failed upgrade leaves the cluster as it was).
Nothing is ever deleted. Services, the session and the Grafana login are in :mod:`.kubeaccess`;
``kube_session`` and ``service_proxy_url`` are re-exported here, where docs/design.md names them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.diagnostics import Sources, collect
from monitoring_conformance.errors import ToolError, UsageError
from monitoring_conformance.release import ClusterHelm, build_dependencies, deployed_at, install_release
from monitoring_conformance.settings import REPO_ROOT, Settings
from monitoring_conformance.targets.base import Stack
from monitoring_conformance.targets.kubeaccess import (
    DEFAULT_KUBECONFIG,
    Connection,
    SecretReader,
    core_api,
    grafana_credentials,
    kube_session,
    service_proxy_url,
)
from monitoring_conformance.tools.helm import HELM_FIX, Helm, HelmVersion
from monitoring_conformance.tools.kubectl import Kubectl
from monitoring_conformance.tools.runner import Runner, find_tool
from monitoring_conformance.wait import Clock

__all__ = ["KubeconfigTarget", "kube_session", "service_proxy_url"]

Echo = Callable[[str], None]
CHART = REPO_ROOT / "charts" / "monitoring"
INSTALL_WAIT_SECONDS = 900


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


class KubeconfigTarget:
    """An existing cluster: verify the installed release (or install it with --install-chart)."""

    name = "kubeconfig"

    def __init__(
        self,
        settings: Settings,
        runner: Runner,
        *,
        clock: Clock | None = None,
        echo: Echo = _stderr,
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
            session_hook=session_hook,
        )
        self.secret_reader = secret_reader or (lambda: core_api(settings.kubeconfig, settings.context))
        self.stack: Stack | None = None
        self.timings: dict[str, float] = {}

    # -- tools ----------------------------------------------------------------------------------------

    def helm(self) -> ClusterHelm:
        path = find_tool("helm", fix=HELM_FIX) if self.settings.install_chart else _optional_tool("helm")
        return ClusterHelm(self.runner, path, kubeconfig=self.settings.kubeconfig,
                           context=self.settings.context)

    def kubectl(self) -> Kubectl:
        return Kubectl(self.runner, _optional_tool("kubectl"), kubeconfig=self.settings.kubeconfig,
                       context=self.settings.context)

    # -- Target ---------------------------------------------------------------------------------------

    def plan(self) -> list[list[str]]:
        s = self.settings
        helm, kubectl = self.helm(), self.kubectl()
        lines: list[list[str]] = [[f"# kubeconfig {s.kubeconfig or DEFAULT_KUBECONFIG}, context "
                                   f"{s.context or '(current)'}; services via the API-server proxy (HTTP)"]]
        if s.install_chart:
            lines += [
                helm.argv("version", "--template", "{{.Version}}"), helm.dependency_build_argv(CHART),
                ["# helm 4 shown; helm 3 gets --wait and --atomic"],
                helm.upgrade_install_argv(
                    s.release, CHART, namespace=s.monitoring_namespace,
                    values_files=[s.values] if s.values else [], version=HelmVersion(4, 0, 0),
                    wait_seconds=INSTALL_WAIT_SECONDS, rollback_on_failure=True,
                ),
            ]
        lines += [helm.status_argv(s.release, s.monitoring_namespace)]
        if s.install_chart:
            lines += [["# repeated until every pod is ready"],
                      kubectl.argv("get", "pods", "--namespace", s.monitoring_namespace, "-o", "json")]
        if not (s.grafana.user and s.grafana.password):
            lines += [helm.get_values_argv(s.release, s.monitoring_namespace),
                      [f"# GET Secret {s.monitoring_namespace}/grafana (kubernetes client), then POST "
                       "Grafana /login through the proxy"]]
        return lines

    def open(self) -> Stack:
        s = self.settings
        self.connection.session()  # a bad kubeconfig/context fails here, before any command runs
        helm = self.helm()
        have_helm = Path(helm.path).is_absolute()
        start = self.clock.now()
        t0: float | None
        if s.install_chart:
            build_dependencies(self.runner, helm, CHART, target=self.name)
            t0, source = install_release(
                helm, self.kubectl(), release=s.release, chart=CHART, namespace=s.monitoring_namespace,
                values=s.values, version=None, wait_seconds=INSTALL_WAIT_SECONDS, ready_timeout=300,
                clock=self.clock, wall=self.wall, rollback_on_failure=True, target=self.name,
            )
            self.timings["install"] = round(self.clock.now() - start, 3)
        elif have_helm:
            t0, source = self._deployed(helm)
        else:
            t0, source = None, "unknown: helm not found, so the release's deploy time cannot be read"
        if s.deployed_at is not None:
            t0, source = s.deployed_at, s.shown("deployed_at")
        credentials = grafana_credentials(
            s, helm if have_helm else None, self.secret_reader, namespace=s.monitoring_namespace,
            release=s.release, echo=self.echo, target=self.name,
        )
        versions: dict[str, str] = {}
        if have_helm:
            with contextlib.suppress(ToolError):  # a version is nice to report, not needed to verify
                versions["helm"] = str(helm.version())
        self.stack = self.connection.stack(self.name, credentials=credentials, t0=t0, t0_source=source,
                                           versions=versions, timings=self.timings, echo=self.echo)
        return self.stack

    def close(self, *, failed: bool) -> None:
        """Nothing is deleted: the cluster and the release belong to the user."""

    def diagnostics(self, directory: Path) -> dict[str, str]:
        s = self.settings
        endpoints = _endpoints(self.stack)
        sources = Sources(
            kubectl=self.kubectl(), helm=self.helm(), release=s.release,
            monitoring_namespace=s.monitoring_namespace, endpoints=endpoints,
            versions=self.stack.versions if self.stack else {},
        )
        return collect(directory, sources)

    def _deployed(self, helm: Helm) -> tuple[float | None, str]:
        s = self.settings
        try:
            status = helm.status(s.release, s.monitoring_namespace)
        except ToolError as exc:
            raise UsageError(
                f"--release {s.release}: no such release in namespace {s.monitoring_namespace} ({exc}); "
                "install it first, pass --install-chart, or fix --release/--monitoring-namespace"
            ) from None
        stamp = deployed_at(status)
        if stamp is None:
            return None, "unknown: helm status has no info.last_deployed"
        return stamp, "helm status info.last_deployed"


def _shown(settings: Settings, name: str) -> str:
    """How the option was given, without its value (``--kubeconfig`` or ``KUBECONFIG=``)."""
    shown = settings.shown(name)
    value = str(getattr(settings, name))
    return shown[: -len(value)].rstrip(" =") if value and shown.endswith(value) else shown


def _optional_tool(name: str) -> str:
    try:
        return find_tool(name, fix="")
    except ToolError:
        return name


def _endpoints(stack: Stack | None) -> dict[str, Endpoint | None]:
    if stack is None:
        return {}
    return {"prometheus": stack.prometheus, "grafana": stack.grafana, "loki": stack.loki, "app": stack.app}
