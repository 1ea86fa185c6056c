"""The helm release steps both kube targets share: repositories, dependency build, upgrade --install.

:class:`ClusterHelm` binds helm to one kubeconfig/context. :func:`build_dependencies` first adds every
chart repository named in Chart.yaml to a run-local repository config (``helm repo add --force-update``,
so a clean machine needs no ``helm repo add`` by hand), then runs ``helm dependency build`` with it.
:func:`install_release` installs with a bounded wait (flags chosen from ``helm version``, see
:func:`~monitoring_conformance.tools.helm.install_flags`) while Grafana is watched (see
:mod:`~monitoring_conformance.install_watch`), then waits for every pod of the namespace, stopping early on
CrashLoopBackOff, ImagePullBackOff or a failed hook. A failing step raises :class:`PhaseFailed`: one line
naming the target, the phase, the reason and the fix.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from monitoring_conformance import vendored
from monitoring_conformance.errors import (
    CommandFailed,
    ConformanceError,
    ToolError,
    Unrecoverable,
    UsageError,
)
from monitoring_conformance.helm_wait import HelmWaitReporter
from monitoring_conformance.install_watch import T0_SOURCE, GrafanaWatch, Readiness, install_watched
from monitoring_conformance.tools.helm import INSTALL_MARGIN_S, Helm, HelmVersion, RepoFiles
from monitoring_conformance.tools.kubectl import Kubectl, kubeconfig_access, not_ready, wait_pods_ready
from monitoring_conformance.tools.runner import Runner, with_env
from monitoring_conformance.wait import Clock

NETWORK_MARKERS = ("no such host", "dial tcp", "i/o timeout", "could not download", "connection refused",
                   "tls handshake timeout", "failed to fetch", "network is unreachable",
                   "is not a valid chart repository or cannot be reached", "no cached repository")
NO_REPOSITORY = "no repository definition"
UNREACHABLE_MARKERS = ("kubernetes cluster unreachable", "connection refused", "no such host", "i/o timeout",
                       "dial tcp", "unable to connect", "network is unreachable", "tls handshake timeout")
DIAGNOSTICS_FIX = "read the pod describe/logs in the diagnostics folder of the report directory"
REPO_ADD_TIMEOUT = 120.0
DEPENDENCY_BUILD_TIMEOUT = 300.0


class PhaseFailed(ConformanceError):
    """A phase of a kube target failed. The message names the phase, the reason and the fix."""

    def __init__(self, phase: str, reason: str, fix: str = "", *, target: str = "kind"):
        self.phase = phase
        self.reason = reason
        self.fix = fix
        text = f"{target} target: {phase} failed: {reason}"
        super().__init__(f"{text}\n  fix: {fix}" if fix else text)


class ClusterHelm(Helm):
    """helm bound to one kubeconfig/context: every command built by ``argv()`` carries the flags.

    A kubeconfig path list (``a:b``) goes into the ``KUBECONFIG`` environment of every command instead.
    """

    def __init__(
        self,
        runner: Runner,
        path: str,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
    ):
        flags, env = kubeconfig_access(kubeconfig)
        super().__init__(with_env(runner, env), path)
        self.env = env
        self.kube_args: list[str] = list(flags)
        if context:
            self.kube_args += ["--kube-context", context]

    def argv(self, *args: str) -> list[str]:
        return [self.path, *args, *self.kube_args]


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
        digits = rest[: len(rest) - len(zone)]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


# -- chart repositories and the dependency build -----------------------------------------------------------


def repo_name(url: str) -> str:
    """A stable repository name from its URL: ``https://grafana.github.io/helm-charts`` -> ``grafana``.

    GitHub Pages hosts give their owner (``prometheus-community``, ``grafana-community``, ``grafana``); any
    other URL gives its host and path, lower-case, with every other character turned into ``-``.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith(".github.io"):
        return host.removesuffix(".github.io")
    raw = f"{host}{parts.path}".lower()
    return re.sub(r"[^a-z0-9]+", "-", raw).strip("-") or "repository"


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
        if not url.startswith(("https://", "http://")) or url.rstrip("/") in found:
            continue
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


def build_dependencies(
    runner: Runner, helm: Helm, chart: Path, repos: RepoFiles, *, target: str = "kind"
) -> None:
    """Add the chart repositories, then ``helm dependency build``; a failure's fix says what to do."""
    repos.cache.mkdir(parents=True, exist_ok=True)
    for argv in dependency_commands(helm, chart, repos):
        adding = argv[1:3] == ["repo", "add"]
        try:
            runner.run(argv, timeout=REPO_ADD_TIMEOUT if adding else DEPENDENCY_BUILD_TIMEOUT)
        except ToolError as exc:
            fix = _dependency_fix(str(exc), chart, repos, argv[4] if adding else None)
            raise PhaseFailed("dependency build", str(exc), fix, target=target) from exc


def _dependency_fix(text: str, chart: Path, repos: RepoFiles, url: str | None) -> str:
    lowered = text.lower()
    if NO_REPOSITORY in lowered:
        return (f"helm found no repository entry for a dependency of {chart}/Chart.yaml in {repos.config}: "
                "every dependency's `repository:` must be an http(s) URL (added by this run), a file:// path "
                "or an alias of a repository added by hand")
    if any(marker in lowered for marker in NETWORK_MARKERS):
        where = url or f"the repositories in {chart}/Chart.yaml"
        return (f"{where} could not be reached: run with network access to it (`curl -sI "
                f"{url or 'URL'}/index.yaml` must answer), or put the dependency archives into "
                f"{chart}/charts")
    return f"check the dependencies in {chart}/Chart.yaml and {chart}/Chart.lock"


# -- install ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """What an install found out: t0 (right before helm started), its source, and the Grafana watch."""

    t0: float
    t0_source: str
    readiness: Readiness | None


def install_release(
    helm: Helm,
    kubectl: Kubectl,
    *,
    release: str,
    chart: Path,
    namespace: str,
    values: Path | None,
    version: HelmVersion | None,
    wait_seconds: int,
    ready_timeout: float,
    clock: Clock,
    wall: Callable[[], float] = time.time,
    rollback_on_failure: bool = False,
    target: str = "kind",
    watch: GrafanaWatch | None = None,
    reporter: HelmWaitReporter | None = None,
) -> Installed:
    """``helm upgrade --install`` with a bounded wait (Grafana watched meanwhile), then wait for every pod."""
    argv = helm.upgrade_install_argv(
        release, chart, namespace=namespace, values_files=[values] if values else [],
        version=version or helm.version(), wait_seconds=wait_seconds, rollback_on_failure=rollback_on_failure,
    )
    timeout = wait_seconds + INSTALL_MARGIN_S

    def install() -> object:
        return helm.runner.run(argv, timeout=timeout)

    budget = timeout + (watch.grace if watch else 0)
    try:
        _, t0, readiness = install_watched(install, watch, clock=clock, wall=wall, budget=budget,
                                           reporter=reporter)
    except ToolError as exc:
        raise PhaseFailed("install", f"{exc}{_pods_hint(kubectl, namespace)}", DIAGNOSTICS_FIX,
                          target=target) from exc
    try:
        wait_pods_ready(kubectl, namespace, timeout=ready_timeout, clock=clock)
    except (Unrecoverable, AssertionError, ToolError) as exc:
        raise PhaseFailed("install", str(exc), DIAGNOSTICS_FIX, target=target) from exc
    return Installed(t0, T0_SOURCE, readiness)


def _pods_hint(kubectl: Kubectl, namespace: str) -> str:
    """After a failed install: the pods that are not ready, as a hint (best effort)."""
    try:
        pods = kubectl.pods(namespace)
    except ToolError:
        return ""
    waiting = not_ready(pods)
    if not waiting:
        return ""
    return "; not ready: " + ", ".join(state.describe() for state in waiting[:8])


# -- an installed release -----------------------------------------------------------------------------------


def status_failure(
    exc: ToolError, *, release: str, namespace: str, target: str, check: str
) -> ConformanceError:
    """The error for a failed ``helm status``: only helm's ``release: not found`` is a usage error.

    ``check`` is a command that shows whether the cluster answers (with the user's kubeconfig flags).
    """
    text = str(exc).lower()
    if "release: not found" in text:
        return UsageError(
            f"--release {release}: no such release in namespace {namespace}; install it first, pass "
            "--install-chart, or fix --release/--monitoring-namespace"
        )
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
    return ConformanceError(
        f"{target} target: cannot read release {release} in namespace {namespace}: {reason} ({exc})\n"
        f"  fix: {fix}"
    )
