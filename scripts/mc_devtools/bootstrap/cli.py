"""The bootstrap's plan (what to probe, fetch and install) and its command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from mc_devtools.bootstrap.fetch import apt_fix, apt_install, fetch_from_wheel
from mc_devtools.bootstrap.machine import (
    DEFAULT_HELM_MAJOR,
    SID_TOOLS,
    SUPPORTED_HELM_MAJORS,
    TOOL_BY_NAME,
    TOOL_NAMES,
    WHEEL_TOOLS,
    BootstrapError,
    Context,
    Status,
    check_helm,
    major_of,
    probe,
)
from mc_devtools.bootstrap.sid import fetch_sid
from monitoring_conformance.errors import UsageError
from monitoring_conformance.settings import parse_bool
from monitoring_conformance.tools.runner import TOOLS_DIR, SubprocessRunner

#: Set (1/true/yes/on) to accept only the kubectl the pinned wheel ships (CI pins kubectl this way).
KUBECTL_FROM_WHEEL = "MC_KUBECTL_FROM_WHEEL"


def wheel_major(statuses: Mapping[str, Status], forced_major: int | None) -> int:
    """The helm major whose wheel to use: the forced one, else the usable helm's, else the default."""
    helm = statuses.get("helm")
    helm_major = major_of(helm.version) if helm is not None and helm.ok and helm.version else None
    return forced_major or helm_major or DEFAULT_HELM_MAJOR


def pin_kubectl(ctx: Context, statuses: dict[str, Status], forced_major: int | None) -> None:
    """Mark a kubectl other than the pinned wheel's (for the helm major in use) as missing: it is fetched."""
    status = statuses.get("kubectl")
    if status is None or not status.ok:
        return
    wheel = ctx.wheels.get(wheel_major(statuses, forced_major))
    if wheel is not None and status.version != wheel.kubectl_version:
        statuses["kubectl"] = Status(
            "kubectl", path=status.path,
            problem=f"{status.path} is {status.version}; {KUBECTL_FROM_WHEEL} wants {wheel.kubectl_version}",
        )  # fmt: skip


def resolve_helm_tools(
    ctx: Context, forced_major: int | None, wanted: Sequence[str], *, wheel_kubectl: bool = False
) -> list[Status]:
    statuses = {name: probe(ctx, TOOL_BY_NAME[name]) for name in wanted}
    if "helm" in statuses:
        statuses["helm"] = check_helm(statuses["helm"], forced_major)
    if wheel_kubectl:
        pin_kubectl(ctx, statuses, forced_major)
    missing = [name for name, status in statuses.items() if not status.ok]
    if not missing:
        return [statuses[n] for n in wanted]
    major = wheel_major(statuses, forced_major)
    try:
        fetch_from_wheel(ctx, major, missing)
    except BootstrapError as exc:
        how = "install pip for this python" if "No module named pip" in str(exc) else "let pip reach PyPI"
        for name in missing:
            statuses[name] = Status(
                name, problem=f"{statuses[name].problem}; {exc}",
                fix=f"{how} and rerun, or {TOOL_BY_NAME[name].manual_fix}",
            )  # fmt: skip
        return [statuses[n] for n in wanted]
    for name in missing:
        status = probe(ctx, TOOL_BY_NAME[name])
        if name == "helm":
            status = check_helm(status, forced_major)
        if status.ok:
            note = f"fetched from {ctx.wheels[major].requirement}"
            statuses[name] = Status(name, status.path, status.version, note=note)
        else:
            statuses[name] = Status(
                name,
                problem=f"fetched from {ctx.wheels[major].requirement}, but {status.problem}",
                fix=TOOL_BY_NAME[name].manual_fix,
            )
    return [statuses[n] for n in wanted]


def resolve_apt_tools(ctx: Context, wanted: Sequence[str], *, install: bool) -> list[Status]:
    statuses = {name: probe(ctx, TOOL_BY_NAME[name]) for name in wanted}
    missing = [name for name, status in statuses.items() if not status.ok]
    if not missing:
        return [statuses[n] for n in wanted]
    if not (install and ctx.is_root and ctx.is_debian):
        for name in missing:
            why = statuses[name].problem
            statuses[name] = Status(
                name, path=statuses[name].path, problem=why, fix=apt_fix(ctx, TOOL_BY_NAME[name])
            )
        return [statuses[n] for n in wanted]
    packages = sorted({p for n in missing if (p := TOOL_BY_NAME[n].apt_package)})
    try:
        apt_install(ctx, packages)
    except BootstrapError as exc:
        for name in missing:
            statuses[name] = Status(
                name,
                problem=f"{statuses[name].problem}; apt-get install failed: {exc}",
                fix=apt_fix(ctx, TOOL_BY_NAME[name]),
            )
        return [statuses[n] for n in wanted]
    for name in missing:
        status = probe(ctx, TOOL_BY_NAME[name])
        if status.ok:
            note = f"installed Debian package {TOOL_BY_NAME[name].apt_package}"
            statuses[name] = Status(name, status.path, status.version, note=note)
        else:
            fix = apt_fix(ctx, TOOL_BY_NAME[name])
            statuses[name] = Status(name, problem=f"after apt-get install, {status.problem}", fix=fix)
    return [statuses[n] for n in wanted]


def bootstrap(
    ctx: Context,
    *,
    tools: Sequence[str] = TOOL_NAMES,
    forced_major: int | None = None,
    install: bool = True,
    wheel_kubectl: bool = False,
) -> list[Status]:
    """Check (and, when ``install``, fetch) every tool in ``tools``; one Status per tool, in table order."""
    wheel_tools = [n for n in TOOL_NAMES if n in tools and n in WHEEL_TOOLS]
    apt_tools = [n for n in TOOL_NAMES if n in tools and n not in WHEEL_TOOLS and n not in SID_TOOLS]
    sid_tools = [n for n in TOOL_NAMES if n in tools and n in SID_TOOLS]
    statuses: list[Status] = []
    if wheel_tools:
        if install:
            statuses += resolve_helm_tools(ctx, forced_major, wheel_tools, wheel_kubectl=wheel_kubectl)
        else:
            for name in wheel_tools:
                status = probe(ctx, TOOL_BY_NAME[name])
                status = check_helm(status, forced_major) if name == "helm" else status
                fix = "run `./scripts/bootstrap`, or " + TOOL_BY_NAME[name].manual_fix
                statuses.append(
                    status if status.ok else Status(name, status.path, problem=status.problem, fix=fix)
                )
    if apt_tools:
        statuses += resolve_apt_tools(ctx, apt_tools, install=install)
    statuses += [resolve_sid_tool(ctx, name, install=install) for name in sid_tools]
    return statuses


def resolve_sid_tool(ctx: Context, name: str, *, install: bool) -> Status:
    """A Prometheus 3.x: the one in the tools folder or on PATH, else the pinned sid package's binary."""
    spec, pin = TOOL_BY_NAME[name], ctx.sid_pins[name]
    status = _major_3(probe(ctx, spec))
    if status.ok:
        return status
    fix = f"run the bootstrap as root on Debian (it fetches {pin.package} {pin.version} from sid), or "
    if not (install and ctx.is_root and ctx.is_debian):
        return Status(name, path=status.path, problem=status.problem, fix=fix + spec.manual_fix)
    try:
        fetch_sid(ctx, pin)
    except BootstrapError as exc:
        return Status(name, problem=f"{status.problem}; {exc}", fix=fix + spec.manual_fix)
    fetched = _major_3(probe(ctx, spec))
    if not fetched.ok:
        return Status(name, problem=f"fetched from sid, but {fetched.problem}", fix=spec.manual_fix)
    return Status(name, fetched.path, fetched.version, note=f"Debian sid package {pin.package} {pin.version}")


def _major_3(status: Status) -> Status:
    if status.ok and status.version is not None and major_of(status.version) != 3:
        return Status(status.name, path=status.path, problem=f"{status.path} is {status.version}, need 3.x")
    return status


# ---------------------------------------------------------------------------------------------------- CLI


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"bootstrap: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scripts/bootstrap",
        description="Check, and fetch where missing, the external tools the test tiers use.",
        epilog=f"{KUBECTL_FROM_WHEEL}=true accepts only the kubectl of the pinned wheel and fetches it when"
        " another kubectl is found (the CI kind job sets it). Exit status: 0 every tool usable (or"
        " --allow-missing), 1 a tool missing, 2 a bad option or environment value.",
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


def _wheel_kubectl(env: Mapping[str, str]) -> bool:
    raw = env.get(KUBECTL_FROM_WHEEL, "")
    if raw.strip() == "":
        return False
    try:
        return parse_bool(raw, f"{KUBECTL_FROM_WHEEL}={raw!r}")
    except UsageError as exc:
        raise BootstrapError(str(exc)) from None


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
        wheel_kubectl = _wheel_kubectl(ctx.env)
    except BootstrapError as exc:
        ctx.err(f"bootstrap: {exc}")
        return 2
    statuses = bootstrap(ctx, tools=tools, forced_major=forced, install=not args.no_install,
                         wheel_kubectl=wheel_kubectl)
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
