"""Ctrl-C (SIGINT) and a CI cancel (SIGTERM) stop a run the same way: as a KeyboardInterrupt.

Python ends a process on SIGTERM at once (exit 143), with no report and children left to themselves. The
CLI installs :func:`install` first thing, so SIGTERM raises KeyboardInterrupt like Ctrl-C does: pytest ends
the session as INTERRUPTED, the plugin writes the report (verdict ``interrupted``), targets are closed and
subprocesses stopped on the way out. Only the first signal interrupts; the ones after it are ignored, so
the clean-up they would cut short (report, kind teardown) finishes.

This module imports nothing heavy: it must be in place before pytest and the clients are imported.
"""

from __future__ import annotations

import signal
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: The names of the signals received in this process, first one first (empty: not interrupted).
received: list[str] = []


def _handle(signum: int, frame: FrameType | None) -> None:
    received.append(signal.Signals(signum).name)
    if len(received) == 1:
        raise KeyboardInterrupt


def install() -> dict[int, object]:
    """Route SIGINT and SIGTERM through :func:`_handle`; return their earlier handlers (for restore)."""
    received.clear()
    return {int(sig): signal.signal(sig, _handle) for sig in SIGNALS}


def restore(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def first() -> str | None:
    """The signal that interrupted the run (``SIGINT``, ``SIGTERM``), or None."""
    return received[0] if received else None
