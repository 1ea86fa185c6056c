"""Polling for a check: one eventually() per requirement, with a failure message that says where to look."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from monitoring_conformance.errors import ConformanceError, Unrecoverable, WaitTimeout
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import CONFIG, Clock, eventually

T = TypeVar("T")


class CheckFailed(AssertionError):
    """A requirement is not met. The message follows STYLE.md: expected, last seen, request, look next."""


class NotVerifiable(ConformanceError):
    """The requirement cannot be checked on this stack (no Grafana URL, no t0...). Becomes not_verified."""


class Described(Protocol):
    """Anything that can say where its requests went (an api.http.Endpoint)."""

    last_request: str | None

    def describe(self) -> str: ...


def expect(condition: bool, message: str) -> None:
    """Raise AssertionError ("not yet") with ``message`` unless ``condition`` holds.

    Used instead of ``assert``: the message stays exactly as written (no rewriting), and ``python -O``
    cannot strip the check.
    """
    if not condition:
        raise AssertionError(message)


def label_set(labels: Mapping[str, str]) -> str:
    """A label set as text, names sorted: ``{instance="...", job="..."}``."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def request_line(endpoint: Described | None) -> str:
    """``GET /api/v1/query?... -> 200 (Prometheus at http://... (direct))``, or a placeholder."""
    if endpoint is None:
        return "none"
    return f"{endpoint.last_request or 'no request sent'} ({endpoint.describe()})"


@dataclass
class Poll:
    """Runs a probe under the spec's budget and counts attempts, for a message like
    ``metrics.cpu FAILED after 60.0s (31 attempts): ...``.
    """

    record: Record
    spec: Spec
    clock: Clock | None = None
    scale: float | None = None
    attempts: int = 0
    elapsed: float = 0.0
    endpoints: Sequence[Described | None] = field(default_factory=tuple)

    def until(self, probe: Callable[[], T], *, what: str, look_next: Callable[[], str] | str) -> T:
        """Call ``probe`` until it passes; on timeout or an unrecoverable state raise CheckFailed."""
        clock = self.clock or CONFIG.clock
        start = clock.now()

        def counted() -> T:
            self.attempts += 1
            return probe()

        try:
            return eventually(
                counted,
                timeout=self.spec.timeout,
                interval=self.spec.interval,
                what=what,
                clock=clock,
                scale=self.scale,
            )
        except WaitTimeout as exc:
            self.elapsed = clock.now() - start
            last = one_line(exc.__cause__) if exc.__cause__ is not None else "none"
            head = f"after {self.elapsed:.1f}s ({self.attempts} attempts)"
            raise self.failed(head, what, last, look_next) from None
        except Unrecoverable as exc:
            self.elapsed = clock.now() - start
            head = f"at once after {self.elapsed:.1f}s ({self.attempts} attempts, unrecoverable)"
            raise self.failed(head, what, one_line(exc), look_next) from None
        finally:
            self.elapsed = clock.now() - start

    def failed(self, head: str, what: str, last: str, look_next: Callable[[], str] | str) -> CheckFailed:
        """Build the failure message (the plugin records it as the case's message)."""
        # the request lines first: building the hint sends requests of its own
        requests = [request_line(e) for e in self.endpoints if e is not None] or ["none"]
        hint = look_next if isinstance(look_next, str) else _safe(look_next)
        lines = [
            f"{self.record.id} FAILED {head}: {what}",
            f"  last observation: {last}",
            *(f"  request: {line}" for line in requests),
            f"  look next: {hint}",
        ]
        return CheckFailed("\n".join(lines))


def fail(record: Record, what: str, last: str, *, request: str, look_next: str) -> CheckFailed:
    """A failure found without waiting (e.g. a restart counter above its threshold)."""
    message = "\n".join(
        [
            f"{record.id} FAILED: {what}",
            f"  last observation: {last}",
            f"  request: {request}",
            f"  look next: {look_next}",
        ]
    )
    return CheckFailed(message)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its lines joined by `` | ``), or its type when it has none."""
    text = str(exc).strip() or type(exc).__name__
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def _safe(look_next: Callable[[], str]) -> str:
    """Run a look-next hint builder; it makes requests of its own, so it must never mask the failure."""
    try:
        return look_next()
    except Exception as exc:  # a hint must not replace the real failure
        return f"(could not build a hint: {one_line(exc)})"
