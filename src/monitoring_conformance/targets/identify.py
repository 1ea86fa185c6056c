"""Which kind of server answered a URL: Prometheus, Loki, Grafana, the Todo backend, or something else.

Each system is recognised by the shape of one answer that needs no credentials:

* Prometheus: ``GET /api/v1/status/buildinfo`` -> ``{"status": "success", "data": {"version"...}}``
* Loki: ``GET /loki/api/v1/status/buildinfo`` -> ``{"version", "goVersion"...}`` (no envelope)
* Grafana: ``GET /api/health`` -> ``{"database": "ok"|"failing", "version"?, ...}``
* Todo backend: ``GET /healthz`` -> ``{"status": "ok"}`` (a ``status``, none of the above keys)

A server that answers every path with one HTML page (node_exporter does) matches none of them, and
is named by its page title.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import requests

#: system name -> its identity path.
IDENTITY_PATHS = {
    "Prometheus": "/api/v1/status/buildinfo",
    "Loki": "/loki/api/v1/status/buildinfo",
    "Grafana": "/api/health",
    "Todo backend": "/healthz",
}
_TITLE = re.compile(r"<title[^>]*>(?P<title>[^<]{1,80})</title>", re.IGNORECASE)

Get = Callable[[str], "requests.Response | None"]


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _build_fields(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("version"), str) and "goVersion" in data


def is_system(system: str, response: requests.Response) -> bool:
    """Whether ``response`` (to the system's identity path) has the shape that system answers with."""
    body = _json(response)
    if not isinstance(body, dict):
        return False
    if system == "Prometheus":
        return body.get("status") == "success" and _build_fields(body.get("data"))
    if system == "Loki":
        return "status" not in body and _build_fields(body)
    if system == "Grafana":
        return body.get("database") in ("ok", "failing")
    if system == "Todo backend":
        return isinstance(body.get("status"), str) and not {"data", "database", "goVersion"} & body.keys()
    raise ValueError(f"unknown system {system!r}")


def page_title(response: requests.Response) -> str | None:
    """The <title> of an HTML answer, or None."""
    if "html" not in response.headers.get("Content-Type", "").lower():
        return None
    match = _TITLE.search(response.text[:4096])
    return " ".join(match.group("title").split()) if match else ""


def what_answered(get: Get, first: requests.Response, *, skip: str) -> str:
    """Name the server behind a URL that is not ``skip``: ``a Loki server``, ``an HTML page titled
    "Node Exporter"``, or ``a server that answered 404 ...``. ``first`` is the answer to skip's own
    identity path; ``get(path)`` asks the same URL for another path (None when that request failed)."""
    for system, path in IDENTITY_PATHS.items():
        if system == skip:
            continue
        response = get(path)
        if response is not None and response.status_code < 500 and is_system(system, response):
            return f"a {system} (GET {path} answered like one)"
    title = page_title(first)
    if title is not None:
        return f'an HTML page titled "{title}"' if title else "an HTML page"
    kind = first.headers.get("Content-Type", "no content type").split(";")[0]
    return f"a server that is not {skip} (GET {IDENTITY_PATHS[skip]} -> {first.status_code}, {kind})"
