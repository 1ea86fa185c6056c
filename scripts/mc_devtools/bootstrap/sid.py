"""Prometheus 3.x from Debian's unstable suite (sid), without touching the machine's apt configuration.

Debian 12 ships Prometheus 2.42; the live tier also runs 3.x. apt gets a configuration of its own under
``.tools/apt-sid`` (a sources list naming sid on the machine's own Debian mirror, separate lists and cache
folders), ``apt-get download`` fetches the pinned package, its sha256 is checked, and ``dpkg-deb -x``
unpacks it; only the server binary is kept, as ``.tools/bin/prometheus3``. The system's sources, lists and
dpkg database stay as they were.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from mc_devtools.bootstrap.fetch import sha256_of
from mc_devtools.bootstrap.machine import (
    APT_INSTALL_TIMEOUT,
    APT_UPDATE_TIMEOUT,
    BootstrapError,
    Context,
    SidPin,
)
from monitoring_conformance.errors import ConformanceError

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: A Debian mirror to use where the machine's sources name none (an Ubuntu CI runner: its
#: `debian-archive-keyring` package provides the key sid is signed with).
MIRROR_ENV = "MC_DEBIAN_MIRROR"
DPKG_TIMEOUT = 120.0


_ONE_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)")


def debian_mirror(apt_etc: Path) -> str:
    """The first Debian mirror of the machine's sources (one-line or deb822 format), security excluded."""
    files = [apt_etc / "sources.list"]
    parts = apt_etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for uri, suites in _entries(text, deb822=path.suffix == ".sources"):
            security = "security" in uri or all(s.endswith("-security") for s in suites)
            if "/debian" in uri and not security:
                return uri.rstrip("/")
    raise BootstrapError(
        f"no Debian mirror in {apt_etc}/sources.list or sources.list.d; add the machine's Debian sources"
        f" (e.g. deb.debian.org), set {MIRROR_ENV}, or put a Prometheus 3.x on PATH as prometheus3"
    )


def _entries(text: str, *, deb822: bool) -> list[tuple[str, list[str]]]:
    if not deb822:
        return [(m.group(1), [m.group(2)]) for line in text.splitlines() if (m := _ONE_LINE.match(line))]
    found = []
    for block in re.split(r"\n\s*\n", text):
        fields = dict(
            (key.strip().lower(), value.strip())
            for line in block.splitlines()
            if ":" in line and not line.lstrip().startswith("#")
            for key, value in [line.split(":", 1)]
        )
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
            found += [(uri, fields.get("suites", "").split()) for uri in fields.get("uris", "").split()]
    return found


def apt_options(state: Path, *, root: bool) -> list[str]:
    """apt-get options that point every list, cache and source at ``state`` (nothing of the system's)."""
    options = [
        "-o", f"Dir::Etc::sourcelist={state / 'sources.list'}",
        "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={state / 'lists'}",
        "-o", f"Dir::Cache={state / 'cache'}",
    ]  # fmt: skip
    if root:  # the download folder is not the _apt user's
        options += ["-o", "APT::Sandbox::User=root"]
    return options


def fetch_sid(ctx: Context, pin: SidPin) -> Path:
    """Download ``pin``'s package from sid with a separate apt configuration and install its binary."""
    state = ctx.tools_dir.parent / "apt-sid"
    for folder in (state / "lists" / "partial", state / "cache" / "archives" / "partial"):
        folder.mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={KEYRING}] " if KEYRING.is_file() else ""
    mirror = ctx.env.get(MIRROR_ENV, "").strip().rstrip("/") or debian_mirror(ctx.apt_etc)
    (state / "sources.list").write_text(f"deb {signed}{mirror} sid main\n", encoding="utf-8")
    options = apt_options(state, root=ctx.is_root)
    _run(ctx, ["apt-get", *options, "update", "-qq"], APT_UPDATE_TIMEOUT)
    if ctx.temp_root is not None:
        ctx.temp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mc-sid-", dir=ctx.temp_root) as tmp:
        scratch = Path(tmp)
        wanted = f"{pin.package}={pin.version}"
        try:
            _run(ctx, ["apt-get", *options, "download", wanted], APT_INSTALL_TIMEOUT, cwd=scratch)
        except BootstrapError as exc:
            raise BootstrapError(
                f"{exc}; if sid no longer carries {wanted}, pin the version `apt-cache policy {pin.package}`"
                f" shows (with these -o options) in bootstrap/sid.py"
            ) from None
        debs = sorted(scratch.glob("*.deb"))
        if len(debs) != 1:
            raise BootstrapError(f"apt-get download {wanted} left {len(debs)} .deb files, expected 1")
        got = sha256_of(debs[0])
        if got != pin.sha256:
            raise BootstrapError(f"{debs[0].name}: sha256 {got}, pinned {pin.sha256}; not installed")
        unpacked = scratch / "root"
        _run(ctx, ["dpkg-deb", "-x", str(debs[0]), str(unpacked)], DPKG_TIMEOUT)
        binary = unpacked / pin.member
        if not binary.is_file():
            raise BootstrapError(f"{debs[0].name} has no {pin.member}")
        ctx.tools_dir.mkdir(parents=True, exist_ok=True)
        final = ctx.tools_dir / pin.tool
        partial = final.with_name(final.name + ".partial")
        shutil.copyfile(binary, partial)
        partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(partial, final)
    return final


def _run(ctx: Context, argv: list[str], timeout: float, cwd: Path | None = None) -> None:
    try:
        ctx.runner.run(argv, timeout=timeout, env={"DEBIAN_FRONTEND": "noninteractive"}, cwd=cwd)
    except ConformanceError as exc:
        raise BootstrapError(str(exc)) from exc
