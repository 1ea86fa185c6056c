"""The helm release steps both kube targets share: dependency build, upgrade --install, the deploy time.

:class:`ClusterHelm` binds helm to one kubeconfig/context. :func:`install_release` installs with a bounded
wait (flags chosen from ``helm version``, see :func:`~monitoring_conformance.tools.helm.install_flags`), then
waits for every pod of the namespace, stopping early on CrashLoopBackOff, image pull errors or a failed hook.
A failing step raises :class:`PhaseFailed`: one line naming the target, the phase, the reason and the fix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from monitoring_conformance.errors import ConformanceError, ToolError, Unrecoverable
from monitoring_conformance.tools.helm import Helm, HelmVersion
from monitoring_conformance.tools.kubectl import Kubectl, not_ready, wait_pods_ready
from monitoring_conformance.tools.runner import Runner
from monitoring_conformance.wait import Clock

NETWORK_MARKERS = ("no such host", "dial tcp", "i/o timeout", "could not download", "connection refused",
                   "tls handshake timeout", "failed to fetch", "network is unreachable")
DIAGNOSTICS_FIX = "read the pod describe/logs in the diagnostics folder of the report directory"


class PhaseFailed(ConformanceError):
    """A phase of a kube target failed. The message names the phase, the reason and the fix."""

    def __init__(self, phase: str, reason: str, fix: str = "", *, target: str = "kind"):
        self.phase = phase
        self.reason = reason
        self.fix = fix
        text = f"{target} target: {phase} failed: {reason}"
        super().__init__(f"{text}\n  fix: {fix}" if fix else text)


class ClusterHelm(Helm):
    """helm bound to one kubeconfig/context: every command built by ``argv()`` carries the flags."""

    def __init__(
        self,
        runner: Runner,
        path: str,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
    ):
        super().__init__(runner, path)
        self.kube_args: list[str] = []
        if kubeconfig is not None:
            self.kube_args += ["--kubeconfig", str(kubeconfig)]
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


def build_dependencies(runner: Runner, helm: Helm, chart: Path, *, target: str = "kind") -> None:
    """``helm dependency build``; a failure's fix says whether the chart repositories were unreachable."""
    try:
        runner.run(helm.dependency_build_argv(chart), timeout=300)
    except ToolError as exc:
        text = str(exc).lower()
        fix = f"check the dependencies in {chart}/Chart.yaml and {chart}/Chart.lock"
        if any(marker in text for marker in NETWORK_MARKERS):
            fix = (f"the chart repositories in {chart}/Chart.yaml could not be reached: run with network "
                   f"access to them, or put the dependency archives into {chart}/charts")
        raise PhaseFailed("dependency build", str(exc), fix, target=target) from exc


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
) -> tuple[float, str]:
    """``helm upgrade --install`` with a bounded wait, then wait for every pod; returns (t0, its source).

    t0 is ``info.last_deployed`` from ``helm status`` (the start of this deployment), or the wall-clock
    time just before helm was started when the status cannot be read.
    """
    found = version or helm.version()
    started = wall()
    try:
        helm.upgrade_install(release, chart, namespace=namespace, values_files=[values] if values else [],
                             version=found,
                             wait_seconds=wait_seconds, rollback_on_failure=rollback_on_failure)
    except ToolError as exc:
        raise PhaseFailed("install", f"{exc}{_pods_hint(kubectl, namespace)}", DIAGNOSTICS_FIX,
                          target=target) from exc
    t0, source = started, "helm upgrade --install started by this run"
    try:
        stamp = deployed_at(helm.status(release, namespace))
    except ToolError:
        stamp = None
    if stamp is not None:
        t0, source = stamp, "helm status info.last_deployed (installed by this run)"
    try:
        wait_pods_ready(kubectl, namespace, timeout=ready_timeout, clock=clock)
    except (Unrecoverable, AssertionError, ToolError) as exc:
        raise PhaseFailed("install", str(exc), DIAGNOSTICS_FIX, target=target) from exc
    return t0, source


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
