"""The Todo backend's HTTP API, as the suite exercises it: health, a task round-trip, traffic, canaries."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitoring_conformance.api.http import Endpoint, decode_json, endpoint_error
from monitoring_conformance.errors import EndpointError
from monitoring_conformance.redact import redact

HINTS = {404: "is --app-url the Todo backend's HTTP port (Service todo-backend, port 8000)?"}
CANARY_HEADER = "X-Canary-Token"
#: The route a canary request goes to: a real API route, so it is logged and counted like any request.
CANARY_PATH = "/api/mc-canary/tasks"
#: traffic() refuses to send more than this many requests in one call.
MAX_TRAFFIC = 10_000
#: traffic() ends a burst after this many requests in a row got no HTTP answer.
MAX_TRANSPORT_ERRORS = 3
ANY_STATUS = range(100, 600)

_START_TIME = re.compile(r"^process_start_time_seconds(?:\{[^}]*\})?\s+(\S+)", re.MULTILINE)


def posts_for(n: int) -> int:
    """How many of ``traffic(n)``'s requests are POSTs (index 1, 4, 7... of 0..n-1)."""
    return (n + 1) // 3 if n > 0 else 0


@dataclass
class Traffic:
    """What one or more ``traffic()`` bursts did.

    ``answered``: requests that got an HTTP answer (any status); ``posts``: POSTs attempted; ``posts_ok``:
    POSTs answered 2xx (acknowledged); ``error``: the transport failure that ended a burst early, if any.
    """

    answered: int = 0
    posts: int = 0
    posts_ok: int = 0
    error: str = ""
    failed: int = 0  # requests without an HTTP answer
    server_errors: int = 0  # requests answered 5xx

    def add(self, other: Traffic) -> None:
        """Fold another burst into this total (the last error wins)."""
        self.answered += other.answered
        self.posts += other.posts
        self.posts_ok += other.posts_ok
        self.failed += other.failed
        self.server_errors += other.server_errors
        self.error = other.error or self.error

    def describe(self) -> str:
        """``20 requests answered, 7 of 7 POSTs acknowledged (2xx)``."""
        text = f"{self.answered} requests answered, {self.posts_ok} of {self.posts} POSTs acknowledged (2xx)"
        if self.server_errors:
            text += f", {self.server_errors} answered 5xx"
        if self.failed:
            text += f", {self.failed} without an answer"
        return f"{text}; traffic failed: {self.error}" if self.error else text


class RoundTripError(AssertionError):
    """A round-trip step did not behave. The message is redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class TodoApp:
    """The Todo backend reached through ``endpoint``."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        endpoint.add_hints(HINTS)

    def __repr__(self) -> str:
        return f"TodoApp({self.endpoint.describe()!r})"

    def health(self, *, time_left: Callable[[], float] | None = None) -> dict[str, Any]:
        """GET /healthz -> ``{"status": "ok"}``; EndpointError for any other answer.

        ``time_left`` (seconds of the caller's budget) caps the request's timeout, as in :meth:`traffic`.
        """
        left = time_left() if time_left is not None else None
        response = self.endpoint.request("GET", "/healthz", timeout=left)
        data = decode_json(self.endpoint, response, expect="Todo backend JSON")
        if not isinstance(data, dict) or data.get("status") != "ok":
            raise endpoint_error(
                f"GET /healthz -> {response.status_code} with {self.endpoint.excerpt(response.text)},"
                f' expected {{"status": "ok"}} ({self.endpoint.where()})',
                url=self.endpoint.url("/healthz"),
                status=response.status_code,
            )
        return data

    def roundtrip(self, user_id: str, *, time_left: Callable[[], float] | None = None) -> dict[str, Any]:
        """Create a task, read it back, find it in the list, delete it, and see it gone (404).

        Returns the evidence (user, task id, one line per step). Raises AssertionError naming the first
        step that did not behave. ``time_left`` (seconds of the caller's budget) caps each step's timeout,
        so a slow app cannot make one round trip outrun the budget: a step that gets no answer in what is
        left, or finds nothing left, fails naming the step and the capped timeout.
        """
        base = f"/api/{user_id}/tasks"
        title = f"conformance round-trip {uuid.uuid4().hex[:8]}"
        steps: list[str] = []
        evidence: dict[str, Any] = {"user_id": user_id, "task_id": None, "steps": steps}

        def step(name: str, method: str, path: str, expect: tuple[int, ...], body: Any = None) -> Any:
            left = time_left() if time_left is not None else None
            if left is not None and left <= 0:
                raise RoundTripError(
                    f"Todo round-trip failed at step '{name}': the budget ran out before {method} {path}"
                    f" (steps done: {'; '.join(steps) or 'none'}): the app cannot answer its round trip"
                    " within the budget"
                )
            try:
                response = self.endpoint.request(method, path, json_body=body, ok=ANY_STATUS, timeout=left)
            except EndpointError as exc:
                capped = left is not None and left < self.endpoint.timeouts[1]
                why = (f"; its timeout was capped at {left:.2f}s, what was left of the budget: the app cannot"
                       " answer its round trip within the budget") if capped else ""
                raise RoundTripError(f"Todo round-trip failed at step '{name}': {exc}{why}") from None
            line = f"{method} {path} -> {response.status_code}"
            steps.append(line)
            if response.status_code not in expect:
                wanted = " or ".join(str(s) for s in expect)
                raise RoundTripError(
                    f"Todo round-trip failed at step '{name}': {line}, expected {wanted}:"
                    f" {self.endpoint.excerpt(response.text)} ({self.endpoint.where()})"
                )
            if response.status_code == 204 or not response.text.strip():
                return None
            try:
                return response.json()
            except ValueError:
                raise RoundTripError(
                    f"Todo round-trip failed at step '{name}': {line} but the body is not JSON:"
                    f" {self.endpoint.excerpt(response.text)}"
                ) from None

        created = step("create", "POST", base, (201, 200), {"title": title, "description": "monitoring"})
        task_id = created.get("id") if isinstance(created, dict) else None
        if task_id is None:
            raise RoundTripError(f"Todo round-trip failed at step 'create': no id in the answer {created!r}")
        evidence["task_id"] = task_id
        item = f"{base}/{task_id}"
        read = step("read back", "GET", item, (200,))
        if not isinstance(read, dict) or read.get("title") != title:
            raise RoundTripError(
                f"Todo round-trip failed at step 'read back': expected title {title!r}, got {read!r}"
            )
        listed = step("list", "GET", base, (200,))
        tasks = listed.get("tasks", listed.get("items")) if isinstance(listed, dict) else listed
        ids = [t.get("id") for t in tasks or [] if isinstance(t, dict)]
        if task_id not in ids:
            raise RoundTripError(
                f"Todo round-trip failed at step 'list': task {task_id} is not in GET {base} (ids {ids[:10]})"
            )
        step("delete", "DELETE", item, (200, 204))
        step("read after delete", "GET", item, (404,))
        return evidence

    def traffic(
        self, n: int, *, user_id: str = "mc-traffic", time_left: Callable[[], float] | None = None
    ) -> Traffic:
        """Send ``n`` requests spread over list, create and health; say what was sent and what was counted.

        Every third request (index 1, 4, 7...) is a POST that creates a task: ``posts_for(n)`` of them. A
        POST answered 2xx is *acknowledged*: the backend handled it, so its request counter must move by at
        least that much. Other statuses are not judged (traffic exists to make metrics and logs move). A
        transport failure (a server that closes the connection after a 500, say) is kept in ``error`` and
        the burst goes on with a new connection; :data:`MAX_TRANSPORT_ERRORS` of them in a row end it.
        ``time_left`` (seconds of the caller's budget) caps every request's timeout, and the burst ends
        when it reaches 0, so a slow backend cannot make one burst outrun the budget.
        """
        if not 0 <= n <= MAX_TRAFFIC:
            raise ValueError(f"traffic(n): n must be between 0 and {MAX_TRAFFIC}, got {n}")
        base = f"/api/{user_id}/tasks"
        done = Traffic()
        in_a_row = 0
        for index in range(n):
            left = time_left() if time_left is not None else None
            if left is not None and left <= 0:
                done.error = done.error or f"the budget ran out after {done.answered} of {n} requests"
                break
            kind = index % 3
            try:
                if kind == 1:
                    done.posts += 1
                    body = {"title": f"traffic {index}", "description": "generated by the conformance suite"}
                    response = self.endpoint.request(
                        "POST", base, json_body=body, ok=ANY_STATUS, timeout=left
                    )
                    if 200 <= response.status_code < 300:
                        done.posts_ok += 1
                else:
                    path = base if kind == 0 else "/healthz"
                    response = self.endpoint.request("GET", path, ok=ANY_STATUS, timeout=left)
            except EndpointError as exc:
                done.error = str(exc)
                done.failed += 1
                in_a_row += 1
                if in_a_row >= MAX_TRANSPORT_ERRORS:
                    break
                continue
            in_a_row = 0
            done.answered += 1
            if response.status_code >= 500:
                done.server_errors += 1
        return done

    def canary(self, token: str, *, path: str = CANARY_PATH) -> int:
        """One request carrying ``X-Canary-Token: token`` (the backend logs it); returns the HTTP status."""
        response = self.endpoint.request("GET", path, ok=ANY_STATUS, headers={CANARY_HEADER: token})
        return response.status_code

    def describe(self) -> str:
        """Where the suite reaches the backend (for identity messages)."""
        return self.endpoint.describe()

    def metrics_text(self, *, fresh_connection: bool = False, timeout: float | None = None) -> str:
        """GET /metrics: the Prometheus text exposition. ``fresh_connection``: on a connection of its own
        (``Connection: close``), so that reads in a row can land on different processes behind the port.
        ``timeout``: seconds left of the caller's budget (caps the request's timeout)."""
        headers = {"Connection": "close"} if fresh_connection else None
        return self.endpoint.request("GET", "/metrics", headers=headers, timeout=timeout).text

    def process_start_time(
        self, *, fresh_connection: bool = False, time_left: Callable[[], float] | None = None
    ) -> float | None:
        """``process_start_time_seconds`` from /metrics (epoch seconds), or None when it is not exposed.

        A larger value than before means the process restarted; different values in a row mean several
        processes answer behind one address.
        """
        try:
            left = time_left() if time_left is not None else None
            text = self.metrics_text(fresh_connection=fresh_connection, timeout=left)
        except EndpointError as exc:
            if exc.status == 404:
                return None
            raise
        return parse_start_time(text)


def list_burst(endpoint: Endpoint, path: str, n: int) -> int:
    """Up to ``n`` GETs of ``path`` (a task list that answers 5xx, for alerts.fire); the 5xx answers counted.

    Stops at the first request without an answer (a backend restarting): the caller sends again later.
    """
    errors = 0
    for _ in range(n):
        try:
            response = endpoint.request("GET", path, ok=ANY_STATUS)
        except EndpointError:
            break
        errors += response.status_code >= 500
    return errors


def parse_start_time(text: str) -> float | None:
    """The value of ``process_start_time_seconds`` in a text exposition, or None."""
    match = _START_TIME.search(text)
    if not match:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None
