"""The Todo backend's /metrics: instrumentator request series by route template, and process series."""

from __future__ import annotations

import re
from types import ModuleType

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.unit


def series(exposition: str, name: str) -> dict[str, float]:
    """``{label_block: value}`` of every sample of ``name`` in a text exposition (no HELP/TYPE lines)."""
    pattern = re.compile(rf"^{re.escape(name)}(\{{.*\}})? (\S+)$")
    found: dict[str, float] = {}
    for line in exposition.splitlines():
        match = pattern.match(line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def test_series_parser_finds_only_the_named_metric() -> None:
    text = 'http_requests_total{handler="/a"} 2.0\nhttp_requests_total_created 1.7e9\nother 1\n'
    assert series(text, "http_requests_total") == {'{handler="/a"}': 2.0}
    assert series(text, "missing_total") == {}


def test_request_counter_uses_the_route_template(todo_client: TestClient) -> None:
    task = todo_client.post("/api/alice/tasks", json={"title": "t"}).json()
    todo_client.get(f"/api/alice/tasks/{task['id']}")
    todo_client.get(f"/api/alice/tasks/{task['id']}")

    counts = series(todo_client.get("/metrics").text, "http_requests_total")

    assert counts['{handler="/api/{user_id}/tasks",method="POST",status="2xx"}'] == 1.0
    assert counts['{handler="/api/{user_id}/tasks/{task_id}",method="GET",status="2xx"}'] == 2.0
    assert not any("alice" in labels for labels in counts), f"raw paths leaked into labels: {list(counts)}"


def test_not_found_is_counted_as_4xx(todo_client: TestClient) -> None:
    todo_client.get("/api/alice/tasks/404")
    counts = series(todo_client.get("/metrics").text, "http_requests_total")
    assert counts['{handler="/api/{user_id}/tasks/{task_id}",method="GET",status="4xx"}'] == 1.0


def test_scrapes_are_not_counted_as_traffic(todo_client: TestClient) -> None:
    todo_client.get("/metrics")
    counts = series(todo_client.get("/metrics").text, "http_requests_total")
    assert not any('handler="/metrics"' in labels for labels in counts), list(counts)


def test_duration_histogram_is_exposed(todo_client: TestClient) -> None:
    todo_client.get("/healthz")
    buckets = series(todo_client.get("/metrics").text, "http_request_duration_seconds_bucket")
    assert any('handler="/healthz"' in labels and 'le="+Inf"' in labels for labels in buckets), list(buckets)


@pytest.mark.parametrize(
    "name", ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"]
)
def test_process_series_are_exposed(todo_client: TestClient, name: str) -> None:
    values = series(todo_client.get("/metrics").text, name)
    assert values, f"{name} missing from /metrics"
    assert values[""] > 0


def test_each_app_counts_on_its_own_registry(todo_module: ModuleType) -> None:
    with TestClient(todo_module.create_app()) as busy, TestClient(todo_module.create_app()) as idle:
        busy.get("/healthz")
        assert series(busy.get("/metrics").text, "http_requests_total")
        assert series(idle.get("/metrics").text, "http_requests_total") == {}
