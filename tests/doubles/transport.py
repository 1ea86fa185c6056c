"""A `requests` transport adapter that answers from handlers and recorded payloads, without a network.

Mount a :class:`RecordedTransport` (or one of the service doubles built on it) on a session, and every
request the code under test sends lands in :attr:`RecordedTransport.calls`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from monitoring_conformance.api.http import DIRECT, Endpoint
from monitoring_conformance.wait import Clock

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"


def payload(name: str) -> Any:
    """A recorded JSON payload, e.g. ``payload("grafana/search.json")``."""
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def payload_text(name: str) -> str:
    """A recorded text payload, e.g. ``payload_text("app/metrics.txt")``."""
    return (PAYLOADS / name).read_text(encoding="utf-8")


class FakeClock:
    """A clock for :func:`monitoring_conformance.wait.eventually` that moves only when a wait passes time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def elapse(self, seconds: float) -> None:
        """What eventually() calls instead of sleeping: record the pause and move the time on."""
        self.sleeps.append(seconds)
        self.t += seconds

    def advance(self, seconds: float) -> None:
        self.t += seconds

    @property
    def clock(self) -> Clock:
        return Clock(now=self.now, sleep=self.elapse)


@dataclass
class Reply:
    """What a handler answers: a status, a body (dict/list -> JSON, str -> text) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode(), headers


@dataclass(frozen=True)
class Call:
    """One request the double received."""

    method: str
    path: str  # below the double's base URL, e.g. "/api/v1/query"
    params: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    timeout: Any

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


Handler = Callable[[Call, re.Match[str]], "Reply | Any"]
Failure = BaseException | type[BaseException]


class RecordedTransport(BaseAdapter):
    """Routes requests by (method, path regex) to handlers; records every call.

    ``status_overrides`` maps a path (exact, below the base URL) to a status answered instead of the route
    (its body comes from :meth:`error_body`). ``failures`` maps a path to an exception raised instead, and
    ``fail_all`` raises for every request (e.g. :func:`connection_refused`).
    """

    base_url = "http://double.test"
    not_found_body: ClassVar[Any] = "404 page not found\n"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        status_overrides: Mapping[str, int] | None = None,
        failures: Mapping[str, Failure] | None = None,
        fail_all: Failure | None = None,
    ) -> None:
        super().__init__()
        self.base_url = (base_url or self.base_url).rstrip("/")
        self.status_overrides = dict(status_overrides or {})
        self.failures = dict(failures or {})
        self.fail_all = fail_all
        self.calls: list[Call] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    # -- configuration --------------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler, *, first: bool = False) -> None:
        """Answer ``method`` requests whose path fully matches ``pattern`` with ``handler(call, match)``.

        ``first=True`` puts the route before the ones already there (to replace a double's own answer).
        """
        entry = (method.upper(), re.compile(pattern), handler)
        if first:
            self._routes.insert(0, entry)
        else:
            self._routes.append(entry)

    def error_body(self, status: int) -> Any:
        """The body served for a status override."""
        return f"{status} {HTTPStatus(status).phrase}\n"

    def mount(self, session: requests.Session) -> requests.Session:
        session.mount(self.base_url, self)
        return session

    def endpoint(
        self,
        *,
        name: str,
        via: str = DIRECT,
        timeout: float | tuple[float, float] = 5.0,
        session: requests.Session | None = None,
    ) -> Endpoint:
        """An Endpoint on a session with this double mounted at its base URL."""
        return Endpoint(
            self.base_url,
            session=self.mount(session or requests.Session()),
            via=via,
            name=name,
            timeout=timeout,
        )

    # -- inspection -----------------------------------------------------------------------------------

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    # -- the adapter ----------------------------------------------------------------------------------

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        call = self._call(request, timeout)
        self.calls.append(call)
        failure = self.fail_all or self.failures.get(call.path)
        if failure is not None:
            raise failure
        if call.path in self.status_overrides:
            status = self.status_overrides[call.path]
            return self._response(request, Reply(status, self.error_body(status)))
        reply: Any = None
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(call.path)
            if match and method == call.method:
                reply = handler(call, match)
                break
        else:
            reply = Reply(404, self.not_found_body)
        if not isinstance(reply, Reply):
            reply = Reply(200, reply)
        return self._response(request, reply)

    def close(self) -> None:
        """Nothing to release."""

    def _call(self, request: requests.PreparedRequest, timeout: Any) -> Call:
        parts = urlsplit(request.url or "")
        base_path = urlsplit(self.base_url).path
        path = parts.path[len(base_path) :] if parts.path.startswith(base_path) else parts.path
        params = parse_qs(parts.query, keep_blank_values=True)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        content_type = request.headers.get("Content-Type", "")
        if "x-www-form-urlencoded" in content_type:
            for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
                params.setdefault(key, []).extend(values)
        return Call(
            method=(request.method or "GET").upper(),
            path=path or "/",
            params=params,
            headers=dict(request.headers),
            body=body,
            timeout=timeout,
        )

    def _response(self, request: requests.PreparedRequest, reply: Reply) -> requests.Response:
        content, headers = reply.encode()
        response = requests.Response()
        response.status_code = reply.status
        response._content = content
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url or ""
        response.request = request
        response.reason = HTTPStatus(reply.status).phrase
        response.encoding = "utf-8"
        return response


def connection_refused() -> requests.ConnectionError:
    """What `requests` raises when nothing listens on the port."""
    return requests.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
