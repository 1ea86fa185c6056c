"""Prometheus 3.x from Debian sid: a separate apt configuration, the pinned version, none of the system's."""

from __future__ import annotations

from pathlib import Path

import pytest
from bootstrap_doubles import FakeMachine, build_fake_wheel

from mc_devtools import bootstrap
from mc_devtools.bootstrap.machine import BootstrapError, SidPin
from mc_devtools.bootstrap.sid import debian_mirror

pytestmark = pytest.mark.unit


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    fake = FakeMachine(tmp_path, wheel=build_fake_wheel(tmp_path / "wheelhouse"))
    for name in ("helm", "kubectl", "prometheus", "promtool", "prometheus-node-exporter", "shellcheck"):
        fake.install(name)
    return fake


def run(machine: FakeMachine, *argv: str) -> int:
    return bootstrap.run(list(argv), lambda tools_dir: machine.context())


def test_prometheus3_comes_from_sid_with_a_separate_apt_configuration(machine: FakeMachine) -> None:
    assert run(machine, "--tools", "prometheus3") == 0, machine.err

    state = machine.tools_dir.parent / "apt-sid"
    options = [
        "-o", f"Dir::Etc::sourcelist={state / 'sources.list'}", "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state / 'cache'}",
        "-o", "APT::Sandbox::User=root",
    ]  # fmt: skip
    calls = machine.sid_calls()
    assert calls[0] == ("apt-get", *options, "update", "-qq")
    assert calls[1] == ("apt-get", *options, "download", "prometheus=3.5.3+ds1-6")
    assert calls[2][:2] == ("dpkg-deb", "-x")
    assert machine.apt_calls() == []  # no apt-get on the system's own configuration
    sources = (state / "sources.list").read_text()
    assert sources.endswith("http://deb.debian.org/debian sid main\n")  # the machine's own mirror
    assert (machine.tools_dir / "prometheus3").read_bytes() == b"FAKE PROMETHEUS 3\n"
    assert "prometheus3               3.5.3+ds1" in machine.out[-1]
    assert "Debian sid package prometheus 3.5.3+ds1-6" in machine.out[-1]


def test_a_prometheus3_already_there_is_used_without_download(machine: FakeMachine) -> None:
    machine.install("prometheus3")
    assert run(machine, "--tools", "prometheus3") == 0
    assert machine.sid_calls() == []


def test_a_prometheus3_that_is_2x_is_refused_and_replaced(machine: FakeMachine) -> None:
    machine.install("prometheus3", "prometheus, version 2.42.0+ds")
    assert run(machine, "--tools", "prometheus3") == 0
    assert len(machine.sid_calls()) == 3
    assert (machine.tools_dir / "prometheus3").is_file()


def test_a_deb_with_another_digest_is_not_installed(machine: FakeMachine) -> None:
    context = machine.context()
    context.sid_pins = {"prometheus3": SidPin("prometheus3", "prometheus", "3.5.3+ds1-6", "0" * 64,
                                              "usr/bin/prometheus")}  # fmt: skip
    assert bootstrap.run(["--tools", "prometheus3"], lambda tools_dir: context) == 1
    assert "sha256" in machine.err[0]
    assert "not installed" in machine.err[0]
    assert not (machine.tools_dir / "prometheus3").exists()


def test_not_root_lists_prometheus3_as_missing_with_the_fix(machine: FakeMachine) -> None:
    machine.euid = 1000
    assert run(machine, "--tools", "prometheus3") == 1
    assert machine.sid_calls() == []
    assert "prometheus3               MISSING" in machine.err[0]
    assert "fetches prometheus 3.5.3+ds1-6 from sid" in machine.err[0]


@pytest.mark.parametrize(
    ("files", "mirror"),
    [
        ({"sources.list": "deb [arch=amd64] http://ftp.de.debian.org/debian/ bookworm main\n"},
         "http://ftp.de.debian.org/debian"),
        ({"sources.list.d/debian.sources": "Types: deb\nURIs: http://deb.debian.org/debian-security\n"
          "Suites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n"},
         "http://mirror.example/debian"),
    ],
    ids=["one-line", "deb822-after-security"],
)
def test_the_mirror_is_the_machines_own(tmp_path: Path, files: dict[str, str], mirror: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert debian_mirror(tmp_path) == mirror


def test_no_debian_mirror_is_one_line_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb https://deb.nodesource.com/node_20.x nodistro main\n")
    fix = r"no Debian mirror in .*put a Prometheus 3\.x on PATH as prometheus3"
    with pytest.raises(BootstrapError, match=fix):
        debian_mirror(tmp_path)


def test_a_mirror_from_the_environment_wins(machine: FakeMachine) -> None:
    # an Ubuntu CI runner names no Debian mirror in its sources
    (machine.etc / "apt" / "sources.list.d" / "debian.sources").unlink()
    context = machine.context()
    context.env = {**context.env, "MC_DEBIAN_MIRROR": "http://deb.debian.org/debian/"}
    assert bootstrap.run(["--tools", "prometheus3"], lambda tools_dir: context) == 0, machine.err
    sources = (machine.tools_dir.parent / "apt-sid" / "sources.list").read_text()
    assert sources.endswith(" http://deb.debian.org/debian sid main\n")
