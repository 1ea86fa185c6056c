"""While ``helm upgrade --install --wait`` waits: which workloads are not ready yet, and why.

helm itself says nothing until its wait ends ("context deadline exceeded" after many minutes). The install
step runs helm in a thread; meanwhile :class:`HelmWaitReporter` looks at the release namespace about every
:data:`REPORT_EVERY` seconds and prints one progress line: the pods that are not ready (a pending pod with
the scheduler's reason, a waiting container's reason), helm's hook Jobs that have not completed, and the
newest Warning events. The lines are kept for the diagnostics folder (``helm-wait.txt``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from monitoring_conformance.errors import ConformanceError, WaitTimeout
from monitoring_conformance.tools.kubectl import Kubectl, pod_state
from monitoring_conformance.wait import Clock, eventually

#: Seconds between two reports while helm waits.
REPORT_EVERY = 15.0
#: Seconds between two checks whether helm has finished (between reports).
HELM_POLL = 1.0
#: At most this many items per kind in one line.
SHOWN = 5
HOOK_ANNOTATION = "helm.sh/hook"


def _pending_reason(pod: Mapping[str, Any]) -> str | None:
    """The scheduler's reason for a pod not yet scheduled (``Unschedulable: 0/1 nodes ...``)."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason, message = condition.get("reason") or "not scheduled", condition.get("message") or ""
            return f"{reason}: {' '.join(message.split())[:160]}" if message else str(reason)
    return None


def waiting_pods(pods: Sequence[Mapping[str, Any]]) -> list[str]:
    """``namespace/name (why)`` of every pod a readiness wait still waits for."""
    shown = []
    for pod in pods:
        state = pod_state(pod)
        if not state.blocks:
            continue
        why = _pending_reason(pod) if state.phase == "Pending" and not state.waiting else None
        shown.append(f"{state.namespace}/{state.name} ({why})" if why else state.describe())
    return shown


def open_hooks(jobs: Sequence[Mapping[str, Any]]) -> list[str]:
    """helm hook Jobs that have not completed: ``Job/name (hook, N active, M failed)``."""
    shown = []
    for job in jobs:
        meta = job.get("metadata") or {}
        hook = (meta.get("annotations") or {}).get(HOOK_ANNOTATION)
        status = job.get("status") or {}
        if not hook or status.get("succeeded"):
            continue
        shown.append(f"Job/{meta.get('name', '?')} ({hook}, {status.get('active', 0)} active, "
                     f"{status.get('failed', 0)} failed)")
    return shown


def warning_events(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The newest Warning events first: ``Kind/name Reason: message``."""

    def stamp(event: Mapping[str, Any]) -> str:
        return str(event.get("lastTimestamp") or event.get("eventTime") or "")

    shown = []
    for event in sorted((e for e in events if e.get("type") == "Warning"), key=stamp, reverse=True):
        obj = event.get("involvedObject") or {}
        message = " ".join(str(event.get("message") or "").split())[:160]
        shown.append(f"{obj.get('kind', '?')}/{obj.get('name', '?')} {event.get('reason', '?')}: {message}")
    return shown


def _listed(label: str, items: Sequence[str]) -> str:
    more = f" (+{len(items) - SHOWN} more)" if len(items) > SHOWN else ""
    return f"{label}: " + "; ".join(items[:SHOWN]) + more


@dataclass
class HelmWaitReporter:
    """Looks at ``namespace`` every ``every`` seconds while helm runs; echoes and keeps one line each."""

    kubectl: Kubectl
    namespace: str
    echo: Callable[[str], None]
    clock: Clock
    prefix: str = "[install]"
    every: float = REPORT_EVERY
    lines: list[str] = field(default_factory=list)
    started: float | None = None
    last: float | None = None

    def tick(self) -> None:
        """Report when ``every`` seconds passed since helm started or since the last report."""
        now = self.clock.now()
        if self.started is None:
            self.started = self.last = now
            return
        if self.last is not None and now - self.last < self.every:
            return
        self.last = now
        line = f"{self.prefix} helm still waiting after {now - self.started:.0f}s: {self.look()}"
        self.lines.append(line)
        self.echo(line)

    def look(self) -> str:
        """One look at the namespace, as a line (a failing look says so; it never stops helm)."""
        try:
            pods, jobs = self.kubectl.pods_and_jobs(self.namespace)
            events = self._events()
        except (ConformanceError, ValueError) as exc:
            return f"cannot look at namespace {self.namespace}: {' '.join(str(exc).split())[:200]}"
        parts = []
        waiting, hooks, warnings = waiting_pods(pods), open_hooks(jobs), warning_events(events)
        parts.append(_listed("not ready", waiting) if waiting else f"all {len(pods)} pods ready")
        if hooks:
            parts.append(_listed("hook jobs", hooks))
        if warnings:
            parts.append(_listed("warnings", warnings[:SHOWN]))
        return " | ".join(parts)

    def _events(self) -> list[dict[str, Any]]:
        result = self.kubectl.run("get", "events", "--namespace", self.namespace,
                                  "--field-selector", "type=Warning", "-o", "json")  # fmt: skip
        items = json.loads(result.stdout or "{}").get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def wait_for(self, helm: Future[Any], budget: float) -> None:
        """Report until ``helm`` is done (helm's own runner timeout ends it; ``budget`` bounds this too)."""

        def finished() -> None:
            self.tick()
            assert helm.done(), "helm still running"

        try:
            eventually(finished, timeout=budget, interval=HELM_POLL, clock=self.clock, scale=1.0,
                       what="helm upgrade --install to finish")  # fmt: skip
        except WaitTimeout:
            return  # the caller's future.result() then reports helm's own timeout
