"""Root conftest: only what must live at the root."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: Test tiers: each folder tests/<tier>/ holds only tests marked with that tier's marker.
TIERS = ("unit", "chart", "live", "e2e")
_TESTS = Path(__file__).resolve().parent / "tests"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a run in which a test under tests/<tier>/ lacks its tier marker (it would be run by no tier)."""
    unmarked: list[str] = []
    for item in items:
        try:
            tier = item.path.resolve().relative_to(_TESTS).parts[0]
        except (ValueError, IndexError):
            continue
        if tier in TIERS and item.get_closest_marker(tier) is None:
            unmarked.append(f"{item.nodeid} ({tier})")
    if unmarked:
        more = f" and {len(unmarked) - 1} more" if len(unmarked) > 1 else ""
        raise pytest.UsageError(
            f"{unmarked[0]}{more} lack their tier marker: add `pytestmark = pytest.mark.<tier>` to the module"
        )
