"""Where the runtime finds its files: MC_RESOURCES, else the wheel's bundle, else the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests import REPO_ROOT

from monitoring_conformance import resources

pytestmark = pytest.mark.unit


def test_from_the_checkout_every_resource_is_the_checkouts_own() -> None:
    assert (resources.ROOT, resources.SOURCE) == (REPO_ROOT, "checkout")
    assert resources.problem() is None
    assert resources.CHART == REPO_ROOT / "charts" / "monitoring"
    assert resources.SUITE == REPO_ROOT / "tests" / "conformance"


def test_mc_resources_wins_over_the_checkout(tmp_path: Path) -> None:
    assert resources.find_root({"MC_RESOURCES": f" {tmp_path} "}) == (tmp_path, "MC_RESOURCES")
    assert resources.find_root({"MC_RESOURCES": ""}) == (REPO_ROOT, "checkout")


def test_a_folder_without_the_chart_is_named_with_the_fix(tmp_path: Path) -> None:
    assert resources.problem(tmp_path, "MC_RESOURCES") == (
        f"MC_RESOURCES={tmp_path}: charts/monitoring/Chart.yaml is missing; point MC_RESOURCES at a folder "
        "laid out like the checkout"
    )


def test_a_wheel_missing_one_resource_says_which_and_to_reinstall(tmp_path: Path) -> None:
    for relative in resources.BUNDLED:
        (tmp_path / relative).mkdir(parents=True)
    (tmp_path / resources.MARKER).write_text("name: monitoring\n")
    assert resources.problem(tmp_path, "wheel") is None

    (tmp_path / "fixtures" / "profiles").rmdir()

    assert resources.problem(tmp_path, "wheel") == (
        f"{tmp_path / 'fixtures' / 'profiles'} is missing (wheel install); reinstall monitoring-conformance, "
        "or set MC_RESOURCES to a folder laid out like the checkout"
    )
