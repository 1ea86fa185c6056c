"""The end-of-session series for acceptance.html: which expressions, which step, and errors as notes."""

from __future__ import annotations

import itertools
import math

import pytest

from monitoring_conformance import profile as profiles
from monitoring_conformance import series
from monitoring_conformance.api.prometheus import Series
from monitoring_conformance.errors import EndpointError

pytestmark = pytest.mark.unit

HOST = profiles.load(str(profiles.PROFILES_DIR / "host.yaml"))
T0 = 1_764_950_400.0


class FakePrometheus:
    """Answers query_range like Prometheus does for a range query: per series, points at each step."""

    def __init__(self, *, fail: set[str] = frozenset(), count: int = 1) -> None:
        self.fail = fail
        self.count = count
        self.calls: list[tuple[str, float, float, float]] = []

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        self.calls.append((expr, start, end, step))
        if expr in self.fail:
            raise EndpointError(f"Prometheus rejected the query {expr!r}: bad_data: parse error")
        points = ((start, 1.0), (start + step, math.nan), (start + 2 * step, 3.0))
        return [Series({"cpu": str(i)}, points) for i in range(self.count)]


@pytest.mark.parametrize(("seconds", "step"), [(0, 1.0), (60, 1.0), (200, 1.0), (201, 2.0), (3600, 18.0)])
def test_step_gives_at_most_about_200_points(seconds: float, step: float) -> None:
    assert series.step_for(T0, T0 + seconds) == step


def test_expressions_are_those_of_the_metric_requirements() -> None:
    found = series.expressions(HOST)
    assert set(found) == {"metrics.cpu", "metrics.memory", "metrics.request_rate"}
    assert found["metrics.cpu"]["app_cpu"] == 'process_cpu_seconds_total{job="todo-backend"}'
    assert list(found["metrics.request_rate"]) == ["query"]
    assert "stack.prometheus_targets" not in found


def test_collect_reads_every_expression_over_the_window() -> None:
    fake = FakePrometheus()
    section = series.collect(fake, HOST, T0, T0 + 100)
    assert len(fake.calls) == 5
    assert {(start, end, step) for _, start, end, step in fake.calls} == {(T0, T0 + 100, 1.0)}
    [plot] = [p for p in section["requirements"]["metrics.memory"] if p["name"] == "app_memory"]
    assert plot["series"][0]["points"] == [[T0, 1.0], [T0 + 1, None], [T0 + 2, 3.0]]
    assert section["notes"] == []


def test_the_rate_window_of_a_query_is_filled_in_from_the_step() -> None:
    fake = FakePrometheus()
    section = series.collect(fake, HOST, T0, T0 + 1000)
    [sent] = [expr for expr, *_ in fake.calls if "http_requests_total" in expr]
    assert "${rate_window}" not in sent
    assert sent.endswith("[20s]))"), sent  # 4 steps of 5 s
    assert section["requirements"]["metrics.request_rate"][0]["query"] == sent


def test_a_failing_query_is_a_note_and_the_others_are_still_read() -> None:
    fake = FakePrometheus(fail={'node_cpu_seconds_total{job="node"}'})
    section = series.collect(fake, HOST, T0, T0 + 100)
    assert [p["name"] for p in section["requirements"]["metrics.cpu"]] == ["app_cpu"]
    [note] = section["notes"]
    assert note.startswith("metrics.cpu node_cpu: query_range failed: Prometheus rejected the query")


def test_many_series_are_cut_with_a_note() -> None:
    section = series.collect(FakePrometheus(count=9), HOST, T0, T0 + 10)
    plots = [p for listed in section["requirements"].values() for p in listed]
    assert all(len(p["series"]) == series.MAX_SERIES for p in plots)
    assert len(section["notes"]) == 5
    assert all(f"9 series, the first {series.MAX_SERIES} plotted" in n for n in section["notes"])
    assert series.collect(FakePrometheus(count=2), HOST, T0, T0 + 10)["notes"] == []


def test_the_time_budget_stops_further_queries() -> None:
    ticks = itertools.count(0.0, 4.0)  # each clock reading is 4 s later
    fake = FakePrometheus()
    section = series.collect(fake, HOST, T0, T0 + 10, budget_s=5.0, clock=lambda: next(ticks))
    assert len(fake.calls) == 1
    assert len(section["notes"]) == 4
    assert all("were spent" in note for note in section["notes"])


def test_without_prometheus_there_is_a_note_and_no_plot() -> None:
    section = series.collect(None, HOST, T0, T0 + 10)
    assert section["requirements"] == {}
    assert section["notes"] == ["no plots: no Prometheus in this session, or the session was interrupted"]
