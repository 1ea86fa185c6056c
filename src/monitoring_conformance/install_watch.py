"""Watching Grafana come up while helm installs the chart: the live figure of grafana.ready_within_30s.

:func:`install_watched` records t0 (the wall clock right before ``helm upgrade --install`` starts: the
deployment's start, and an earlier t0 can only make the figure larger), runs helm in a worker thread, and
in the calling thread polls Grafana through the API-server proxy every half second until ``/api/health``
says the database is ok AND the overview dashboard loads. The admin Secret appears only once helm has
created it, so reading it is part of the probe.

An answer counts only when it came from a Grafana *this install* deployed. On a kept cluster, ``helm
upgrade`` may leave the running Grafana alone (or replace it by a rolling update, the old pod answering
until the new one is ready); an answer from a pod that was there before t0 says nothing about how fast a
fresh deployment gets ready. So the watch also looks at the Grafana pods (``kubectl get pods``,
creationTimestamp against t0): the ready time is the end of the first successful probe made after a look
showed that no pod from before t0 is left to answer (every such pod gone or being deleted) and a pod
created at or after t0 exists. The figure is an upper bound on the new deployment's ready time: a pass
is never false. ``redeployed`` in the evidence says whether a Grafana pod created at or after t0 was
seen at all (False: this install did not redeploy Grafana, nothing was measured).

Polling stops early when helm fails (its error is what the install phase reports), when a Grafana pod
cannot recover (CrashLoopBackOff, ImagePullBackOff), when helm finished without any Grafana pod created
after t0 (not redeployed), a grace period after helm finished without Grafana being ready, or when the
watch itself breaks (the reason is kept, helm goes on); the evidence then says why, and ``ready_at``
stays None. An interrupt (Ctrl-C) waits a bounded time for helm's thread before it goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import urllib3
from kubernetes.client import ApiException

from monitoring_conformance.api.grafana import Grafana, grafana_login
from monitoring_conformance.api.http import AuthError, Endpoint
from monitoring_conformance.errors import ConformanceError, ToolError, Unrecoverable, WaitTimeout
from monitoring_conformance.helm_wait import HelmWaitReporter
from monitoring_conformance.stack import Stack
from monitoring_conformance.tools.kubectl import Kubectl, pod_failures
from monitoring_conformance.wait import NOT_YET, Clock, eventually

T = TypeVar("T")

#: Seconds between two probes (the figure's resolution).
INTERVAL = 0.5
#: Seconds between two looks at the Grafana pods (CrashLoopBackOff, ImagePullBackOff end the watch).
PODS_EVERY = 5.0
#: Seconds between two looks while Grafana answers but a pod from before t0 may still be the one answering.
HANDOVER_EVERY = 1.0
#: Seconds the watch goes on after helm finished without Grafana being ready.
GRACE_AFTER_HELM = 120.0
#: Seconds after helm finished (helm --wait has seen the rollout through) after which a look at the pods
#: that finds no Grafana pod created at or after t0 means this install did not redeploy Grafana.
NOT_REDEPLOYED_AFTER = 10.0
#: Seconds an interrupted watch (Ctrl-C) waits for helm's thread before the interrupt goes on.
HELM_JOIN_S = 15.0
GRAFANA_SELECTOR = "app.kubernetes.io/name=grafana"
T0_SOURCE = "wall clock right before `helm upgrade --install` started (this run)"
PODS_SOURCE = f"kubectl get pods --selector {GRAFANA_SELECTOR}: metadata.creationTimestamp against t0"

Credentials = Callable[[], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Readiness:
    """What the watch saw: the wall time Grafana was first ready (None: not seen), and the evidence."""

    ready_at: float | None
    evidence: dict[str, Any]

    def apply_to(self, stack: Stack) -> None:
        """Hand what was seen to the stack (grafana.ready_within_30s reads it there)."""
        stack.grafana_ready_at = self.ready_at
        stack.grafana_ready_evidence = dict(self.evidence)


class NotRedeployed(Unrecoverable):
    """helm finished and no Grafana pod was created after t0: there is no fresh deployment to measure."""


@dataclass(frozen=True)
class PodAge:
    """One Grafana pod as the watch judges it against t0."""

    name: str
    created: str  # metadata.creationTimestamp as the API server wrote it ("" when missing)
    new: bool  # created at or after t0 (this install's); False also when the timestamp is unreadable
    alive: bool  # may answer now or later: not being deleted and not finished

    def shown(self) -> dict[str, Any]:
        return {"name": self.name, "created": self.created, "new": self.new, "alive": self.alive}


def pod_ages(pods: Sequence[Mapping[str, Any]], t0: float) -> list[PodAge]:
    """The pods, each marked new (created at or after t0) and alive (not deleting, not finished).

    creationTimestamp has whole seconds (truncated), so a pod created at or after t0 shows at least
    floor(t0); an unreadable timestamp never counts as new.
    """
    ages = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        created = str(meta.get("creationTimestamp") or "")
        stamp = _epoch(created)
        new = stamp is not None and stamp >= int(t0)
        alive = not meta.get("deletionTimestamp") and status.get("phase") not in ("Succeeded", "Failed")
        ages.append(PodAge(str(meta.get("name", "?")), created, new, alive))
    return ages


def pods_evidence(kubectl: Kubectl, namespace: str, t0: float, t0_source: str) -> dict[str, Any]:
    """For a t0 this run did not watch (helm's info.last_deployed, --deployed-at): one look at the Grafana
    pods, in the watch's evidence keys. A Grafana pod created before t0 and still alive means Grafana may
    have been ready before t0, so a poll now cannot bound its ready time (checks/watched.py)."""
    base: dict[str, Any] = {"deployment": f"the deployment at t0 ({t0_source})", "answered": False,
                            "pods_source": PODS_SOURCE}  # fmt: skip
    try:
        pods = kubectl.pods(namespace, selector=GRAFANA_SELECTOR)
    except ToolError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return {**base, "redeployed": None, "fresh": False, "grafana_pods": [], "last": first[:300],
                "stopped": "one look at the Grafana pods when the target opened"}  # fmt: skip
    ages = pod_ages(pods, t0)
    new = any(age.new for age in ages)
    return {**base, "redeployed": new, "fresh": new and not any(a.alive and not a.new for a in ages),
            "grafana_pods": [age.shown() for age in ages]}  # fmt: skip


def _epoch(stamp: str) -> float | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None
    except ValueError:
        return None


@dataclass
class _Seen:
    attempts: int = 0
    last: str = "no probe yet"
    helm_done_at: float | None = None
    pods_at: float | None = None
    pods: list[PodAge] = field(default_factory=list)
    looked: bool = False  # the pods were listed at least once
    redeployed: bool = False  # a Grafana pod created at or after t0 was seen
    fresh: bool = False  # a look found no pod from before t0 alive, and a new one: answers are the new one's
    answered: bool = False  # Grafana answered a probe (from any pod)
    health: dict[str, str] = field(default_factory=dict)
    dashboard: dict[str, Any] = field(default_factory=dict)


@dataclass
class GrafanaWatch:
    """How to reach Grafana while it comes up (the target builds it once the cluster's kubeconfig exists).

    ``endpoint`` makes a Grafana Endpoint through the API-server proxy (a session of its own, for the
    login cookie); ``credentials`` gives the admin login, raising a ConformanceError until the Secret
    exists; ``kubectl`` looks at the Grafana pods (stuck ones, and which were created after t0).
    """

    endpoint: Callable[[], Endpoint]
    credentials: Credentials
    dashboard_uid: str
    kubectl: Kubectl
    namespace: str = "monitoring"
    interval: float = INTERVAL
    grace: float = GRACE_AFTER_HELM
    client: Grafana | None = None
    #: The login that worked (the target reuses it for the stack).
    used: tuple[str, str] | None = None
    #: Called at every probe (install_watched hands it the helm-wait reporter).
    on_tick: Callable[[], None] | None = None

    def observe(
        self, helm: Future[Any], t0: float, *, clock: Clock, wall: Callable[[], float], budget: float
    ) -> Readiness:
        """Poll until Grafana is ready, helm fails, a Grafana pod is stuck, or the budget is spent."""
        seen = _Seen()

        def probe() -> float:
            seen.attempts += 1
            if self.on_tick is not None:
                self.on_tick()
            try:
                return self._probe(helm, seen, t0, clock, wall)
            except NOT_YET as exc:
                seen.last = " ".join(str(exc).split())[:300] or type(exc).__name__
                raise

        ready_at: float | None = None
        stopped = ""
        try:
            ready_at = eventually(probe, timeout=budget, interval=self.interval, clock=clock, scale=1.0,
                                  what=f"Grafana healthy and dashboard {self.dashboard_uid} loading")
        except WaitTimeout:
            stopped = f"not ready within the watch's {budget:g}s"
        except Unrecoverable as exc:
            stopped = " ".join(str(exc).split())
        except Exception as exc:  # the watch broke, not the install: keep the reason, let helm finish
            stopped = f"the watch failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        evidence: dict[str, Any] = {
            "t0": t0,
            "t0_source": T0_SOURCE,
            "ready_at": ready_at,
            "watched_until": ready_at if ready_at is not None else wall(),
            "attempts": seen.attempts,
            "interval": self.interval,
            "dashboard_uid": self.dashboard_uid,
            "via": self.client.endpoint.describe() if self.client else "API-server proxy",
            "health": seen.health,
            "dashboard": seen.dashboard,
            # None: the pods could not be listed, so whether this install deployed Grafana is unknown
            "redeployed": seen.redeployed if seen.looked else None,
            "fresh": seen.fresh,
            "answered": seen.answered,
            "grafana_pods": [age.shown() for age in seen.pods],
            "pods_source": PODS_SOURCE,
        }
        if ready_at is None:
            evidence["stopped"] = stopped
            evidence["last"] = seen.last
        return Readiness(ready_at, evidence)

    # -- one probe ----------------------------------------------------------------------------------

    def _probe(
        self, helm: Future[Any], seen: _Seen, t0: float, clock: Clock, wall: Callable[[], float]
    ) -> float:
        self._check_helm(helm, seen, clock)
        self._look(seen, t0, clock, every=PODS_EVERY)
        grafana = self._grafana()
        self._ask(grafana, seen)
        if not seen.fresh:
            # the answer may have come from a pod of an earlier deployment: look which pods are left
            self._look(seen, t0, clock, every=HANDOVER_EVERY)
            if not seen.fresh:
                old = [age.name for age in seen.pods if age.alive and not age.new]
                which = ", ".join(old[:3]) or "none found"
                raise AssertionError(
                    f"Grafana answers, but not provably from this install: pod(s) created before t0 still "
                    f"alive ({which}); Grafana pods created at or after t0: "
                    f"{sum(age.new for age in seen.pods)}"
                )
            self._ask(grafana, seen)  # every pod from before t0 is gone: this answer is the new Grafana's
        return wall()

    def _ask(self, grafana: Grafana, seen: _Seen) -> None:
        try:
            seen.health = grafana.health()
            model = grafana.dashboard(self.dashboard_uid)
        except AuthError as exc:
            if exc.status == 403:
                raise
            self.client = None  # log in again with a fresh read of the Secret
            raise AssertionError(f"Grafana answered 401, logging in again: {exc}") from None
        seen.dashboard = {"uid": model.get("uid"), "title": model.get("title")}
        seen.answered = True

    def _check_helm(self, helm: Future[Any], seen: _Seen, clock: Clock) -> None:
        if not helm.done():
            return
        error = helm.exception()
        if error is not None:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise Unrecoverable(f"helm upgrade --install failed while Grafana was polled: {first}")
        now = clock.now()
        if seen.helm_done_at is None:
            seen.helm_done_at = now
        elif now - seen.helm_done_at > self.grace:
            raise Unrecoverable(f"Grafana still not ready {self.grace:g}s after helm finished ({seen.last})")

    def _look(self, seen: _Seen, t0: float, clock: Clock, *, every: float) -> None:
        """List the Grafana pods (at most once per ``every`` seconds): stuck ones end the watch; which are
        this install's decides whether an answer counts (see the module docstring)."""
        now = clock.now()
        if seen.pods_at is not None and now - seen.pods_at < every:
            return
        seen.pods_at = now
        try:
            pods = self.kubectl.pods(self.namespace, selector=GRAFANA_SELECTOR)
        except ToolError as exc:
            raise AssertionError(f"Grafana pods not readable yet: {exc}") from None
        stuck = pod_failures(pods)
        if stuck:
            raise Unrecoverable("Grafana cannot become ready: " + "; ".join(s.describe() for s in stuck[:4]))
        seen.looked = True
        seen.pods = pod_ages(pods, t0)
        new = [age for age in seen.pods if age.new]
        seen.redeployed = seen.redeployed or bool(new)
        if new and not any(age.alive and not age.new for age in seen.pods):
            seen.fresh = True  # pods from before t0 never come back; from here on answers are the new ones'
        done = seen.helm_done_at
        if not seen.redeployed and done is not None and now - done >= NOT_REDEPLOYED_AFTER:
            names = ", ".join(f"{age.name} (created {age.created or 'unknown'})" for age in seen.pods[:3])
            raise NotRedeployed(
                f"helm finished {now - done:.0f}s ago and no Grafana pod was created after t0 "
                f"(pods: {names or 'none'}): this install did not redeploy Grafana"
            )

    def _grafana(self) -> Grafana:
        if self.client is not None:
            return self.client
        try:
            login = self.credentials()
        except (ConformanceError, ApiException, OSError, urllib3.exceptions.HTTPError) as exc:
            raise AssertionError(f"no Grafana admin login yet: {' '.join(str(exc).split())[:200]}") from None
        endpoint = self.endpoint()
        if login is not None:
            try:
                grafana_login(endpoint, *login)
            except AuthError as exc:
                why = f"Grafana refused the admin login (the Secret is read again): {exc}"
                raise AssertionError(why) from None
        self.client, self.used = Grafana(endpoint), login
        return self.client


def start_thread(work: Callable[[], T], name: str) -> Future[T]:
    """Run ``work`` in a daemon thread; its result or exception lands in the returned Future.

    A daemon thread: an interpreter that is exiting (Ctrl-C) is not held up by it; the command it runs is
    bounded by the runner's own timeout.
    """
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = work()
        except BaseException as exc:  # handed over to whoever reads the Future
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def install_watched(
    install: Callable[[], T],
    watch: GrafanaWatch | None,
    *,
    clock: Clock,
    wall: Callable[[], float] = time.time,
    budget: float,
    join_timeout: float = HELM_JOIN_S,
    reporter: HelmWaitReporter | None = None,
) -> tuple[T, float, Readiness | None]:
    """Run ``install`` (helm) and, when ``watch`` is given, watch Grafana meanwhile: (result, t0, readiness).

    t0 is taken right before ``install`` starts. ``install``'s own exception propagates after the watch
    ended (helm's runner timeout bounds the wait for it). When the watch is interrupted (KeyboardInterrupt),
    helm's thread is waited for at most ``join_timeout`` seconds (a Ctrl-C reaches helm too) before the
    interrupt goes on.
    """
    t0 = wall()
    if watch is None and reporter is None:
        return install(), t0, None
    future = start_thread(install, "helm-install")
    if reporter is not None:
        reporter.tick()  # helm started: the first report comes one period later
    try:
        readiness = None
        if watch is not None:
            watch.on_tick = reporter.tick if reporter is not None else None
            readiness = watch.observe(future, t0, clock=clock, wall=wall, budget=budget)
        if reporter is not None:
            reporter.wait_for(future, budget)  # Grafana may be ready while helm still waits for the rest
        result = future.result()  # helm's runner timeout bounds this
    except BaseException:  # an interrupt (or a bug): helm's thread is not left behind without a look
        wait_futures([future], timeout=join_timeout)
        raise
    return result, t0, readiness
