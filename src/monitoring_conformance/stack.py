"""What every target hands the suite: a :class:`Stack` of endpoints, and the :class:`Target` protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from monitoring_conformance.api.http import Endpoint
    from monitoring_conformance.identity import AppEndpoints


@dataclass
class Stack:
    """A reachable monitoring stack: one endpoint per system (None: not offered by this target)."""

    target: str
    prometheus: Endpoint | None
    grafana: Endpoint | None
    loki: Endpoint | None
    app: Endpoint | None
    t0: float | None = None
    t0_source: str = "unknown"
    namespaces: dict[str, str] = field(default_factory=lambda: {"monitoring": "monitoring", "app": "todo"})
    versions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: Wall time Grafana was first seen ready while this run installed the chart (None: not observed).
    grafana_ready_at: float | None = None
    #: How that was observed (t0, watched_until, attempts, interval, dashboard_uid, redeployed, fresh...);
    #: for a t0 that was not watched, the kube targets' one look at the Grafana pods (redeployed, fresh);
    #: empty: nothing known (urls target).
    grafana_ready_evidence: dict[str, Any] = field(default_factory=dict)
    #: The ready endpoints behind the app Service the suite talks to, read on each call (kube targets);
    #: None: the target has no Service (urls: the app's process_start_time_seconds is the identity).
    app_identity: Callable[[], AppEndpoints] | None = None
    #: alerts.fire: rule evaluation, Alertmanager and an undoable fault (None: the target offers none).
    alerting: Alerting | None = None


class Fault(Protocol):
    """A fault a target can induce and undo (alerts.fire): the Todo backend down, for instance."""

    name: str

    def describe(self) -> str: ...

    def induce(self) -> None: ...

    def undo(self) -> None: ...  # safe to call twice, and when induce() failed half-way

    def sustain(self) -> None: ...  # called on each poll while the alert is awaited (a 5xx burst's requests)

    def wait_healthy(self, timeout: float) -> None: ...  # raises when the app is not healthy in time


@dataclass
class Alerting:
    """What alerts.fire needs: the Prometheus that evaluates the chart's rules, Alertmanager, and a fault.

    ``fault`` None: the target cannot induce one; ``reason`` says why (becomes not_verified).
    """

    prometheus: Endpoint
    alertmanager: Endpoint | None
    fault: Fault | None
    reason: str = ""
    #: The fault of the profile's ``error_alert`` (a burst of 5xx); None: the target cannot induce one.
    error_fault: Fault | None = None
    #: How the rules got there (for the report): "the chart's PrometheusRule, via the operator"...
    rules_source: str = ""


class Target(Protocol):
    """How a stack is created or reached. ``plan()`` lists commands without running any."""

    name: str

    def plan(self) -> list[list[str]]: ...

    def open(self) -> Stack: ...

    def close(self, *, failed: bool) -> None: ...

    def diagnostics(self, directory: Path) -> dict[str, str]: ...
