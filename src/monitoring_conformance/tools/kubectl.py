"""kubectl, driven through a Runner, and the reading of pod (and hook Job) states that waits need.

Every command carries ``--kubeconfig`` (and ``--context`` when given), so nothing depends on the user's
default kubeconfig; a path list (``a:b``, as KUBECONFIG allows) cannot be a flag value, so it travels in the
``KUBECONFIG`` environment variable instead (:func:`kubeconfig_access`, and
:func:`~monitoring_conformance.tools.runner.with_env` puts it into every command).
:func:`pod_failures` names the states a wait cannot recover from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitoring_conformance.errors import ToolError, Unrecoverable
from monitoring_conformance.tools.runner import Result, Runner, SubprocessRunner, find_tool, with_env
from monitoring_conformance.wait import Clock, eventually

KUBECTL_FIX = "install kubectl (https://kubernetes.io/docs/tasks/tools/) or run the bootstrap"
#: Waiting reasons that do not heal by waiting longer. ErrImagePull is not among them: the kubelet retries a
#: failed pull (a registry hiccup heals), and reports ImagePullBackOff once retrying has not helped.
STUCK_REASONS = frozenset(
    {"CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"}
)
HOOK_ANNOTATION = "helm.sh/hook"
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")

PathLike = str | os.PathLike[str]


def kubeconfig_access(
    kubeconfig: PathLike | None, flag: str = "--kubeconfig"
) -> tuple[list[str], dict[str, str]]:
    """How a command gets the kubeconfig: ``[flag, path]`` for one file, or ``KUBECONFIG`` for a path list.

    ``--kubeconfig a:b`` names one (missing) file to helm and kubectl; only the environment variable is read
    as a list of files to merge.
    """
    if kubeconfig is None or str(kubeconfig) == "":
        return [], {}
    text = str(kubeconfig)
    if os.pathsep in text:
        return [], {"KUBECONFIG": text}
    return [flag, text], {}


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
        self.kubeconfig = str(kubeconfig) if kubeconfig is not None else None
        self.kube_flags, self.env = kubeconfig_access(self.kubeconfig)
        self.runner: Runner = with_env(runner if runner is not None else SubprocessRunner(), self.env)
        self.path = path if path is not None else find_tool("kubectl", fix=KUBECTL_FIX)
        self.context = context
        self.timeout = timeout

    def argv(self, *args: str) -> list[str]:
        """The full argv of ``kubectl ARGS`` with the kubeconfig/context flags."""
        head = [self.path, *self.kube_flags]
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

    def pods(self, namespace: str | None = None, *, selector: str | None = None) -> list[dict[str, Any]]:
        """Pod objects of ``namespace`` (all namespaces when None), optionally by label selector."""
        scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
        chosen = ["--selector", selector] if selector else []
        items = self._items("get", "pods", *scope, *chosen, "-o", "json")
        return [item for item in items if item.get("kind", "Pod") == "Pod"]

    def pods_argv(self, namespace: str, *, selector: str | None = None) -> list[str]:
        chosen = ["--selector", selector] if selector else []
        return self.argv("get", "pods", "--namespace", namespace, *chosen, "-o", "json")

    def pods_and_jobs(self, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Pods and Jobs of ``namespace`` in one call (helm marks its hooks on the Job, not on the pod)."""
        items = self._items("get", "pods,jobs", "--namespace", namespace, "-o", "json")
        pods = [item for item in items if item.get("kind", "Pod") == "Pod"]
        jobs = [item for item in items if item.get("kind") == "Job"]
        return pods, jobs

    def pods_and_jobs_argv(self, namespace: str) -> list[str]:
        return self.argv("get", "pods,jobs", "--namespace", namespace, "-o", "json")

    def _items(self, *args: str) -> list[dict[str, Any]]:
        result = self.run(*args)
        try:
            data = json.loads(result.stdout or "{}")
        except ValueError:
            excerpt = result.stdout.strip()[:80]
            raise ToolError(f"`kubectl {' '.join(args[:2])}` did not return JSON: {excerpt!r}") from None
        items = data.get("items", []) if isinstance(data, dict) else []
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


# -- pod and Job states ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodState:
    """What matters about one pod for a readiness wait."""

    namespace: str
    name: str
    phase: str
    ready: bool
    stuck: str | None  # why it cannot recover (CrashLoopBackOff ...), None when it may still recover
    waiting: str | None  # the first waiting reason, for messages
    owner: str | None = None  # "Job/x", "ReplicaSet/y": the controller that owns the pod
    settled: bool = False  # finished for good (Succeeded, or Failed and left to its controller), or going
    terminating: bool = False  # metadata.deletionTimestamp is set: the pod is being deleted

    def describe(self) -> str:
        detail = "terminating" if self.terminating else self.stuck or self.waiting or self.phase
        return f"{self.namespace}/{self.name} ({detail})"

    @property
    def blocks(self) -> bool:
        """Whether a readiness wait has to wait for this pod."""
        return not (self.ready or self.settled)


def _controller(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the pod's controller: its controller ownerReference, else the job-name label."""
    refs = [ref for ref in meta.get("ownerReferences") or [] if isinstance(ref, dict)]
    for ref in sorted(refs, key=lambda r: not r.get("controller")):
        if ref.get("kind") and ref.get("name"):
            return str(ref["kind"]), str(ref["name"])
    labels = meta.get("labels") or {}
    for key in JOB_NAME_LABELS:
        if labels.get(key):
            return "Job", str(labels[key])
    return None


def pod_state(pod: Mapping[str, Any]) -> PodState:
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
        stuck = f"helm hook ({annotations[HOOK_ANNOTATION]}) failed"  # a bare hook pod (helm test)
    owner = _controller(meta)
    # A pod being deleted (an old replica during a rollout) goes away whatever its state: it is not waited
    # for, and its CrashLoopBackOff says nothing about the pods that replace it.
    terminating = bool(meta.get("deletionTimestamp"))
    # A finished pod never becomes ready: a Succeeded one is done, and a Failed one with a controller is the
    # controller's business (a Job retries or fails, see job_failures; a ReplicaSet replaces an evicted pod).
    settled = terminating or phase == "Succeeded" or (phase == "Failed" and owner is not None)
    return PodState(namespace, name, phase, ready, stuck if not settled else None, waiting,
                    f"{owner[0]}/{owner[1]}" if owner else None, settled, terminating)


def job_failures(jobs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Failed helm hooks: Jobs with the ``helm.sh/hook`` annotation whose ``Failed`` condition is true."""
    found: list[str] = []
    for job in jobs:
        meta = job.get("metadata") or {}
        hook = (meta.get("annotations") or {}).get(HOOK_ANNOTATION)
        if not hook:
            continue
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                why = condition.get("message") or condition.get("reason") or "failed"
                where = f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"
                found.append(f"{where} (helm hook Job ({hook}) failed: {why})")
    return found


def pod_failures(pods: Sequence[Mapping[str, Any]]) -> list[PodState]:
    """Pods in a state that waiting will not fix."""
    return [state for state in map(pod_state, pods) if state.stuck]


def not_ready(pods: Sequence[Mapping[str, Any]]) -> list[PodState]:
    """Pods a readiness wait still has to wait for (not finished Job pods, replaced or terminating pods)."""
    return [state for state in map(pod_state, pods) if state.blocks]


# -- waits ----------------------------------------------------------------------------------------------


def _stuck_error(what: str, stuck: Sequence[PodState], hooks: Sequence[str] = ()) -> Unrecoverable:
    reasons = [*hooks, *(s.describe() for s in stuck)]
    return Unrecoverable(f"{what} cannot become ready: " + "; ".join(reasons[:8]))


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

    Each step blocks at most ``step`` seconds inside kubectl; a pod in CrashLoopBackOff or
    ImagePullBackOff ends the wait at once with its reason.
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
    """Wait until every pod of ``namespace`` is ready (finished Job pods and replaced pods count as done).

    Pods and Jobs are read in one call. The wait stops at once, with the reason, when a pod cannot recover
    (see :data:`STUCK_REASONS`) or a helm hook Job has failed. Pods being deleted are ignored.
    """

    def all_ready() -> None:
        listed, jobs = kubectl.pods_and_jobs(namespace)
        pods = [pod for pod in listed if not pod_state(pod).terminating]
        stuck = pod_failures(pods)
        hooks = job_failures(jobs)
        if stuck or hooks:
            raise _stuck_error(f"namespace {namespace}", stuck, hooks)
        if not pods:
            going = f" ({len(listed)} terminating)" if listed else ""
            raise AssertionError(f"no pods in namespace {namespace} yet{going}")
        waiting = not_ready(pods)
        if waiting:
            names = ", ".join(s.describe() for s in waiting[:8])
            raise AssertionError(f"{len(waiting)} of {len(pods)} pods not ready: {names}")

    eventually(all_ready, timeout=timeout, interval=3.0, what=f"pods of namespace {namespace} ready",
               clock=clock)
