"""eventually(): the one place in this project that waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests

from monitoring_conformance.errors import EndpointError, Unrecoverable, WaitTimeout

T = TypeVar("T")

#: Errors that mean "not yet": the probe's assertion, or a transport hiccup.
NOT_YET: tuple[type[BaseException], ...] = (
    AssertionError,
    EndpointError,
    requests.ConnectionError,
    requests.Timeout,
)


@dataclass
class Clock:
    """Monotonic time and sleeping. Tests inject a fake clock instead of waiting for real."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class WaitConfig:
    """Process-wide wait settings: the timeout scale factor (set once, from the resolved --timeout-scale /
    MC_TIMEOUT_SCALE, by :func:`set_timeout_scale`) and the clock."""

    scale: float = 1.0
    clock: Clock = field(default_factory=Clock)


CONFIG = WaitConfig()


def set_timeout_scale(scale: float) -> None:
    """Set the global factor every eventually() timeout is multiplied by."""
    if scale <= 0:
        raise ValueError(f"timeout scale must be > 0, got {scale}")
    CONFIG.scale = scale


def budget(timeout: float, scale: float | None = None) -> float:
    """``timeout`` seconds under the global scale (or ``scale``): every scaled budget comes from here."""
    return timeout * (CONFIG.scale if scale is None else scale)


def eventually(
    probe: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.5,
    what: str,
    clock: Clock | None = None,
    scale: float | None = None,
) -> T:
    """Call ``probe`` until it returns without raising a "not yet" error, or the deadline passes.

    AssertionError and transport errors mean "not yet"; the last one is kept and shown in the timeout
    message. :class:`Unrecoverable` and any other exception propagate at once. ``timeout`` is multiplied by
    the global scale. Polling stops at the deadline, and never sleeps past it.
    """
    clk = clock or CONFIG.clock
    seconds = budget(timeout, scale)
    if seconds <= 0:
        raise ValueError(f"timeout must be > 0, got {timeout}")
    start = clk.now()
    deadline = start + seconds
    attempts = 0
    last: BaseException | None = None
    while True:
        attempts += 1
        try:
            return probe()
        except Unrecoverable:
            raise
        except NOT_YET as exc:
            last = exc
        now = clk.now()
        if now >= deadline:
            break
        clk.sleep(min(interval, deadline - now))
    elapsed = clk.now() - start
    seen = _describe(last)
    raise WaitTimeout(
        f"{what}: not met after {elapsed:.1f}s ({attempts} attempts)\n  last observation: {seen}"
    ) from last


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "none"
    text = str(exc).strip() or type(exc).__name__
    return text.replace("\n", "\n    ")
