"""promtool (Prometheus 2.42+ / 3.x), driven through a Runner.

promtool reports parse and test failures on stdout/stderr and exits 1; the chart checks read that text and
map it back to the file that holds the expression, so these methods return the result instead of raising.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.runner import Runner, SubprocessRunner, find_tool

PROMTOOL_FIX = (
    "run `./scripts/bootstrap` (installs it from the Debian package prometheus), "
    "or install promtool (it ships with Prometheus, https://prometheus.io/download/) on PATH"
)


@dataclass(frozen=True)
class PromtoolRun:
    """What one promtool call printed, both streams together, and whether it passed."""

    argv: tuple[str, ...]
    ok: bool
    output: str

    def tail(self, lines: int = 6) -> str:
        kept = [line.strip() for line in self.output.strip().splitlines() if line.strip()]
        return " | ".join(kept[-lines:])


class Promtool:
    """promtool over a Runner. ``path`` defaults to the promtool :func:`find_tool` finds."""

    def __init__(self, runner: Runner | None = None, path: str | None = None, *, timeout: float = 120.0):
        self.runner: Runner = runner if runner is not None else SubprocessRunner()
        self.path = path if path is not None else find_tool("promtool", fix=PROMTOOL_FIX)
        self.timeout = timeout

    def _promtool(self, *args: str, cwd: str | os.PathLike[str] | None = None) -> PromtoolRun:
        result = self.runner.run([self.path, *args], timeout=self.timeout, check=False, cwd=cwd)
        output = "\n".join(part for part in (result.stdout, result.stderr) if part)
        if result.returncode != 0 and "error: path" in output and "does not exist" in output:
            raise ToolError(f"`{' '.join(result.argv)}`: {output.strip().splitlines()[-1]}")
        return PromtoolRun(result.argv, result.returncode == 0, output)

    def version(self) -> str:
        run = self._promtool("--version")
        first = run.output.strip().splitlines()[0] if run.output.strip() else ""
        if not run.ok or "version" not in first:
            raise ToolError(f"`{self.path} --version` did not print a version: {PROMTOOL_FIX}")
        return first

    def check_rules(self, files: Sequence[str | os.PathLike[str]]) -> PromtoolRun:
        """``promtool check rules FILE...``."""
        return self._promtool("check", "rules", *(str(f) for f in files))

    def test_rules(
        self, files: Sequence[str | os.PathLike[str]], *, cwd: str | os.PathLike[str] | None = None
    ) -> PromtoolRun:
        """``promtool test rules FILE...`` (``rule_files`` inside resolve relative to each test file)."""
        return self._promtool("test", "rules", *(str(f) for f in files), cwd=cwd)
