"""Mask secrets (passwords, tokens, Authorization headers) in any text this project shows or writes.

Two layers work together:

* a process-wide set of known secret values (:func:`register_secret`), filled when credentials are read
  (the Grafana password, a service-account token, a kubeconfig bearer token);
* patterns that catch secrets nobody registered: ``Authorization:`` header values, ``Bearer …``,
  ``password=…``/``"password": "…"``, Grafana service-account tokens (``glsa_…``) and the password part
  of ``scheme://user:password@host`` URLs.

Every error message, report, JUnit property and log line goes through :func:`redact`.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

_LOCK = threading.Lock()
_SECRETS: set[str] = set()

# `Authorization: Basic abc`, `'Authorization': 'Bearer abc'`: keep the key, mask the value.
_AUTH_HEADER = re.compile(
    r"""(?P<key>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?P<value>[^"'\r\n,}]+)""",
    re.IGNORECASE,
)
# `Bearer <token>` / `Basic <base64>` wherever they appear.
_SCHEME_TOKEN = re.compile(r"(?P<key>\b(?:Bearer|Basic)\s+)(?P<value>[A-Za-z0-9._~+/=-]{4,})", re.IGNORECASE)
# `password=x`, `"admin-password": "x"`, `MC_GRAFANA_PASSWORD=x`, `api_key: x`, `token=x`
# (but not `X-Canary-Token: x`: canary tokens are evidence, not secrets).
_KEY_VALUE = re.compile(
    r"""(?P<key>(?:\b[\w-]*(?:password|passwd|secret|api[_-]?key)|(?<![\w-])(?:access_|auth_|id_|refresh_)?token)"""
    r"""["']?\s*[:=]\s*["']?)(?P<value>[^"'\s&,;}]+)""",
    re.IGNORECASE,
)
# Grafana service-account tokens.
_GLSA = re.compile(r"\bglsa_[A-Za-z0-9_]+")
# `https://user:password@host`: mask the password.
_URL_USERINFO = re.compile(
    r"(?P<key>\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?P<value>[^/\s@]+)(?=@)", re.IGNORECASE
)


# A URL's `scheme://userinfo@` or, without a scheme, `userinfo@`: everything up to the LAST `@` (a password
# may hold `/`, `?`, `#` or `@`; a base URL of the stack's services never has an `@` elsewhere).
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://|)[^\n]*@")


def mask_userinfo(url: str) -> str:
    """``url`` with its ``user:password@`` (or ``user@``) part replaced by ``***@``: ``http://***@host``."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", url)


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret: from now on :func:`redact` masks it (and its URL/base64 forms)."""
    if not value:
        return
    with _LOCK:
        _SECRETS.add(value)


def registered_secrets() -> frozenset[str]:
    """The secret values registered so far (for code that must pass them on, never for display)."""
    with _LOCK:
        return frozenset(_SECRETS)


def clear_secrets() -> None:
    """Forget every registered secret. For tests."""
    with _LOCK:
        _SECRETS.clear()


def _variants(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    forms.add(base64.b64encode(secret.encode()).decode())
    return {form for form in forms if form}


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``text`` with every known secret and every secret-looking value replaced by ``***``.

    ``secrets`` adds values for this call only; registered secrets are always masked.
    """
    if not text:
        return text
    values: set[str] = set()
    for secret in [*registered_secrets(), *secrets]:
        if secret:
            values |= _variants(secret)
    # Longest first, so a secret that contains another one is masked whole.
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = _AUTH_HEADER.sub(lambda m: m.group("key") + MASK, text)
    text = _SCHEME_TOKEN.sub(lambda m: m.group("key") + MASK, text)
    text = _KEY_VALUE.sub(lambda m: m.group("key") + MASK, text)
    text = _GLSA.sub("glsa_" + MASK, text)
    return _URL_USERINFO.sub(lambda m: m.group("key") + MASK, text)
