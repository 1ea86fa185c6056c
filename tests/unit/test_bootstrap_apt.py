"""The tools bootstrap's Debian side: apt-get as root on Debian, one line per missing tool otherwise."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from bootstrap_doubles import APT_TOOLS, FakeMachine, build_fake_wheel

import mc_devtools
import monitoring_conformance
from mc_devtools import bootstrap

pytestmark = pytest.mark.unit

#: The packages the bootstrap may import from: its own, and the stdlib-only modules of the runtime.
PACKAGES = {
    "monitoring_conformance": Path(monitoring_conformance.__file__).resolve().parent,
    "mc_devtools": Path(mc_devtools.__file__).resolve().parent,
}


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    fake = FakeMachine(tmp_path, wheel=build_fake_wheel(tmp_path / "wheelhouse"))
    fake.install("helm")
    fake.install("kubectl")
    return fake


def run(machine: FakeMachine, *argv: str) -> int:
    return bootstrap.run(list(argv), lambda tools_dir: machine.context())


def lines_for(machine: FakeMachine, name: str) -> list[str]:
    return [line for line in machine.out + machine.err if line.split()[0] == name]


def test_missing_tools_while_not_root_get_one_line_each_with_the_fix(machine: FakeMachine) -> None:
    machine.euid = 1000

    assert run(machine) == 1

    assert machine.apt_calls() == []
    for name in APT_TOOLS:
        lines = lines_for(machine, name)
        assert len(lines) == 1, lines
        assert "MISSING" in lines[0]
        assert "as root" in lines[0]
    assert "apt-get install -y --no-install-recommends prometheus`" in lines_for(machine, "promtool")[0]
    assert "apt-get install -y --no-install-recommends shellcheck`" in lines_for(machine, "shellcheck")[0]
    summary = machine.err[-1]
    assert (
        summary == "bootstrap: 7 tool(s) missing: prometheus, promtool, prometheus-node-exporter,"
        " prometheus-alertmanager, shellcheck, chromium, prometheus3"
    )


def test_missing_tools_off_debian_point_at_the_manual_install(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path, debian=False, wheel=build_fake_wheel(tmp_path / "wheelhouse"))
    machine.install("helm")
    machine.install("kubectl")

    assert run(machine) == 1

    assert machine.apt_calls() == []
    assert "prometheus.io/download" in lines_for(machine, "prometheus")[0]
    assert "shellcheck.net" in lines_for(machine, "shellcheck")[0]


def test_allow_missing_lists_them_but_exits_zero(machine: FakeMachine) -> None:
    machine.euid = 1000

    assert run(machine, "--allow-missing") == 0

    assert len([line for line in machine.err if "MISSING" in line]) == len(APT_TOOLS) + 1  # and prometheus3


def test_tools_option_limits_what_is_checked(machine: FakeMachine) -> None:
    machine.euid = 1000

    assert run(machine, "--tools", "helm,kubectl") == 0

    assert [line.split()[0] for line in machine.out] == ["helm", "kubectl"]
    assert machine.err == []


def test_root_on_debian_installs_the_packages_without_starting_services(machine: FakeMachine) -> None:
    assert run(machine) == 0

    installs = [c for c in machine.apt_calls() if c[1] == "install"]
    assert installs == [
        (
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "prometheus",
            "prometheus-alertmanager",
            "prometheus-node-exporter",
            "shellcheck",
        )
    ]
    assert machine.policy_seen_during_install == [True], (
        "policy-rc.d must block service starts during install"
    )
    assert not machine.policy_rc.exists(), "the temporary policy-rc.d must be removed afterwards"
    install_env = machine.runner.envs[machine.runner.calls.index(installs[0])]
    assert install_env == {"DEBIAN_FRONTEND": "noninteractive"}
    assert "installed Debian package prometheus" in lines_for(machine, "promtool")[0]


def test_an_existing_policy_rc_is_left_alone(machine: FakeMachine) -> None:
    machine.policy_rc.write_text("#!/bin/sh\nexit 101\n# the admin's own\n")

    assert run(machine) == 0

    assert machine.policy_rc.read_text().endswith("# the admin's own\n")


def test_apt_get_update_runs_first_when_the_lists_are_empty(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path, apt_lists=False)
    machine.install("helm")
    machine.install("kubectl")

    assert run(machine) == 0

    assert [c[1] for c in machine.apt_calls()] == ["update", "install"]


def test_failed_install_is_retried_once_after_apt_get_update(machine: FakeMachine) -> None:
    machine.runner.on(["apt-get", "install"], returncode=100, stderr="E: Unable to locate package shellcheck")

    assert run(machine) == 1

    assert [c[1] for c in machine.apt_calls()] == ["install", "update", "install"]
    line = lines_for(machine, "shellcheck")[0]
    assert "apt-get install failed" in line
    assert "Unable to locate package shellcheck" in line
    assert not machine.policy_rc.exists()


def test_package_that_installs_no_binary_is_reported(machine: FakeMachine) -> None:
    machine.apt_installs_tools = False

    assert run(machine) == 1

    assert "after apt-get install, not found" in lines_for(machine, "prometheus")[0]


def test_tool_that_prints_no_version_is_reported(machine: FakeMachine) -> None:
    for name in APT_TOOLS:
        machine.install(name)
    machine.install("promtool", "something unexpected")
    machine.euid = 1000

    assert run(machine) == 1

    assert "printed no version ('something unexpected')" in lines_for(machine, "promtool")[0]


# ------------------------------------------------------------------------------------------ stdlib only


def _project_imports(path: Path, package: str = "") -> set[str]:
    """Every module ``path`` imports, relative imports resolved against ``package``."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names if node.level)
    return names


def _non_stdlib_imports(module: str, seen: set[str] | None = None) -> set[str]:
    """Follow project-internal imports from ``module``; return every import outside the stdlib and project."""
    seen = set() if seen is None else seen
    if module in seen:
        return set()
    seen.add(module)
    top, *relative = module.split(".")
    path = PACKAGES[top].joinpath(*relative).with_suffix(".py")
    package = module.rsplit(".", 1)[0]
    if not path.is_file():
        path = PACKAGES[top].joinpath(*relative, "__init__.py")
        package = module
    if not path.is_file():
        return set()  # a name imported from a module, not a module
    foreign: set[str] = set()
    for name in _project_imports(path, package):
        top = name.split(".")[0]
        if top in PACKAGES:
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):
                foreign |= _non_stdlib_imports(".".join(parts[:depth]), seen)
        elif top not in sys.stdlib_module_names and top != "__future__":
            foreign.add(f"{name} (in {path.name})")
    return foreign


def test_bootstrap_imports_only_the_standard_library() -> None:
    assert _non_stdlib_imports("mc_devtools.bootstrap.__main__") == set()


def test_import_walk_reaches_every_bootstrap_module() -> None:
    seen: set[str] = set()
    _non_stdlib_imports("mc_devtools.bootstrap.__main__", seen)

    assert {"mc_devtools.bootstrap.fetch", "monitoring_conformance.tools.runner"} <= seen


def test_import_check_notices_a_third_party_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import yaml\nfrom requests import Session\nimport json\n")

    assert {n.split(".")[0] for n in _project_imports(module)} - set(sys.stdlib_module_names) == {
        "yaml",
        "requests",
    }
