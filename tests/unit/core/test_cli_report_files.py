"""Where the CLI's report files land: one report folder for JUnit and acceptance.json (``--report-dir`` has
no ini twin, ``mc_report_dir`` is refused), and no junit.xml after a run that did not complete (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.doubles import PrometheusDouble
from tests.unit.core.helpers import CPU_QUERY, DoublesPlugin, cpu_run_args

from monitoring_conformance import cli
from monitoring_conformance.errors import ConformanceError, UsageError
from monitoring_conformance.settings import resolve

pytestmark = pytest.mark.unit


def passing() -> DoublesPlugin:
    return DoublesPlugin({"Prometheus": PrometheusDouble(vectors={CPU_QUERY: [({}, 1.0)]})})


# -- one report folder -----------------------------------------------------------------------------------


def test_settings_refuse_an_ini_report_dir() -> None:
    with pytest.raises(UsageError, match=r"^ini mc_report_dir = out: --report-dir has no ini key; remove it"
                                         r" from the ini file and pass --report-dir out or set"
                                         r" MC_REPORT_DIR=out$"):  # fmt: skip
        resolve({}, {}, {"report_dir": "out"})


def test_report_dir_still_comes_from_the_cli_and_the_environment() -> None:
    assert resolve({"report_dir": "a"}, {"MC_REPORT_DIR": "b"}).report_dir == Path("a")
    assert resolve({}, {"MC_REPORT_DIR": "b"}).report_dir == Path("b")
    assert resolve({}, {}, {"profile": "host"}).report_dir == Path("reports")  # other ini keys still count


def test_an_ini_report_dir_is_refused_and_leaves_no_report_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = cpu_run_args(tmp_path, monkeypatch)
    ini_dir = tmp_path / "from-ini"
    ini = tmp_path / "pytest.ini"
    ini.write_text(f"[pytest]\nmc_report_dir = {ini_dir}\n")

    code = cli.main([*args, "-c", str(ini)], plugins=[passing()])

    captured = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert captured.err == (
        f"ini mc_report_dir = {ini_dir}: --report-dir has no ini key; remove it from the ini file and pass"
        f" --report-dir {ini_dir} or set MC_REPORT_DIR={ini_dir}\n"
    )
    assert captured.out == ""
    # neither the CLI's folder (the default) nor the ini's holds a JUnit or a report of this run
    for folder in (tmp_path / "reports", ini_dir):
        assert not (folder / "junit.xml").exists()
        assert not (folder / "acceptance.json").exists()


def test_junit_and_the_report_land_in_the_one_folder_without_an_ini_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = cpu_run_args(tmp_path, monkeypatch)
    monkeypatch.setenv("MC_REPORT_DIR", str(tmp_path / "env-reports"))

    code = cli.main(args, plugins=[passing()])

    assert code == cli.EXIT_PASS, capsys.readouterr()
    assert (tmp_path / "env-reports" / "junit.xml").is_file()
    assert (tmp_path / "env-reports" / "acceptance.json").is_file()
    assert not (tmp_path / "reports").exists()


# -- no JUnit after an incomplete run ---------------------------------------------------------------------


def test_a_target_that_did_not_open_leaves_a_report_but_no_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = cpu_run_args(tmp_path, monkeypatch)
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "junit.xml").write_text("<testsuites/>")  # an earlier run's, green

    def cannot_open(self: object) -> object:
        raise ConformanceError("urls target: the stack went away")

    monkeypatch.setattr("monitoring_conformance.targets.urls.UrlsTarget.open", cannot_open)

    code = cli.main([*args, "--report-dir", str(folder)], plugins=[passing()])

    capsys.readouterr()
    assert code == cli.EXIT_INCOMPLETE
    assert (folder / "acceptance.json").is_file()  # says why: the target did not open
    assert not (folder / "junit.xml").exists()  # no testcase a CI gate would read as green


def test_a_completed_run_keeps_its_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = cpu_run_args(tmp_path, monkeypatch)

    code = cli.main([*args, "--report-dir", str(tmp_path / "r")], plugins=[passing()])

    capsys.readouterr()
    assert code == cli.EXIT_PASS
    assert 'name="test_' in (tmp_path / "r" / "junit.xml").read_text()


class InterruptedAtTheEnd:
    """A Ctrl-C while pytest shuts down, after its JUnit (of the cases that ran) was written."""

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        raise KeyboardInterrupt


def test_an_interrupted_run_leaves_no_junit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = cpu_run_args(tmp_path, monkeypatch)

    code = cli.main([*args, "--report-dir", str(tmp_path / "r")], plugins=[passing(), InterruptedAtTheEnd()])

    capsys.readouterr()
    assert code == cli.EXIT_INCOMPLETE
    assert (tmp_path / "r" / "acceptance.json").is_file()
    assert not (tmp_path / "r" / "junit.xml").exists()
