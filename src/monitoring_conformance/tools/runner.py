"""Running external commands: argument lists, a timeout on every call, readable errors.

Every subprocess in this project goes through a :class:`Runner`. Orchestration code takes a runner as a
parameter, so unit tests pass a recording double (tests/doubles/runner.py) and assert the exact argv sequence.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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

    def run(self, argv: Sequence[str], *, timeout: float, check: bool = True, input: str | None = None,
            env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None) -> Result:
        args = [str(a) for a in argv]
        full_env = {**os.environ, **env} if env else None
        try:
            proc = subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout,
                                  env=full_env, cwd=cwd, check=False)  # fmt: skip
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

    def run(self, argv: Sequence[str], *, timeout: float, env: Mapping[str, str] | None = None,
            **options: Any) -> Result:  # fmt: skip
        return self.runner.run(argv, timeout=timeout, env={**self.env, **(env or {})}, **options)


def with_env(runner: Runner, env: Mapping[str, str]) -> Runner:
    """``runner`` itself when ``env`` is empty, else an :class:`EnvRunner` around it."""
    return EnvRunner(runner, env) if env else runner


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
