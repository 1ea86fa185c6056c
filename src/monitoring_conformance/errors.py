"""The exceptions users see. Each one carries a message that reads on one line."""

from __future__ import annotations


class ConformanceError(Exception):
    """Base class: every error of this project has a readable one-line message."""


class UsageError(ConformanceError):
    """Bad input: an option, a file or an environment variable. The message names it, the value, the fix."""


class ToolError(ConformanceError):
    """An external command failed or is missing."""


class CommandFailed(ToolError):
    """A command ran and exited non-zero, or ran past its timeout."""

    def __init__(self, argv: list[str], returncode: int | None, stderr: str, *, timeout: float | None = None):
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        self.timeout = timeout
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-3:] if line.strip())
        if timeout is not None and returncode is None:
            head = f"`{' '.join(argv)}` timed out after {timeout:g}s"
        else:
            head = f"`{' '.join(argv)}` exited {returncode}"
        super().__init__(f"{head}: {tail}" if tail else head)


class EndpointError(ConformanceError):
    """An HTTP endpoint could not be reached or answered with an error."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None):
        self.url = url
        self.status = status
        super().__init__(message)


class Unrecoverable(ConformanceError):
    """A state a wait cannot recover from (CrashLoopBackOff, 401, a failed hook). Ends a wait at once."""


class WaitTimeout(ConformanceError, AssertionError):
    """eventually() ran out of time. The message holds the last observation."""
