"""kubectl, driven through a Runner, and the reading of pod states that waits need.

Every command carries ``--kubeconfig`` (and ``--context`` when given), so nothing depends on the user's
default kubeconfig. :func:`pod_failures` names the states a wait cannot recover from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitoring_conformance.errors import ToolError, Unrecoverable
from monitoring_conformance.tools.runner import Result, Runner, SubprocessRunner, find_tool
from monitoring_conformance.wait import Clock, eventually

KUBECTL_FIX = "install kubectl (https://kubernetes.io/docs/tasks/tools/) or run the bootstrap"
#: Waiting reasons that do not heal by waiting longer.
STUCK_REASONS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"}
)
HOOK_ANNOTATION = "helm.sh/hook"

PathLike = str | os.PathLike[str]


class Kubectl:
    """kubectl over a Runner, bound to one kubeconfig (and optionally one context)."""

    def __init__(
        self,
        runner: Runner | None = None,
        path: str | None = None,
        *,
        kubeconfig: PathLike | None = None,
        context: str | None = None,
        timeout: float = 60.0,
    ):
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.path = path if path is not None else find_tool("kubectl", fix=KUBECTL_FIX)
        self.kubeconfig = str(kubeconfig) if kubeconfig is not None else None
        self.context = context
        self.timeout = timeout

    def argv(self, *args: str) -> list[str]:
        """The full argv of ``kubectl ARGS`` with the kubeconfig/context flags."""
        head = [self.path]
        if self.kubeconfig:
            head += ["--kubeconfig", self.kubeconfig]
        if self.context:
            head += ["--context", self.context]
        return [*head, *args]

    def run(self, *args: str, timeout: float | None = None, check: bool = True) -> Result:
        return self.runner.run(self.argv(*args), timeout=timeout or self.timeout, check=check)

    # -- versions ---------------------------------------------------------------------------------------

    def client_version(self, *, timeout: float = 10.0) -> str:
        """``kubectl version --client -o json`` -> e.g. ``v1.36.3`` (no cluster needed)."""
        result = self.runner.run([self.path, "version", "--client", "-o", "json"], timeout=timeout)
        try:
            return str(json.loads(result.stdout)["clientVersion"]["gitVersion"])
        except (ValueError, KeyError, TypeError):
            raise ToolError(f"cannot read the kubectl version from {result.stdout.strip()[:80]!r}") from None

    # -- deploy ---------------------------------------------------------------------------------------

    def apply_argv(self, path: PathLike) -> list[str]:
        return self.argv("apply", "-f", str(path))

    def apply(self, path: PathLike) -> None:
        """``kubectl apply -f PATH`` (a file or a folder of manifests)."""
        self.runner.run(self.apply_argv(path), timeout=self.timeout)

    def rollout_status_argv(self, resource: str, namespace: str, seconds: float) -> list[str]:
        return self.argv("rollout", "status", resource, "--namespace", namespace, f"--timeout={seconds:g}s")

    def rollout_status(self, resource: str, namespace: str, seconds: float) -> Result:
        """``kubectl rollout status RESOURCE --timeout=Ns`` without raising; the caller reads the result."""
        return self.runner.run(
            self.rollout_status_argv(resource, namespace, seconds), timeout=seconds + 15, check=False
        )

    # -- observe --------------------------------------------------------------------------------------

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Pod objects of ``namespace`` (all namespaces when None)."""
        scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
        result = self.run("get", "pods", *scope, "-o", "json")
        try:
            items = json.loads(result.stdout or "{}").get("items", [])
        except ValueError:
            excerpt = result.stdout.strip()[:80]
            raise ToolError(f"`kubectl get pods` did not return JSON: {excerpt!r}") from None
        return [item for item in items if isinstance(item, dict)]

    def text(self, *args: str, timeout: float | None = None) -> str:
        """Output of a read-only command (stdout, and stderr when stdout is empty)."""
        result = self.run(*args, timeout=timeout, check=False)
        return result.stdout if result.stdout.strip() else result.stderr

    def logs(self, pod: str, namespace: str, *, previous: bool = False, tail: int = 500) -> str:
        args = ["logs", pod, "--namespace", namespace, "--all-containers", f"--tail={tail}"]
        if previous:
            args.append("--previous")
        return self.text(*args)


# -- pod states ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodState:
    """What matters about one pod for a readiness wait."""

    namespace: str
    name: str
    phase: str
    ready: bool
    stuck: str | None  # why it cannot recover (CrashLoopBackOff ...), None when it may still recover
    waiting: str | None  # the first waiting reason, for messages

    def describe(self) -> str:
        detail = self.stuck or self.waiting or self.phase
        return f"{self.namespace}/{self.name} ({detail})"


def pod_state(pod: dict[str, Any]) -> PodState:
    """Read one pod object from ``kubectl get pods -o json``."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    name = str(meta.get("name", "?"))
    namespace = str(meta.get("namespace", "?"))
    phase = str(status.get("phase", "Unknown"))
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    stuck: str | None = None
    waiting: str | None = None
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    for container in statuses:
        state = (container.get("state") or {}).get("waiting") or {}
        reason = state.get("reason")
        if not reason:
            continue
        where = f"{reason} in container {container.get('name', '?')}"
        message = str(state.get("message") or "").strip()
        if message:
            where += f": {message.splitlines()[0][:160]}"
        waiting = waiting or where
        if reason in STUCK_REASONS and stuck is None:
            stuck = where
    annotations = meta.get("annotations") or {}
    if stuck is None and phase == "Failed" and HOOK_ANNOTATION in annotations:
        stuck = f"helm hook ({annotations[HOOK_ANNOTATION]}) failed"
    if phase == "Succeeded":
        ready = True  # finished Job pods do not count as "not ready"
    return PodState(namespace, name, phase, ready, stuck, waiting)


def pod_failures(pods: Sequence[dict[str, Any]]) -> list[PodState]:
    """Pods in a state that waiting will not fix."""
    return [state for state in map(pod_state, pods) if state.stuck]


def not_ready(pods: Sequence[dict[str, Any]]) -> list[PodState]:
    """Pods that are not (yet) ready."""
    return [state for state in map(pod_state, pods) if not state.ready]


# -- waits ----------------------------------------------------------------------------------------------


def _stuck_error(what: str, stuck: Sequence[PodState]) -> Unrecoverable:
    return Unrecoverable(f"{what} cannot become ready: " + "; ".join(s.describe() for s in stuck[:8]))


def wait_rollout(
    kubectl: Kubectl,
    resource: str,
    namespace: str,
    *,
    timeout: float,
    clock: Clock | None = None,
    step: float = 10.0,
) -> None:
    """Wait for ``kubectl rollout status`` in short steps, looking at the pods between steps.

    Each step blocks at most ``step`` seconds inside kubectl; a pod in CrashLoopBackOff, ImagePullBackOff,
    ErrImagePull or a failed hook ends the wait at once with its reason.
    """

    def rolled_out() -> None:
        pods = kubectl.pods(namespace)
        stuck = pod_failures(pods)
        if stuck:
            raise _stuck_error(f"{resource} in namespace {namespace}", stuck)
        result = kubectl.rollout_status(resource, namespace, step)
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip().splitlines()
            waiting = ", ".join(s.describe() for s in not_ready(pods)[:8]) or "no pods yet"
            last = said[-1] if said else "no output"
            raise AssertionError(f"rollout not complete ({last}); pods: {waiting}")

    eventually(rolled_out, timeout=timeout, interval=2.0, what=f"rollout of {resource} in {namespace}",
               clock=clock)


def wait_pods_ready(kubectl: Kubectl, namespace: str, *, timeout: float, clock: Clock | None = None) -> None:
    """Wait until every pod of ``namespace`` is ready (finished Job pods count as done).

    Stops at once, with the reason, when a pod cannot recover (see :data:`STUCK_REASONS`, failed hooks).
    """

    def all_ready() -> None:
        pods = kubectl.pods(namespace)
        stuck = pod_failures(pods)
        if stuck:
            raise _stuck_error(f"namespace {namespace}", stuck)
        if not pods:
            raise AssertionError(f"no pods in namespace {namespace} yet")
        waiting = not_ready(pods)
        if waiting:
            names = ", ".join(s.describe() for s in waiting[:8])
            raise AssertionError(f"{len(waiting)} of {len(pods)} pods not ready: {names}")

    eventually(all_ready, timeout=timeout, interval=3.0, what=f"pods of namespace {namespace} ready",
               clock=clock)
