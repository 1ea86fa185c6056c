"""redact(): registered secrets and secret-looking values never survive into text we show."""

from __future__ import annotations

import base64

import pytest

from monitoring_conformance.redact import MASK, mask_userinfo, redact, register_secret

pytestmark = pytest.mark.unit


def test_registered_secret_is_masked_everywhere() -> None:
    register_secret("s3cr3t-Pa55")
    text = redact("login with s3cr3t-Pa55 failed; retry s3cr3t-Pa55")
    assert "s3cr3t-Pa55" not in text
    assert text.count(MASK) == 2


def test_url_encoded_and_base64_forms_of_a_secret_are_masked() -> None:
    register_secret("p@ss word")
    encoded = base64.b64encode(b"p@ss word").decode()
    text = redact(f"url=http://x/?p=p%40ss%20word&q=p%40ss+word blob={encoded}")
    assert "p%40ss" not in text
    assert encoded not in text


def test_secret_passed_for_one_call_is_masked_but_not_remembered() -> None:
    assert "hunter22" not in redact("pw hunter22", ["hunter22"])
    assert redact("pw hunter22") == "pw hunter22"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Basic YWRtaW46c2VjcmV0", "YWRtaW46c2VjcmV0"),
        ("{'Authorization': 'Bearer eyJhbGciOi.abc.def'}", "eyJhbGciOi"),
        ("header Bearer abcdef0123456789", "abcdef0123456789"),
        ("password=topsecret&user=admin", "topsecret"),
        ('{"admin-password": "Zx81-secret"}', "Zx81-secret"),
        ("MC_GRAFANA_PASSWORD=letmein1", "letmein1"),
        ("token: abcd1234efgh", "abcd1234efgh"),
        ("key glsa_AbCdEf0123456789_deadbeef in use", "AbCdEf0123456789"),
        ("GET https://admin:pa55w0rd@grafana.test/api/search", "pa55w0rd"),
    ],
)
def test_secret_looking_values_are_masked(text: str, leak: str) -> None:
    assert leak not in redact(text)


def test_ordinary_text_is_left_alone() -> None:
    text = "GET /api/v1/query?query=up -> 200 (Prometheus at http://127.0.0.1:9090, direct)"
    assert redact(text) == text


def test_canary_tokens_are_evidence_not_secrets() -> None:
    assert redact("X-Canary-Token: mc-7f3a91") == "X-Canary-Token: mc-7f3a91"


def test_credentials_hint_wording_survives() -> None:
    text = "check MC_GRAFANA_USER/MC_GRAFANA_PASSWORD or the grafana Secret"
    assert redact(text) == text


def test_empty_secret_is_ignored() -> None:
    register_secret("")
    register_secret(None)
    assert redact("nothing to hide") == "nothing to hide"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://admin:pw@host:3000/x", "http://***@host:3000/x"),
        ("https://user@host", "https://***@host"),
        ("admin:pw@host:3000", "***@host:3000"),
        ("http://a:p/w@d@host", "http://***@host"),
        ("http://host:3000/path", "http://host:3000/path"),
    ],
)
def test_mask_userinfo_hides_the_whole_userinfo(url: str, masked: str) -> None:
    assert mask_userinfo(url) == masked
