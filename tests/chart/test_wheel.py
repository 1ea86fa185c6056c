"""The wheel holds what a user runs, and runs outside the checkout.

Offline, the way ``python -m build`` does it: an sdist is built from a copy of the checkout's files
(setuptools' PEP 517 backend in .venv), then the wheel from the unpacked sdist (no build isolation, no
index), so a file MANIFEST.in leaves out of the sdist is missing here too. The wheel is installed with
``--no-deps`` into a fresh venv. That venv sees the dependencies through a ``.pth`` line naming .venv's
site-packages: a plain path line, so the editable install's own ``.pth`` there (which would put src/ on
sys.path) is never processed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitoring_conformance import resources
from monitoring_conformance.tools.runner import SubprocessRunner
from tests import REPO_ROOT

pytestmark = pytest.mark.chart

#: What the build reads besides resources.BUNDLED.
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src")
COPY_SKIPS = shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache", ".mypy_cache", "charts")
OUTER_RUN_VARIABLES = ("MC_", "PYTEST_", "PYTHONPATH", "TOX_")
DEVELOPMENT_ONLY = ("chartcheck", "bootstrap", "junit_summary", "mc_devtools", "tests/chart", "tests/unit")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    site_packages: Path
    workdir: Path  # outside the checkout: every command runs here

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``monitoring-conformance ARGS`` from the work folder; none of this run's MC_*, PYTEST_* (tox sets
        a cache folder in the checkout) or PYTHONPATH, only ``env``."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(OUTER_RUN_VARIABLES)}
        argv = [str(self.python.parent / "monitoring-conformance"), *args]
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=120, check=False, cwd=self.workdir,
            env={**clean, **(env or {})},
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    for relative in (*BUILD_INPUTS, *resources.BUNDLED):
        origin, copy = REPO_ROOT / relative, source / relative
        if origin.is_dir():
            shutil.copytree(origin, copy, ignore=COPY_SKIPS)
        else:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, copy)
    runner = SubprocessRunner()
    sdist_name = runner.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[1]))", base / "sdist"], timeout=180, cwd=source,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    with tarfile.open(base / "sdist" / sdist_name) as archive:
        archive.extractall(base / "unpacked", filter="data")
    (unpacked,) = (base / "unpacked").iterdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    runner.run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", base / "dist",
                unpacked], timeout=180, cwd=unpacked)  # fmt: skip
    (wheel,) = (base / "dist").glob("monitoring_conformance-*.whl")
    venv = base / "venv"
    runner.run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=60)
    python = venv / "bin" / "python"
    site_packages = Path(
        runner.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], timeout=30
        ).stdout.strip()
    )
    (site_packages / "mc-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    runner.run([*pip, "--python", python, "install", "-q", "--no-deps", "--no-index", wheel], timeout=120)
    workdir = base / "elsewhere"
    workdir.mkdir()
    return Installed(wheel, python, site_packages, workdir)


def test_the_wheel_holds_the_runtime_and_its_files_but_no_development_tooling(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    bundle = "monitoring_conformance/bundle/"

    assert [n for n in names if any(part in n for part in DEVELOPMENT_ONLY)] == []
    for relative in resources.BUNDLED:
        assert any(n.startswith(bundle + relative) for n in names), f"{relative} is not in the wheel"
    assert not any(n.startswith(bundle + "charts/monitoring/charts/") for n in names)


def test_the_installed_package_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    probe = (
        "import importlib.util as u, monitoring_conformance as m; from monitoring_conformance import"
        " resources as r; print(m.__file__); print(r.SOURCE); print(u.find_spec('mc_devtools'),"
        " u.find_spec('tests'))"
    )
    result = SubprocessRunner().run([installed.python, "-c", probe], timeout=60, cwd=installed.workdir)
    module, source, absent = result.stdout.splitlines()

    assert Path(module).is_relative_to(installed.site_packages)
    assert source == "wheel"
    assert absent == "None None"


def test_help_runs_outside_the_checkout(installed: Installed) -> None:
    result = installed.run("--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: monitoring-conformance [options]")


def test_kind_plan_names_the_packaged_chart(installed: Installed) -> None:
    result = installed.run("--target", "kind", "--plan")
    chart = installed.site_packages / "monitoring_conformance" / "bundle" / "charts" / "monitoring"

    assert result.returncode == 0, result.stderr
    assert f"helm upgrade --install monitoring {chart} " in result.stdout
    # pytest's rootdir is the common ancestor of the work folder and the venv: the run leaves nothing there
    left = sorted(path.name for path in installed.workdir.parent.iterdir())
    assert left == ["dist", "elsewhere", "sdist", "source", "unpacked", "venv"]
    assert f"--config {chart.parent.parent / 'fixtures' / 'kind' / 'cluster.yaml'}" in result.stdout
    # (the tools may come from the checkout's .tools/bin: tox puts it first on PATH)
    assert [relative for relative in resources.BUNDLED if str(REPO_ROOT / relative) in result.stdout] == []


def test_mc_resources_points_the_installed_suite_at_another_folder(installed: Installed) -> None:
    result = installed.run("--target", "kind", "--plan", env={"MC_RESOURCES": str(REPO_ROOT)})

    assert result.returncode == 0, result.stderr
    assert f"helm upgrade --install monitoring {REPO_ROOT / 'charts' / 'monitoring'} " in result.stdout
    assert "/bundle/" not in result.stdout


def test_mc_resources_without_the_chart_is_bad_input(installed: Installed, tmp_path: Path) -> None:
    result = installed.run("--target", "kind", "--plan", env={"MC_RESOURCES": str(tmp_path)})

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"MC_RESOURCES={tmp_path}: charts/monitoring/Chart.yaml is missing; point MC_RESOURCES at a folder "
        "laid out like the checkout"
    )
