"""Builders shared by the core unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
import requests
from tests.doubles.transport import RecordedTransport

from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record


def make_spec(rid: str, *, timeout: float = 10.0, interval: float = 0.5, threshold: float | None = None,
              **options: Any) -> Spec:
    """A profile entry as a loaded profile would hold it."""
    return Spec(id=rid, timeout=timeout, interval=interval, threshold=threshold, options=options)


def make_record(rid: str) -> Record:
    return Record.new(rid)


def targets_payload(*jobs: str) -> dict[str, Any]:
    """A /api/v1/targets answer with one healthy target per job."""
    active = [
        {"labels": {"job": job}, "health": "up", "scrapeUrl": f"http://{job}/metrics", "lastError": "",
         "lastScrape": "2026-11-27T10:00:00Z", "scrapePool": job}
        for job in jobs
    ]  # fmt: skip
    return {"status": "success", "data": {"activeTargets": active, "droppedTargets": []}}


class DoublesPlugin:
    """Hands the urls target sessions with doubles mounted (the plugin's pytest_mc_session_factory hook)."""

    def __init__(self, doubles: Mapping[str, RecordedTransport]) -> None:
        self.doubles = dict(doubles)

    def pytest_mc_session_factory(self, config: pytest.Config) -> Callable[[str], requests.Session]:
        return lambda system: self.doubles[system].mount(requests.Session())
