"""Watching Grafana come up while helm installs the chart: the live figure of grafana.ready_within_30s.

:func:`install_watched` records t0 (the wall clock right before ``helm upgrade --install`` starts: the
deployment's start, and an earlier t0 can only make the figure larger), runs helm in a worker thread, and
in the calling thread polls Grafana through the API-server proxy every half second until ``/api/health``
says the database is ok AND the overview dashboard loads. The ready time is the wall clock at the end of the
first successful probe, so the figure is an upper bound (by at most one poll interval): a pass is never
false. The admin Secret appears only once helm has created it, so reading it is part of the probe.

Polling stops early when helm fails (its error is what the install phase reports), when a Grafana pod
cannot recover (CrashLoopBackOff, ImagePullBackOff), or a grace period after helm finished without Grafana
being ready; the evidence then says why, and ``ready_at`` stays None.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import urllib3
from kubernetes.client import ApiException

from monitoring_conformance.api.grafana import Grafana
from monitoring_conformance.api.http import AuthError, Endpoint
from monitoring_conformance.errors import ConformanceError, ToolError, Unrecoverable, WaitTimeout
from monitoring_conformance.targets.kubeaccess import grafana_login
from monitoring_conformance.tools.kubectl import Kubectl, pod_failures
from monitoring_conformance.wait import NOT_YET, Clock, eventually

T = TypeVar("T")

#: Seconds between two probes (the figure's resolution).
INTERVAL = 0.5
#: Seconds between two looks at the Grafana pods (CrashLoopBackOff, ImagePullBackOff end the watch).
PODS_EVERY = 5.0
#: Seconds the watch goes on after helm finished without Grafana being ready.
GRACE_AFTER_HELM = 120.0
GRAFANA_SELECTOR = "app.kubernetes.io/name=grafana"
T0_SOURCE = "wall clock right before `helm upgrade --install` started (this run)"

Credentials = Callable[[], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Readiness:
    """What the watch saw: the wall time Grafana was first ready (None: not seen), and the evidence."""

    ready_at: float | None
    evidence: dict[str, Any]


@dataclass
class _Seen:
    attempts: int = 0
    last: str = "no probe yet"
    helm_done_at: float | None = None
    pods_at: float | None = None
    health: dict[str, str] = field(default_factory=dict)
    dashboard: dict[str, Any] = field(default_factory=dict)


@dataclass
class GrafanaWatch:
    """How to reach Grafana while it comes up (the target builds it once the cluster's kubeconfig exists).

    ``endpoint`` makes a Grafana Endpoint through the API-server proxy (a session of its own, for the
    login cookie); ``credentials`` gives the admin login, raising a ConformanceError until the Secret
    exists; ``kubectl`` (optional) is used to look at the Grafana pods.
    """

    endpoint: Callable[[], Endpoint]
    credentials: Credentials
    dashboard_uid: str
    kubectl: Kubectl | None = None
    namespace: str = "monitoring"
    interval: float = INTERVAL
    grace: float = GRACE_AFTER_HELM
    client: Grafana | None = None
    #: The login that worked (the target reuses it for the stack).
    used: tuple[str, str] | None = None

    def observe(
        self, helm: Future[Any], t0: float, *, clock: Clock, wall: Callable[[], float], budget: float
    ) -> Readiness:
        """Poll until Grafana is ready, helm fails, a Grafana pod is stuck, or the budget is spent."""
        seen = _Seen()

        def probe() -> float:
            seen.attempts += 1
            try:
                return self._probe(helm, seen, clock, wall)
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
        }
        if ready_at is None:
            evidence["stopped"] = stopped
            evidence["last"] = seen.last
        return Readiness(ready_at, evidence)

    # -- one probe ----------------------------------------------------------------------------------

    def _probe(self, helm: Future[Any], seen: _Seen, clock: Clock, wall: Callable[[], float]) -> float:
        self._check_helm(helm, seen, clock)
        self._check_pods(seen, clock)
        grafana = self._grafana()
        try:
            seen.health = grafana.health()
            model = grafana.dashboard(self.dashboard_uid)
        except AuthError as exc:
            if exc.status == 403:
                raise
            self.client = None  # log in again with a fresh read of the Secret
            raise AssertionError(f"Grafana answered 401, logging in again: {exc}") from None
        seen.dashboard = {"uid": model.get("uid"), "title": model.get("title")}
        return wall()

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

    def _check_pods(self, seen: _Seen, clock: Clock) -> None:
        if self.kubectl is None:
            return
        now = clock.now()
        if seen.pods_at is not None and now - seen.pods_at < PODS_EVERY:
            return
        seen.pods_at = now
        try:
            pods = self.kubectl.pods(self.namespace, selector=GRAFANA_SELECTOR)
        except ToolError as exc:
            raise AssertionError(f"Grafana pods not readable yet: {exc}") from None
        stuck = pod_failures(pods)
        if stuck:
            raise Unrecoverable("Grafana cannot become ready: " + "; ".join(s.describe() for s in stuck[:4]))

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


def install_watched(
    install: Callable[[], T],
    watch: GrafanaWatch | None,
    *,
    clock: Clock,
    wall: Callable[[], float] = time.time,
    budget: float,
) -> tuple[T, float, Readiness | None]:
    """Run ``install`` (helm) and, when ``watch`` is given, watch Grafana meanwhile: (result, t0, readiness).

    t0 is taken right before ``install`` starts. ``install``'s own exception propagates after the watch
    ended (helm's runner timeout bounds the wait for it).
    """
    t0 = wall()
    if watch is None:
        return install(), t0, None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="helm-install")
    try:
        future = pool.submit(install)
        readiness = watch.observe(future, t0, clock=clock, wall=wall, budget=budget)
        result = future.result()
    finally:
        pool.shutdown(wait=False)
    return result, t0, readiness
