"""Running external commands: argument lists, a timeout on every call, readable errors.

Every subprocess in this project goes through a :class:`Runner`. Orchestration code takes a runner as a
parameter, so unit tests pass a :class:`RecordingRunner` and assert the exact argv sequence.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from monitoring_conformance import resources
from monitoring_conformance.errors import CommandFailed, ToolError

#: Where the bootstrap puts the tools it fetches (git-ignored). Searched before PATH.
TOOLS_DIR = resources.TOOLS_DIR


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs one command and returns its result; raises CommandFailed on a non-zero exit when check=True."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Result: ...


class SubprocessRunner:
    """The real runner."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Result:
        args = [str(a) for a in argv]
        full_env = {**os.environ, **env} if env else None
        try:
            proc = subprocess.run(
                args,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=full_env,
                cwd=cwd,
                check=False,
            )
        except FileNotFoundError as exc:
            raise ToolError(f"`{args[0]}` not found: install it or put it on PATH") from exc
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise CommandFailed(args, None, err, timeout=timeout) from exc
        result = Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise CommandFailed(args, proc.returncode, proc.stderr or proc.stdout)
        return result


class EnvRunner:
    """A Runner that adds fixed environment variables to every command (``KUBECONFIG`` for a path list)."""

    def __init__(self, runner: Runner, env: Mapping[str, str]):
        self.runner = runner
        self.env = dict(env)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Result:
        merged = {**self.env, **(env or {})}
        return self.runner.run(argv, timeout=timeout, check=check, input=input, env=merged, cwd=cwd)


def with_env(runner: Runner, env: Mapping[str, str]) -> Runner:
    """``runner`` itself when ``env`` is empty, else an :class:`EnvRunner` around it."""
    return EnvRunner(runner, env) if env else runner


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

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Result:
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


def find_tool(name: str, *, fix: str) -> str:
    """The path of ``name`` from the bootstrap's tools folder or PATH, or raise a one-line ToolError."""
    local = TOOLS_DIR / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise ToolError(f"{name} not found on PATH or in {TOOLS_DIR}: {fix}")


def tool_or_name(name: str) -> str:
    """The path :func:`find_tool` finds, or the bare ``name`` when it is missing (``--plan`` listings and
    optional tools; running a missing one fails with runner's own ToolError)."""
    try:
        return find_tool(name, fix="")
    except ToolError:
        return name
