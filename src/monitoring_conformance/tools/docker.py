"""docker, driven through a Runner: is the engine reachable, build an image, report versions."""

from __future__ import annotations

import os

from monitoring_conformance.errors import CommandFailed, ToolError
from monitoring_conformance.tools.runner import Runner, SubprocessRunner, find_tool

DOCKER_FIX = "install Docker (https://docs.docker.com/engine/install/) and start the engine"
#: `docker info` answers in well under a second when the engine runs; a hung socket must not stall preflight.
INFO_TIMEOUT = 3.0
BUILD_TIMEOUT = 900.0

PathLike = str | os.PathLike[str]


class Docker:
    """The docker CLI over a Runner. ``path`` defaults to the docker that :func:`find_tool` finds."""

    def __init__(self, runner: Runner | None = None, path: str | None = None):
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.path = path if path is not None else find_tool("docker", fix=DOCKER_FIX)

    def engine_version(self) -> str:
        """The engine's version via ``docker info``; a ToolError saying why when the engine is unreachable."""
        try:
            result = self.runner.run(self.info_argv(), timeout=INFO_TIMEOUT, check=False)
        except CommandFailed as exc:  # timed out
            raise ToolError(
                f"docker engine not reachable (`docker info` timed out after {INFO_TIMEOUT:g}s)"
            ) from exc
        version = result.stdout.strip()
        if result.returncode != 0 or not version or version == "<no value>":
            reason = _last_line(result.stderr or result.stdout) or f"exit {result.returncode}"
            raise ToolError(f"docker engine not reachable ({reason})")
        return version

    def build(self, tag: str, context: PathLike, *also: str) -> None:
        """``docker build -t TAG [-t ALSO...] CONTEXT``."""
        self.runner.run(self.build_argv(tag, context, *also), timeout=BUILD_TIMEOUT)

    def build_argv(self, tag: str, context: PathLike, *also: str) -> list[str]:
        tags = [arg for name in (tag, *also) for arg in ("-t", name)]
        return [self.path, "build", *tags, str(context)]

    def info_argv(self) -> list[str]:
        return [self.path, "info", "--format", "{{.ServerVersion}}"]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
