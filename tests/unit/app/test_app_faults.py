"""The Todo backend's fault switches (TODO_API_DELAY_S, TODO_LIST_STATUS) for broken live stacks."""

from __future__ import annotations

import io
from types import ModuleType

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.unit


def test_no_switch_means_no_fault(todo_module: ModuleType) -> None:
    assert todo_module.faults_from_env({"PATH": "/bin"}) == todo_module.Faults()


def test_switches_are_read_from_the_environment(todo_module: ModuleType) -> None:
    faults = todo_module.faults_from_env({"TODO_API_DELAY_S": " 2.5 ", "TODO_LIST_STATUS": "500"})
    assert faults == todo_module.Faults(api_delay_s=2.5, list_status=500)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TODO_API_DELAY_S": "slow"}, "TODO_API_DELAY_S='slow' must be seconds between 0 and 3600"),
        ({"TODO_API_DELAY_S": "-1"}, "TODO_API_DELAY_S='-1' must be seconds"),
        ({"TODO_API_DELAY_S": "nan"}, "TODO_API_DELAY_S='nan' must be seconds"),
        ({"TODO_LIST_STATUS": "200"}, "TODO_LIST_STATUS='200' must be a 4xx or 5xx status"),
        ({"TODO_LIST_STATUS": "5xx"}, "TODO_LIST_STATUS='5xx' must be a 4xx or 5xx status"),
    ],
)
def test_a_bad_switch_stops_the_app_naming_the_variable(
    todo_module: ModuleType, env: dict[str, str], words: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        todo_module.faults_from_env(env)
    assert words in str(caught.value)


def test_the_list_answers_the_status_and_closes_while_posts_still_work(todo_module: ModuleType) -> None:
    app = todo_module.create_app(log_stream=io.StringIO(), faults=todo_module.Faults(list_status=500))
    with TestClient(app) as client:
        created = client.post("/api/u/tasks", json={"title": "a"})
        listed = client.get("/api/u/tasks")
        read = client.get(f"/api/u/tasks/{created.json()['id']}")
    assert created.status_code == 201
    assert listed.status_code == 500
    assert listed.headers["connection"] == "close"
    assert "TODO_LIST_STATUS" in listed.text
    assert read.status_code == 200


def test_the_delay_applies_to_the_task_api_only(
    todo_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(todo_module.asyncio, "sleep", record)
    app = todo_module.create_app(log_stream=io.StringIO(), faults=todo_module.Faults(api_delay_s=2.5))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert delays == []
        assert client.post("/api/u/tasks", json={"title": "a"}).status_code == 201
        assert client.get("/api/u/tasks").status_code == 200
    assert delays == [2.5, 2.5]
