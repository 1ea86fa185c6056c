"""TodoAppDouble: the Todo backend's routes held in memory, with switches to break single steps."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.doubles.transport import Call, RecordedTransport, Reply, payload_text

ITEM = r"/api/(?P<user>[^/]+)/tasks/(?P<task>\d+)"
COLLECTION = r"/api/(?P<user>[^/]+)/tasks"


class TodoAppDouble(RecordedTransport):
    """/healthz, /metrics and the task API.

    ``broken`` maps a step to the status it answers instead: ``"create"``, ``"read"``, ``"list"``,
    ``"delete"``, ``"health"``, ``"metrics"``. ``forget_deletes=True`` keeps deleted tasks readable (the
    round-trip's last step then fails). ``hide_from_list=True`` leaves new tasks out of the list.
    ``metrics`` is the /metrics text (default: the recorded exposition).
    """

    base_url = "http://todo-backend.test"

    def __init__(
        self,
        *,
        broken: Mapping[str, int] | None = None,
        forget_deletes: bool = False,
        hide_from_list: bool = False,
        metrics: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.broken = dict(broken or {})
        self.forget_deletes = forget_deletes
        self.hide_from_list = hide_from_list
        self.metrics = metrics if metrics is not None else payload_text("app/metrics.txt")
        self.tasks: dict[str, dict[int, dict[str, Any]]] = {}
        self.next_id = 1
        self.canaries: list[str] = []
        self.route("GET", r"/healthz", self._step("health", lambda c, m: {"status": "ok"}))
        self.route("GET", r"/metrics", self._step("metrics", lambda c, m: self.metrics))
        self.route("GET", COLLECTION, self._step("list", self._list))
        self.route("POST", COLLECTION, self._step("create", self._create))
        self.route("GET", ITEM, self._step("read", self._read))
        self.route("DELETE", ITEM, self._step("delete", self._delete))

    def _step(self, name: str, handler: Any) -> Any:
        def run(call: Call, match: re.Match[str]) -> Any:
            token = call.header("X-Canary-Token")
            if token:
                self.canaries.append(token)
            if name in self.broken:
                status = self.broken[name]
                return Reply(status, {"detail": f"step {name} broken on purpose ({status})"})
            return handler(call, match)

        return run

    def _list(self, call: Call, match: re.Match[str]) -> Any:
        if self.hide_from_list:
            return []
        return list(self.tasks.get(match.group("user"), {}).values())

    def _create(self, call: Call, match: re.Match[str]) -> Reply:
        body = call.json() or {}
        if not body.get("title"):
            return Reply(422, {"detail": "title is required"})
        task = {
            "id": self.next_id,
            "title": body["title"],
            "description": body.get("description"),
            "completed": False,
        }
        self.next_id += 1
        self.tasks.setdefault(match.group("user"), {})[task["id"]] = task
        return Reply(201, task)

    def _read(self, call: Call, match: re.Match[str]) -> Reply:
        task = self.tasks.get(match.group("user"), {}).get(int(match.group("task")))
        return Reply(200, task) if task else Reply(404, {"detail": "not found"})

    def _delete(self, call: Call, match: re.Match[str]) -> Reply:
        tasks = self.tasks.get(match.group("user"), {})
        task_id = int(match.group("task"))
        if task_id not in tasks:
            return Reply(404, {"detail": "not found"})
        if not self.forget_deletes:
            del tasks[task_id]
        return Reply(204)
