"""Hold pytest's terminal output back until the target has opened, so bad input reads as one line.

pytest prints its session header (platform, rootdir, plugins...) before the conformance plugin has checked
the options and probed the URLs. The CLI runs pytest with :class:`OutputGate` as ``sys.stdout``: output is
buffered until the test loop starts (the target is open by then), then flushed and passed through live. On
a usage error the buffer is dropped, so the user sees the one-line error on stderr and nothing else.
"""

from __future__ import annotations

import io
from typing import TextIO

import pytest


class OutputGate(io.TextIOBase):
    """A text stream that buffers until :meth:`release` and writes through to ``target`` afterwards.

    It is also a pytest plugin: the gate opens when the test loop starts.
    """

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target
        self.held: list[str] = []
        self.released = False

    # -- the stream -----------------------------------------------------------------------------------
    def write(self, text: str) -> int:
        if self.released:
            return self.target.write(text)
        self.held.append(text)
        return len(text)

    def flush(self) -> None:
        if self.released:
            self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    # -- the gate -------------------------------------------------------------------------------------
    def release(self) -> None:
        """Write what was held and pass everything through from now on."""
        if self.released:
            return
        self.released = True
        self.target.write("".join(self.held))
        self.held.clear()
        self.target.flush()

    def drop(self) -> str:
        """Forget what was held (bad input); return it, for tests."""
        text = "".join(self.held)
        self.held.clear()
        return text

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Collection is done and the target is open: from here on the output is the run's, show it."""
        self.release()
