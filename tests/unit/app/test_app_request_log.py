"""The Todo backend's request log: one JSON object per request on stdout, with the canary when marked."""

from __future__ import annotations

import io
import json
from types import ModuleType
from typing import Any

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.unit

FIELDS = {"time", "level", "method", "path", "status", "duration_ms", "request_id"}


def request_lines(text: str) -> list[dict[str, Any]]:
    """Parse the app's log output: one JSON object per non-empty line, or a failure naming the bad line."""
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"log line {number} is not JSON ({exc.msg}): {line[:200]}") from exc
        assert isinstance(record, dict), f"log line {number} is not a JSON object: {line[:200]}"
        records.append(record)
    return records


def test_log_parser_rejects_a_line_that_is_not_json() -> None:
    with pytest.raises(AssertionError, match=r"log line 2 is not JSON .*INFO: started"):
        request_lines('{"status": 200}\nINFO: started\n')


def test_log_parser_rejects_json_that_is_not_an_object() -> None:
    with pytest.raises(AssertionError, match="log line 1 is not a JSON object"):
        request_lines("[1, 2]\n")


def test_one_json_line_per_request(todo_client: TestClient, log_stream: io.StringIO) -> None:
    todo_client.get("/healthz")
    todo_client.get("/api/alice/tasks/7")

    records = request_lines(log_stream.getvalue())

    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/healthz", 200),
        ("GET", "/api/alice/tasks/7", 404),
    ]
    for record in records:
        assert set(record) == FIELDS, record
        assert record["duration_ms"] >= 0
    assert [r["level"] for r in records] == ["info", "warning"]


def test_canary_header_is_logged(todo_client: TestClient, log_stream: io.StringIO) -> None:
    todo_client.get("/healthz", headers={"X-Canary-Token": "canary-1f2e3d"})
    (record,) = request_lines(log_stream.getvalue())
    assert record["canary"] == "canary-1f2e3d"


def test_request_without_canary_has_no_canary_key(todo_client: TestClient, log_stream: io.StringIO) -> None:
    todo_client.get("/healthz")
    (record,) = request_lines(log_stream.getvalue())
    assert "canary" not in record


def test_request_id_is_taken_from_the_header_and_echoed(
    todo_client: TestClient, log_stream: io.StringIO
) -> None:
    response = todo_client.get("/healthz", headers={"X-Request-ID": "req-42"})
    (record,) = request_lines(log_stream.getvalue())
    assert record["request_id"] == "req-42"
    assert response.headers["X-Request-ID"] == "req-42"


def test_request_ids_are_generated_and_distinct(todo_client: TestClient, log_stream: io.StringIO) -> None:
    todo_client.get("/healthz")
    todo_client.get("/healthz")
    ids = [r["request_id"] for r in request_lines(log_stream.getvalue())]
    assert all(ids), ids
    assert len(set(ids)) == 2, ids


def test_default_stream_is_stdout(todo_module: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with TestClient(todo_module.create_app()) as client:
        client.get("/healthz", headers={"X-Canary-Token": "on-stdout"})
    out = capsys.readouterr().out
    (record,) = request_lines(out)
    assert record["canary"] == "on-stdout"
    assert json.loads(out.splitlines()[0]) == record
