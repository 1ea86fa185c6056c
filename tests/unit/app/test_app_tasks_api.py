"""The Todo backend's HTTP contract (docs/interfaces.md "Todo backend"), in process via TestClient."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.unit


def test_health_answers_ok(todo_client: TestClient) -> None:
    response = todo_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_crud_round_trip(todo_client: TestClient) -> None:
    created = todo_client.post("/api/alice/tasks", json={"title": "write tests", "description": "live tier"})
    assert created.status_code == 201, created.text
    task = created.json()
    assert task == {"id": task["id"], "title": "write tests", "description": "live tier", "completed": False}
    url = f"/api/alice/tasks/{task['id']}"

    assert todo_client.get(url).json() == task
    assert todo_client.get("/api/alice/tasks").json() == [task]

    updated = todo_client.put(url, json={"completed": True})
    assert updated.status_code == 200, updated.text
    assert updated.json() == {**task, "completed": True}

    assert todo_client.delete(url).status_code == 204
    assert todo_client.get(url).status_code == 404
    assert todo_client.get("/api/alice/tasks").json() == []


def test_description_is_optional(todo_client: TestClient) -> None:
    response = todo_client.post("/api/bob/tasks", json={"title": "no description"})
    assert response.status_code == 201
    assert response.json()["description"] is None


def test_tasks_are_kept_per_user(todo_client: TestClient) -> None:
    task = todo_client.post("/api/alice/tasks", json={"title": "mine"}).json()
    assert todo_client.get("/api/bob/tasks").json() == []
    assert todo_client.get(f"/api/bob/tasks/{task['id']}").status_code == 404


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PUT", {"title": "renamed"}), ("DELETE", None)],
)
def test_unknown_task_is_404(todo_client: TestClient, method: str, body: dict[str, str] | None) -> None:
    response = todo_client.request(method, "/api/alice/tasks/999", json=body)
    assert response.status_code == 404
    assert "task 999" in response.json()["detail"]


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"description": "no title"}])
def test_task_without_title_is_rejected(todo_client: TestClient, body: dict[str, str]) -> None:
    assert todo_client.post("/api/alice/tasks", json=body).status_code == 422


def test_each_app_has_its_own_store(todo_module: ModuleType) -> None:
    with TestClient(todo_module.create_app()) as first, TestClient(todo_module.create_app()) as second:
        first.post("/api/alice/tasks", json={"title": "only in the first app"})
        assert second.get("/api/alice/tasks").json() == []


def test_concurrent_creates_get_distinct_ids(todo_client: TestClient) -> None:
    def create(n: int) -> int:
        response = todo_client.post("/api/alice/tasks", json={"title": f"task {n}"})
        assert response.status_code == 201
        task_id: int = response.json()["id"]
        return task_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(40)))
    assert len(set(ids)) == 40
    assert len(todo_client.get("/api/alice/tasks").json()) == 40
