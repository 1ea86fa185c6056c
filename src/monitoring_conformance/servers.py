"""Child server processes of the local stack: started with their own log file, stopped by their own PID.

Servers run for the whole life of a stack, so they are started with :class:`subprocess.Popen` here rather
than through :mod:`monitoring_conformance.tools.runner` (which runs commands to completion).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from monitoring_conformance.errors import ToolError, Unrecoverable

BIND_ERRORS = ("address already in use", "errno 98")
STOP_TIMEOUT = 5.0
LOG_TAIL_LINES = 15


class PortInUse(ToolError):
    """A server could not bind the port it was given (another process took it first)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; callers retry on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent(argv: list[str]) -> list[str]:
    """``argv`` prefixed with ``setpriv --pdeathsig TERM --`` where util-linux's setpriv exists (Linux).

    The kernel then sends SIGTERM to the server if the thread that started it dies without cleaning up
    (a killed test process). setpriv sets that and execs the server, so the PID stays the server's. This
    replaces a ``preexec_fn``, which is not safe when stacks are started from several threads. Without
    setpriv, the context manager and the atexit hook are the clean-up. Note the signal follows the
    starting *thread*: start a stack from a thread that outlives it (the main thread, or a pool's worker
    until the pool shuts down).
    """
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else list(argv)


@dataclass
class ServerProcess:
    """One child process with its log file. Stopped by its own PID, never by name."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, cwd: Path) -> None:
        # a fresh file: an earlier attempt's "address already in use" must not read as this one's
        self._log = self.log_path.open("wb")
        try:
            self.popen = subprocess.Popen(
                die_with_parent(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self._close_log()
            raise ToolError(f"{self.name}: cannot start `{' '.join(self.argv)}`: {exc}") from exc

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self.popen.poll() if self.popen else None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise at once (ending any wait) if the process has exited; PortInUse when it lost a port race."""
        code = self.exited()
        if code is None:
            return
        tail = self.tail()
        message = f"{self.name} exited with code {code}; last lines of {self.log_path}:\n{indent(tail)}"
        if any(marker in tail.lower() for marker in BIND_ERRORS):
            raise PortInUse(message)
        raise Unrecoverable(message)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate, wait at most ``timeout`` seconds, then kill. Safe to call twice."""
        proc = self.popen
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in text.splitlines()) or "    | (empty)"
