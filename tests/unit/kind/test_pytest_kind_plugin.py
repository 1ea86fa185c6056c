"""pytest-kind's own plugin clashes with our --kubeconfig/--keep-cluster; it is always disabled."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from monitoring_conformance.cli import pytest_args

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PYTEST_KIND_HELP = "Keep the Kubernetes kind cluster"


def help_output(pytester: pytest.Pytester, *args: str) -> str:
    """``pytest --help`` in-process; an option clash while loading plugins is part of the output."""
    try:
        result = pytester.runpytest(*args, "--help")
    except argparse.ArgumentError as exc:
        return f"ArgumentError: {exc}"
    return result.stdout.str() + result.stderr.str()


def test_with_the_plugin_loaded_the_options_clash(pytester: pytest.Pytester) -> None:
    """Whichever registers first wins: pytest-kind crashes on a shared flag, or its flags replace ours."""
    out = help_output(pytester)

    assert "conflicting option string" in out or PYTEST_KIND_HELP in out


def test_disabled_plugin_leaves_our_keep_cluster_option(pytester: pytest.Pytester) -> None:
    out = help_output(pytester, "-p", "no:pytest-kind")

    assert PYTEST_KIND_HELP not in out
    assert "kind cluster retention: never, on-failure or always" in out


def test_project_config_and_cli_disable_it() -> None:
    addopts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]

    assert "-p no:pytest-kind" in addopts
    args = pytest_args([], ROOT / "reports")
    assert args[args.index("-p") + 1] == "no:pytest-kind"
