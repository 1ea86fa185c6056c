"""Builders shared by the core unit tests."""

from __future__ import annotations

from typing import Any

from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record


def make_spec(rid: str, *, timeout: float = 10.0, interval: float = 0.5, threshold: float | None = None,
              **options: Any) -> Spec:
    """A profile entry as a loaded profile would hold it."""
    return Spec(id=rid, timeout=timeout, interval=interval, threshold=threshold, options=options)


def make_record(rid: str) -> Record:
    return Record.new(rid)
