"""Preflight of the kind target: everything the run needs, checked in seconds, every problem listed.

Each check returns a :class:`Check`; a failed one carries one line that names what is missing and its fix.
:func:`run_preflight` runs them all (never stopping at the first failure) and :func:`require` turns the
failures into one :class:`PreflightFailed` whose first line names everything that is missing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from monitoring_conformance.errors import ConformanceError, ToolError
from monitoring_conformance.tools.docker import DOCKER_FIX, Docker
from monitoring_conformance.tools.helm import HELM_FIX, SUPPORTED_MAJORS, HelmVersion
from monitoring_conformance.tools.kind import KIND_FIX, kind_version
from monitoring_conformance.tools.kubectl import KUBECTL_FIX, Kubectl
from monitoring_conformance.tools.runner import Runner, find_tool, tool_or_name

MIN_MEMORY_GIB = 6.0
#: Seconds per version command; with docker info's 3 s the whole preflight stays under 10 s.
VERSION_TIMEOUT = 2.0
#: kind's known-issues page, "Pod errors due to too many open files".
INOTIFY_MINIMUMS = {"max_user_watches": 524288, "max_user_instances": 512}
INOTIFY_FIX = (
    "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512 "
    "(kind known issues: too many open files)"
)


class PreflightFailed(ConformanceError):
    """One or more preflight checks failed. ``str()`` is a header line plus one line per failure."""

    def __init__(self, failures: list[Check]):
        self.failures = failures
        names = ", ".join(check.missing for check in failures)
        lines = [f"kind target cannot start: {names}"]
        lines += [f"  - {check.line()}" for check in failures]
        super().__init__("\n".join(lines))


@dataclass
class Check:
    """The outcome of one preflight check."""

    name: str
    ok: bool
    detail: str  # the version or figure found, or what went wrong
    fix: str = ""
    missing: str = ""  # a few words for the header line, e.g. "docker engine not reachable"

    def line(self) -> str:
        if self.ok:
            return f"{self.name}: {self.detail}"
        return f"{self.detail}: {self.fix}" if self.fix else self.detail


@dataclass
class Host:
    """Where the host facts are read from (tests point these at tmp files)."""

    meminfo: Path = Path("/proc/meminfo")
    proc_sys: Path = Path("/proc/sys")
    platform: str = field(default_factory=lambda: sys.platform)


def _helm_version(runner: Runner, path: str) -> HelmVersion:
    result = runner.run([path, "version", "--template", "{{.Version}}"], timeout=VERSION_TIMEOUT)
    if (version := HelmVersion.parse(result.stdout)).major not in SUPPORTED_MAJORS:
        raise ToolError(f"helm {version} at {path} is not supported (need v3 or v4)")
    return version


Version = Callable[[Runner, str], object]
#: name -> (fix, how its version is read, the header words when that fails, its argv for --plan).
TOOLS: dict[str, tuple[str, Version, str, list[str]]] = {
    "docker": (DOCKER_FIX, lambda runner, path: f"engine {Docker(runner, path).engine_version()}",
               "docker engine not reachable", ["info", "--format", "{{.ServerVersion}}"]),
    "kind": (KIND_FIX, lambda runner, path: kind_version(runner, path, timeout=VERSION_TIMEOUT),
             "kind not working", ["version"]),
    "helm": (HELM_FIX, _helm_version, "helm not supported", ["version", "--template", "{{.Version}}"]),
    "kubectl": (KUBECTL_FIX, lambda run, path: Kubectl(run, path).client_version(timeout=VERSION_TIMEOUT),
                "kubectl not working", ["version", "--client", "-o", "json"]),
}


def check_tool(runner: Runner, name: str) -> Check:
    """The tool is on PATH and its version command answers with a supported version."""
    fix, version, missing, _ = TOOLS[name]
    try:
        path = find_tool(name, fix=fix)
    except ToolError:
        return Check(name, False, f"{name} not found on PATH", fix, f"{name} not found")
    try:
        return Check(name, True, str(version(runner, path)))
    except ToolError as exc:  # docker's reason is all of its first line; the others' up to the first colon
        first = str(exc).splitlines()[0]
        detail = first if name == "docker" else first.split(": ", 1)[0]
        return Check(name, False, detail, fix, "kind too old" if "too old" in first else missing)


def check_memory(host: Host) -> Check:
    """MemAvailable from /proc/meminfo must be at least 6 GiB (skipped where there is no /proc)."""
    try:
        text = host.meminfo.read_text(encoding="utf-8")
    except OSError:
        return Check("memory", True, f"not checked ({host.meminfo} unreadable)")
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            parts = line.split()
            gib = int(parts[1]) / (1024 * 1024)
            if gib < MIN_MEMORY_GIB:
                return Check(
                    "memory", False, f"only {gib:.1f} GiB memory available (need {MIN_MEMORY_GIB:g} GiB)",
                    "close other programs or give Docker more memory", "too little free memory",
                )
            return Check("memory", True, f"{gib:.1f} GiB available")
    return Check("memory", True, f"not checked (no MemAvailable in {host.meminfo})")


def check_inotify(host: Host) -> Check:
    """On Linux, the inotify limits from kind's known-issues page."""
    if not host.platform.startswith("linux"):
        return Check("inotify", True, f"not checked on {host.platform}")
    low: list[str] = []
    seen: list[str] = []
    for key, minimum in INOTIFY_MINIMUMS.items():
        path = host.proc_sys / "fs" / "inotify" / key
        try:
            value = int(path.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            continue
        seen.append(f"{key}={value}")
        if value < minimum:
            low.append(f"fs.inotify.{key}={value} (need {minimum})")
    if low:
        return Check("inotify", False, "inotify limits too low: " + ", ".join(low), INOTIFY_FIX,
                     "inotify limits too low")
    return Check("inotify", True, ", ".join(seen) or "not readable")


def run_preflight(runner: Runner, host: Host | None = None) -> list[Check]:
    """Run every check; never stops at the first failure."""
    where = host or Host()
    return [*(check_tool(runner, name) for name in TOOLS), check_memory(where), check_inotify(where)]


def require(checks: list[Check]) -> dict[str, str]:
    """Raise :class:`PreflightFailed` listing every failed check; else return {tool: version or figure}."""
    failures = [check for check in checks if not check.ok]
    if failures:
        raise PreflightFailed(failures)
    return {check.name: check.detail for check in checks}


def plan_argv() -> list[list[str]]:
    """The commands preflight runs (for --plan); tools not found are shown by name."""
    return [[tool_or_name(name), *TOOLS[name][3]] for name in TOOLS]
