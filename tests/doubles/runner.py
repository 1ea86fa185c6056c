"""RecordingRunner: a Runner double that records every command and answers from scripted responders.

It models :class:`monitoring_conformance.tools.runner.SubprocessRunner`'s contract (a Result per command,
CommandFailed on a non-zero exit when check=True, the argv and timeout of every call) without executing
anything, so the kube flow's exact command sequence can be asserted without Docker, kind or a cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitoring_conformance.errors import CommandFailed
from monitoring_conformance.tools.runner import Result

Responder = Callable[[tuple[str, ...]], "Result | Exception | None"]


@dataclass
class RecordingRunner:
    """A runner double for unit tests: records every argv and answers from scripted responders.

    ``responders`` are tried in order; the first that returns a Result (or an Exception, which is raised)
    wins. Unanswered commands succeed with empty output. Nothing is ever executed. It may be called from
    several threads (helm in a worker thread while Grafana is watched): ``calls[i]`` and ``timeouts[i]``
    always belong to the same command. Responders with state of their own guard it themselves.
    """

    responders: list[Responder] = field(default_factory=list)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    timeouts: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def on(self, prefix: Sequence[str], *, stdout: str = "", stderr: str = "", returncode: int = 0) -> None:
        """Answer commands whose argv starts with ``prefix`` (compared after the executable's basename)."""
        want = tuple(prefix)

        def responder(argv: tuple[str, ...]) -> Result | None:
            if _strip_exe(argv)[: len(want)] == want:
                return Result(argv, returncode, stdout, stderr)
            return None

        self.responders.insert(0, responder)

    def fail(self, prefix: Sequence[str], error: Exception) -> None:
        """Raise ``error`` for commands whose argv starts with ``prefix``."""
        want = tuple(prefix)

        def responder(argv: tuple[str, ...]) -> Exception | None:
            return error if _strip_exe(argv)[: len(want)] == want else None

        self.responders.insert(0, responder)

    def run(self, argv: Sequence[str], *, timeout: float, check: bool = True, **_ignored: Any) -> Result:
        """Record the command; answer from the responders (input, env and cwd are not modelled)."""
        args = tuple(str(a) for a in argv)
        with self.lock:  # one command's argv and timeout land at the same index
            self.calls.append(args)
            self.timeouts.append(timeout)
            responders = list(self.responders)
        for responder in responders:
            answer = responder(args)
            if isinstance(answer, Exception):
                raise answer
            if answer is not None:
                if check and answer.returncode != 0:
                    raise CommandFailed(list(args), answer.returncode, answer.stderr or answer.stdout)
                return answer
        return Result(args, 0, "", "")

    def commands(self) -> list[tuple[str, ...]]:
        """The recorded argv list, with each executable reduced to its basename."""
        return [_strip_exe(c) for c in self.calls]


def _strip_exe(argv: tuple[str, ...]) -> tuple[str, ...]:
    if not argv:
        return argv
    return (Path(argv[0]).name, *argv[1:])
