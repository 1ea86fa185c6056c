"""Fixtures for the conformance core's unit tests: a fake clock, specs, records, clean global state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.doubles import FakeClock

from monitoring_conformance import redact, wait


@pytest.fixture(autouse=True)
def _clean_globals() -> Iterator[None]:
    """No secret or timeout scale leaks from one test into the next."""
    redact.clear_secrets()
    scale = wait.CONFIG.scale
    wait.CONFIG.scale = 1.0
    yield
    wait.CONFIG.scale = scale
    redact.clear_secrets()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
