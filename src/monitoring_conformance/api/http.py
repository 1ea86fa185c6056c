"""One HTTP endpoint of the stack: a base URL, a session that carries the credentials, and readable errors.

Every request has explicit (connect, read) timeouts. Transport failures and unexpected statuses become one
line that names the method, the URL, what happened and which service it was::

    GET http://127.0.0.1:1/api/v1/query -> connection refused (Prometheus at http://127.0.0.1:1, direct)

401/403 end a wait at once (:class:`AuthError`, an :class:`~monitoring_conformance.errors.Unrecoverable`).
Credentials live in the session and never appear in messages, reprs or evidence.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import requests

from monitoring_conformance.errors import EndpointError, Unrecoverable
from monitoring_conformance.redact import mask_userinfo, redact

DIRECT = "direct"
API_SERVER_PROXY = "API-server proxy"

#: Longest body excerpt shown in an error message.
EXCERPT = 200
#: Longest request line kept as evidence.
EVIDENCE = 300

_DNS_MARKERS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "temporary failure in name resolution",
    "nameresolutionerror",
    "no address associated",
)
_TLS_REASONS = (
    ("certificate_verify_failed", "certificate verify failed (check the CA bundle or the kubeconfig's CA)"),
    ("wrong_version_number", "wrong version number (is the server plain HTTP? use http://)"),
    ("hostname mismatch", "certificate hostname mismatch (check the URL's host name)"),
    ("certificate", "certificate problem (check the CA bundle or the kubeconfig's CA)"),
)

Params = Mapping[str, str | int | float | list[str]] | None


class AuthError(Unrecoverable):
    """401/403: the credentials are missing or wrong. Waiting will not fix it."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None):
        self.url = url
        self.status = status
        super().__init__(message)


def endpoint_error(message: str, *, url: str = "", status: int | None = None) -> EndpointError:
    """An EndpointError whose message and URL have passed through :func:`redact`."""
    return EndpointError(redact(message), url=redact(url), status=status)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``…`` when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bare(url: str) -> str:
    """``url`` without its query string and fragment (those may be long, or hold a selector)."""
    return urlsplit(url)._replace(query="", fragment="").geturl() or url


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _refuse_userinfo(base_url: str, name: str) -> None:
    """Credentials never travel in a URL (they would show in listings, logs and evidence): ValueError,
    with the URL masked, when ``base_url`` has a ``user[:password]@`` part."""
    masked = mask_userinfo(base_url)
    if masked != base_url:
        raise ValueError(
            f"{name}: credentials in the base URL {masked} are not supported; put them in the session"
            " (session.auth or an Authorization header)"
        )


def _kube_status_message(body: str) -> str | None:
    """The message of a Kubernetes ``Status`` object (the API server's own error), if the body is one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("kind") == "Status":
        return str(data.get("message") or data.get("reason") or "")
    return None


class PinnedTrustSession(requests.Session):
    """A session whose ``verify`` (a CA file, or False) wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    Plain ``requests`` replaces a session's ``verify`` with the environment's bundle unless each call
    passes ``verify=``; calls to a cluster must trust the kubeconfig's CA whatever the environment says.
    Only when ``verify`` is True (system trust) does the environment's bundle still apply.
    """

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if verify is None and self.verify is not True:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


class Endpoint:
    """A base URL plus a :class:`requests.Session`.

    ``name`` says which system it is ("Prometheus"), ``via`` how it is reached ("direct" or
    "API-server proxy"). ``timeout`` is one number (connect and read) or a (connect, read) pair.
    ``hints`` maps a status (401, 404...) to the fix shown in that error; clients add their own.
    Credentials live in the session only: a ``user:password@`` part in ``base_url`` is a ValueError.
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        via: str = DIRECT,
        name: str,
        timeout: float | tuple[float, float] = 10.0,
        hints: Mapping[int, str] | None = None,
    ) -> None:
        _refuse_userinfo(base_url.strip(), name)
        self.base_url = base_url.strip().rstrip("/")
        self.session = session if session is not None else requests.Session()
        self.via = via
        self.name = name
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        if connect <= 0 or read <= 0:
            raise ValueError(f"{name}: timeouts must be > 0, got connect={connect} read={read}")
        self.timeouts: tuple[float, float] = (float(connect), float(read))
        self.hints: dict[int, str] = dict(hints or {})
        self.last_request: str | None = None
        self.requests_sent = 0
        self.session.hooks.setdefault("response", []).append(self._on_response)

    def __repr__(self) -> str:
        return f"Endpoint({self.describe()!r})"

    def add_hints(self, defaults: Mapping[int, str]) -> None:
        """Add a client's per-status hints; a hint the endpoint already has for a status is kept."""
        for status, hint in defaults.items():
            self.hints.setdefault(status, hint)

    # -- addressing -----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (a path relative to the base URL)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def describe(self) -> str:
        """``Prometheus at http://127.0.0.1:9090 (direct)``."""
        return f"{self.name} at {self.base_url} ({self.via})"

    def where(self) -> str:
        """``Prometheus at http://127.0.0.1:9090, direct``: the tail of every error message."""
        return f"{self.name} at {self.base_url}, {self.via}"

    def relative(self, url: str) -> str:
        """``url`` as a path below the base URL (for evidence), query string decoded for reading."""
        rel = url[len(self.base_url) :] if url.startswith(self.base_url) else url
        return redact(shorten(unquote_plus(rel) or "/", EVIDENCE))

    # -- requests -------------------------------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Params = None,
        *,
        ok: Collection[int] | None = None,
        hints: Mapping[int, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """GET ``path``. Statuses outside ``ok`` (default: any 2xx) raise, see :meth:`check`."""
        return self.request("GET", path, params=params, ok=ok, hints=hints, headers=headers)

    def post_json(
        self,
        path: str,
        body: Any,
        *,
        ok: Collection[int] | None = None,
        hints: Mapping[int, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST ``body`` as JSON to ``path``."""
        return self.request("POST", path, json_body=body, ok=ok, hints=hints, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json_body: Any = None,
        ok: Collection[int] | None = None,
        hints: Mapping[int, str] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send one request with the endpoint's timeouts; translate failures into readable errors.

        ``timeout`` (seconds left of a caller's budget) caps both the connect and the read timeout.
        """
        url = self.url(path)
        limits = self.timeouts
        if timeout is not None:
            cap = max(timeout, 0.05)
            limits = (min(limits[0], cap), min(limits[1], cap))
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                headers=dict(headers) if headers else None,
                timeout=limits,
                verify=self.session.verify,
            )
        except requests.RequestException as exc:
            raise self.transport_error(method, url, exc, params=params, limits=limits) from None
        self.check(response, ok=ok, hints=hints)
        return response

    def check(
        self,
        response: requests.Response,
        *,
        ok: Collection[int] | None = None,
        hints: Mapping[int, str] | None = None,
    ) -> None:
        """Raise unless ``response.status_code`` is in ``ok`` (default: any 2xx)."""
        status = response.status_code
        if (status in ok) if ok is not None else 200 <= status < 300:
            return
        method = response.request.method if response.request is not None else "GET"
        raise self.status_error(method or "GET", response.url or "", status, response.text, hints=hints)

    # -- error translation ----------------------------------------------------------------------------

    def status_error(
        self,
        method: str,
        url: str,
        status: int,
        body: str,
        *,
        hints: Mapping[int, str] | None = None,
    ) -> EndpointError | AuthError:
        """The error for an unexpected HTTP status (401/403 -> AuthError, others -> EndpointError)."""
        merged = {**self.hints, **(hints or {})}
        bare = _bare(url)
        head = f"{method} {redact(bare)} -> {status} {_reason(status)}".rstrip()
        kube = _kube_status_message(body) if self.via == API_SERVER_PROXY else None
        excerpt = self.excerpt(body)
        if status in (401, 403):
            if kube is not None:
                fix = (
                    "the API server refused the kubeconfig credentials"
                    f" ({self.excerpt(kube)}); check --kubeconfig/--context and RBAC for services/proxy"
                )
            else:
                fix = merged.get(status) or merged.get(401) or "check the credentials in the session"
            return AuthError(
                redact(
                    f"{self.name} at {self.base_url} answered {status} {_reason(status)}"
                    f" to {method} {self.relative(bare)}: {fix} ({self.via})"
                ),
                url=redact(bare),
                status=status,
            )
        detail = excerpt
        if kube is not None:
            detail = f"the API server says: {self.excerpt(kube)}"
        parts = [f"{head} ({self.where()})"]
        if detail:
            parts.append(detail)
        if status in merged:
            parts.append(merged[status])
        return endpoint_error(": ".join(parts), url=bare, status=status)

    def transport_error(
        self,
        method: str,
        url: str,
        exc: BaseException,
        *,
        params: Params = None,
        limits: tuple[float, float] | None = None,
    ) -> EndpointError:
        """The error for a request that got no HTTP answer (refused, DNS, timeout, TLS).

        ``limits``: the (connect, read) timeouts the request really had, when a budget capped them.
        """
        query = ""
        if params:
            query = "?" + "&".join(f"{k}={v}" for k, v in params.items())
        reason = self.classify(exc, limits)
        self._record(method, url + query, reason)
        bare = _bare(url)
        return endpoint_error(f"{method} {bare} -> {reason} ({self.where()})", url=bare)

    def classify(self, exc: BaseException, limits: tuple[float, float] | None = None) -> str:
        """A few words for a transport failure: connection refused, DNS lookup failed, timed out...

        ``limits``: the (connect, read) timeouts of the request, if not the endpoint's own.
        """
        connect, read = limits or self.timeouts
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"timed out connecting after {connect:g}s"
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return f"no answer within {read:g}s (read timeout)"
        if isinstance(exc, requests.exceptions.Timeout):
            return f"timed out after {read:g}s"
        text = f"{exc!r} {exc}"
        if isinstance(exc, requests.exceptions.SSLError):
            return f"TLS error: {self._ssl_reason(text)}"
        lowered = text.lower()
        chain = _exception_chain(exc)
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in lowered:
            return "connection refused"
        if any(marker in lowered for marker in _DNS_MARKERS):
            host = urlsplit(self.base_url).hostname or self.base_url
            return f"DNS lookup failed for {host}"
        if "remotedisconnected" in lowered or "connection aborted" in lowered or "reset by peer" in lowered:
            return "connection closed by the server without an answer"
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
            return f"invalid URL ({redact(str(exc))[:EXCERPT]})"
        return f"connection failed: {redact(str(exc))[:EXCERPT] or type(exc).__name__}"

    @staticmethod
    def _ssl_reason(text: str) -> str:
        lowered = text.lower()
        for marker, reason in _TLS_REASONS:
            if marker in lowered:
                return reason
        return "handshake failed"

    @staticmethod
    def excerpt(body: str) -> str:
        """A one-line, redacted, shortened form of a response body."""
        return redact(shorten(" ".join(body.split()), EXCERPT))

    # -- evidence -------------------------------------------------------------------------------------

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        request = response.request
        # A session may be shared by several endpoints (one kube session for every proxied service).
        if request is not None and (request.url or "").startswith(self.base_url):
            self._record(request.method or "GET", request.url or "", str(response.status_code))
        return response

    def _record(self, method: str, url: str, outcome: str) -> None:
        self.requests_sent += 1
        self.last_request = f"{method} {self.relative(url)} -> {outcome}"


def _exception_chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return seen


def decode_json(endpoint: Endpoint, response: requests.Response, *, expect: str = "JSON") -> Any:
    """``response.json()``, or an EndpointError saying the body is not what ``endpoint`` should answer."""
    try:
        return response.json()
    except ValueError:
        method = response.request.method if response.request is not None else "GET"
        rel = endpoint.relative(response.url or "")
        raise endpoint_error(
            f"{method} {rel} -> {response.status_code} but the body is not {expect} ({endpoint.where()}):"
            f" {endpoint.excerpt(response.text)}; is the URL pointing at {endpoint.name}?",
            url=response.url or "",
            status=response.status_code,
        ) from None
