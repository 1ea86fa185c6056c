"""Live tier helpers: run the conformance suite as a user does (a subprocess) and read its reports."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring_conformance import profile as profiles
from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.runner import SubprocessRunner, find_tool
from tests import REPO_ROOT

#: Budget of one suite run. A hung run fails the test instead of hanging the tier.
SUITE_TIMEOUT = 240.0
HOST_PROFILE = profiles.PROFILES_DIR / "host.yaml"
#: Not run over the urls target: it cannot induce a fault (alerts.fire has its own live test).
URLS_LEAVES_OUT = ("alerts.fire",)
#: Benchmark figures of this session ({name: value}), shown in the terminal summary by conftest.py.
FIGURES: dict[str, object] = {}
TOOLS = {
    "prometheus": "apt-get install -y --no-install-recommends prometheus",
    "prometheus-node-exporter": "apt-get install -y --no-install-recommends prometheus-node-exporter",
}


def require_tools() -> None:
    """Skip the live tier where its servers are not installed; in CI (CI set) that is a failure instead.

    A tool counts as installed where LocalStack finds it (find_tool: the tools folder, then PATH)."""
    missing = []
    for name, fix in TOOLS.items():
        try:
            find_tool(name, fix=fix)
        except ToolError:
            missing.append(f"{name} ({fix})")
    if not missing:
        return
    reason = "live tier needs " + "; ".join(missing)
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@dataclass
class SuiteRun:
    """One run of ``python -m monitoring_conformance``: exit code, output, duration and its reports."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    report_dir: Path

    @property
    def report(self) -> dict[str, Any]:
        path = self.report_dir / "acceptance.json"
        assert path.is_file(), f"no {path}\n{self.describe()}"
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded

    @property
    def requirements(self) -> dict[str, dict[str, Any]]:
        """``{requirement id: entry}`` of acceptance.json."""
        return {entry["id"]: entry for entry in self.report["requirements"]}

    def ids_with(self, status: str) -> set[str]:
        return {rid for rid, entry in self.requirements.items() if entry["status"] == status}

    def describe(self) -> str:
        """What a failed assertion about this run should show: the command, the exit code, the output."""
        lines = [
            f"command: {' '.join(self.argv)}",
            f"exit code {self.returncode} after {self.seconds:.1f}s",
            "stdout (last 40 lines):",
            *self.stdout.splitlines()[-40:],
            "stderr (last 20 lines):",
            *self.stderr.splitlines()[-20:],
        ]
        return "\n".join(lines)


@dataclass
class SuiteRunner:
    """Runs the conformance suite as a subprocess against a stack (or any URLs)."""

    base: Path
    runs: list[SuiteRun] = field(default_factory=list)
    #: The host profile without what the urls target cannot verify (same name, same entries), written
    #: once here: runs start from several threads of the live pool, and a file rewritten for each run
    #: was read empty by another run now and then.
    urls_profile: Path = field(init=False)

    def __post_init__(self) -> None:
        raw = yaml.safe_load(HOST_PROFILE.read_text(encoding="utf-8"))
        for rid in URLS_LEAVES_OUT:
            del raw["requirements"][rid]
        self.urls_profile = self.base / "host-urls.yaml"
        self.urls_profile.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    def run(
        self,
        name: str,
        *,
        prometheus_url: str,
        app_url: str | None = None,
        timeout_scale: float = 1.0,
        extra: Sequence[str] = (),
    ) -> SuiteRun:
        report_dir = self.base / name
        report_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "monitoring_conformance",
            "--target", "urls", "--profile", str(self.urls_profile),
            "--prometheus-url", prometheus_url,
            "--report-dir", str(report_dir),
            "--timeout-scale", f"{timeout_scale:g}",
        ]  # fmt: skip
        if app_url is not None:
            argv += ["--app-url", app_url]
        argv += list(extra)
        started = time.monotonic()
        result = SubprocessRunner().run(
            argv, timeout=SUITE_TIMEOUT, check=False, cwd=REPO_ROOT, env={"PYTHONUNBUFFERED": "1"}
        )
        run = SuiteRun(
            argv, result.returncode, result.stdout, result.stderr, time.monotonic() - started, report_dir
        )
        self.runs.append(run)
        return run


def host_requirements() -> set[str]:
    """The host profile's requirement ids (loaded as the suite loads it) that a urls run checks."""
    return set(profiles.load(str(HOST_PROFILE)).ids()) - set(URLS_LEAVES_OUT)
