"""Builders shared by the core unit tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from tests.doubles import PrometheusDouble
from tests.doubles.transport import RecordedTransport

from monitoring_conformance.profile import PROFILES_DIR, Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.settings import OPTIONS

#: Every environment twin blanked, so the machine's environment cannot change the outcome.
CLEAN_ENV = {opt.env: "" for opt in OPTIONS} | {"MC_GRAFANA_USER": "", "MC_GRAFANA_PASSWORD": ""}
#: The one query of the metrics.cpu profile :func:`cpu_run_args` writes.
CPU_QUERY = 'node_cpu_seconds_total{job="node"}'


def profile_without(directory: Path, name: str, *ids: str) -> Path:
    """A copy of profile ``name`` without ``ids`` (e.g. alerts.fire, which a urls run cannot verify)."""
    raw = yaml.safe_load((PROFILES_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    for rid in ids:
        del raw["requirements"][rid]
    path = directory / f"{name}-without-{'-'.join(ids)}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def make_spec(rid: str, *, timeout: float = 10.0, interval: float = 0.5, threshold: float | None = None,
              **options: Any) -> Spec:
    """A profile entry as a loaded profile would hold it."""
    return Spec(id=rid, timeout=timeout, interval=interval, threshold=threshold, options=options)


def make_record(rid: str) -> Record:
    return Record.new(rid)


def targets_payload(*jobs: str, interval: str | None = None) -> dict[str, Any]:
    """A /api/v1/targets answer with one healthy target per job (``instance`` = ``<job>:80``);
    ``interval``: the ``scrapeInterval`` each reports (Prometheus >= 2.30), else none."""
    active = [
        {"labels": {"job": job, "instance": f"{job}:80"}, "health": "up", "scrapeUrl": f"http://{job}/metrics",
         "lastError": "", "lastScrape": "2026-11-27T10:00:00Z", "scrapePool": job}
        for job in jobs
    ]  # fmt: skip
    if interval is not None:
        for item in active:
            item["scrapeInterval"] = interval
    return {"status": "success", "data": {"activeTargets": active, "droppedTargets": []}}


class DoublesPlugin:
    """Hands the urls target sessions with doubles mounted (the plugin's pytest_mc_session_factory hook)."""

    def __init__(self, doubles: Mapping[str, RecordedTransport]) -> None:
        self.doubles = dict(doubles)

    def pytest_mc_session_factory(self, config: pytest.Config) -> Callable[[str], requests.Session]:
        return lambda system: self.doubles[system].mount(requests.Session())


def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Blank every environment twin (:data:`CLEAN_ENV`) and work in ``tmp_path``."""
    for key, value in CLEAN_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)


def cpu_run_args(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """CLI arguments of a one-requirement (metrics.cpu, :data:`CPU_QUERY`) urls run against a Prometheus
    double, in a clean environment; no report folder chosen yet."""
    clean_env(monkeypatch, tmp_path)
    profile = tmp_path / "cpu.yaml"
    entry = f"{{timeout: 1, queries: {{node_cpu: '{CPU_QUERY}'}}}}"
    profile.write_text(f"requirements:\n  metrics.cpu: {entry}\n")
    return ["--prometheus-url", PrometheusDouble.base_url, "--profile", str(profile),
            "-p", "no:cacheprovider"]  # fmt: skip
