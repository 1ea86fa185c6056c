"""Fixtures for the API client tests: a clean secret registry around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitoring_conformance import redact


@pytest.fixture(autouse=True)
def _no_leftover_secrets() -> Iterator[None]:
    redact.clear_secrets()
    yield
    redact.clear_secrets()
