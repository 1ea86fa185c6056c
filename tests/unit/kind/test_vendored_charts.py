"""An offline install: dependency archives in charts/ that match Chart.lock mean no helm repo/dependency call.

The archives are real chart archives written here; the match rule is checked against helm's own digest (the
project's Chart.lock) and, in the chart tier's sibling test, against `helm dependency list`.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from tests import REPO_ROOT
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.release import build_dependencies, dependency_commands
from monitoring_conformance.tools.helm import Helm, RepoFiles
from monitoring_conformance.vendored import lock_digest, missing_reason

pytestmark = pytest.mark.unit

CHART = REPO_ROOT / "charts" / "monitoring"


def write_archive(path: Path, name: str, version: str) -> None:
    """A chart archive as `helm package` lays it out: <name>/Chart.yaml (+ values.yaml)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, text in ((f"{name}/Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: {version}\n"),
                             (f"{name}/values.yaml", "{}\n")):  # fmt: skip
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    """A copy of charts/monitoring's Chart.yaml and Chart.lock, with every locked archive in charts/."""
    folder = tmp_path / "monitoring"
    folder.mkdir()
    for name in ("Chart.yaml", "Chart.lock"):
        shutil.copy(CHART / name, folder / name)
    for dep in yaml.safe_load((CHART / "Chart.lock").read_text())["dependencies"]:
        write_archive(folder / "charts" / f"{dep['name']}-{dep['version']}.tgz", dep["name"], dep["version"])
    return folder


def test_the_digest_is_helms_own() -> None:
    # charts/monitoring/Chart.lock was written by `helm dependency update`
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    lock = yaml.safe_load((CHART / "Chart.lock").read_text())
    assert lock_digest(meta["dependencies"], lock["dependencies"]) == lock["digest"]


def test_matching_archives_need_no_repo_add_and_no_dependency_build(chart: Path, tmp_path: Path) -> None:
    runner = RecordingRunner()
    helm = Helm(runner, "helm")
    repos = RepoFiles(tmp_path / "repos.yaml", tmp_path / "cache")

    assert missing_reason(chart) is None
    assert dependency_commands(helm, chart, repos) == []
    build_dependencies(runner, helm, chart, repos)
    assert runner.commands() == []  # before the fix: 3 x `helm repo add` (network) and `dependency build`


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("missing", "loki-18.11.0.tgz is missing"),
        ("other-version", "loki-18.11.0.tgz holds loki 18.10.0, not loki 18.11.0"),
        ("lock-out-of-sync", "Chart.lock is out of sync with Chart.yaml"),
        ("no-lock", "no readable"),
    ],
)
def test_archives_that_do_not_match_take_the_network_route(
    chart: Path, tmp_path: Path, breakage: str, reason: str
) -> None:
    archive = chart / "charts" / "loki-18.11.0.tgz"
    if breakage == "missing":
        archive.unlink()
    elif breakage == "other-version":
        write_archive(archive, "loki", "18.10.0")
    elif breakage == "lock-out-of-sync":
        text = (chart / "Chart.yaml").read_text().replace("version: 18.11.0", "version: 18.12.0")
        (chart / "Chart.yaml").write_text(text)
    else:
        (chart / "Chart.lock").unlink()
    runner = RecordingRunner()
    helm = Helm(runner, "helm")
    repos = RepoFiles(tmp_path / "repos.yaml", tmp_path / "cache")

    assert reason in str(missing_reason(chart))
    build_dependencies(runner, helm, chart, repos)
    assert [c[1:3] for c in runner.commands()] == [("repo", "add")] * 3 + [("dependency", "build")]
