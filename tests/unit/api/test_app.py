"""TodoApp client over TodoAppDouble: health, the round-trip and where it breaks, traffic, canaries."""

from __future__ import annotations

import pytest
from tests.doubles import TodoAppDouble, connection_refused

from monitoring_conformance.api.app import (
    CANARY_HEADER,
    MAX_TRAFFIC,
    TodoApp,
    Traffic,
    parse_start_time,
    posts_for,
)
from monitoring_conformance.errors import EndpointError
from monitoring_conformance.redact import register_secret

pytestmark = pytest.mark.unit


def client(double: TodoAppDouble) -> TodoApp:
    return TodoApp(double.endpoint(name="Todo backend"))


def test_health() -> None:
    assert client(TodoAppDouble()).health() == {"status": "ok"}


def test_unhealthy_answer_is_an_endpoint_error() -> None:
    with pytest.raises(EndpointError, match=r"/healthz -> 503"):
        client(TodoAppDouble(broken={"health": 503})).health()


def test_wrong_port_hint() -> None:
    double = TodoAppDouble(status_overrides={"/healthz": 404})
    with pytest.raises(EndpointError, match=r"is --app-url the Todo backend's HTTP port"):
        client(double).health()


def test_roundtrip_evidence() -> None:
    double = TodoAppDouble()
    evidence = client(double).roundtrip("mc-user")
    task = evidence["task_id"]
    assert evidence["user_id"] == "mc-user"
    assert evidence["steps"] == [
        "POST /api/mc-user/tasks -> 201",
        f"GET /api/mc-user/tasks/{task} -> 200",
        "GET /api/mc-user/tasks -> 200",
        f"DELETE /api/mc-user/tasks/{task} -> 204",
        f"GET /api/mc-user/tasks/{task} -> 404",
    ]
    assert double.tasks["mc-user"] == {}


@pytest.mark.parametrize(
    ("double", "step"),
    [
        (TodoAppDouble(broken={"create": 500}), "create"),
        (TodoAppDouble(broken={"read": 500}), "read back"),
        (TodoAppDouble(broken={"list": 502}), "list"),
        (TodoAppDouble(hide_from_list=True), "list"),
        (TodoAppDouble(broken={"delete": 405}), "delete"),
        (TodoAppDouble(forget_deletes=True), "read after delete"),
    ],
)
def test_roundtrip_names_the_first_failing_step(double: TodoAppDouble, step: str) -> None:
    with pytest.raises(AssertionError, match=f"Todo round-trip failed at step '{step}'"):
        client(double).roundtrip("mc-user")


def test_roundtrip_failure_message_shows_status_and_expectation() -> None:
    with pytest.raises(AssertionError) as caught:
        client(TodoAppDouble(forget_deletes=True)).roundtrip("u")
    assert "-> 200, expected 404" in str(caught.value)


def test_roundtrip_failure_is_redacted() -> None:
    register_secret("Sup3r-S3cret")
    double = TodoAppDouble()
    double.route("POST", r"/api/[^/]+/tasks", lambda c, m: {"detail": "db password Sup3r-S3cret"}, first=True)
    with pytest.raises(AssertionError) as caught:
        client(double).roundtrip("u")
    assert "Sup3r-S3cret" not in str(caught.value)


def test_traffic_spreads_over_list_create_and_health() -> None:
    double = TodoAppDouble()
    done = client(double).traffic(9)
    assert done == Traffic(answered=9, posts=3, posts_ok=3, error="")
    kinds = [(c.method, c.path) for c in double.calls]
    assert kinds.count(("GET", "/api/mc-traffic/tasks")) == 3
    assert kinds.count(("POST", "/api/mc-traffic/tasks")) == 3
    assert kinds.count(("GET", "/healthz")) == 3


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 20, 21])
def test_posts_for_matches_what_traffic_sends(n: int) -> None:
    double = TodoAppDouble()
    client(double).traffic(n)
    assert posts_for(n) == sum(1 for c in double.calls if c.method == "POST")


def test_traffic_counts_answers_whatever_their_status_but_acknowledges_only_2xx() -> None:
    done = client(TodoAppDouble(broken={"create": 500})).traffic(4)
    assert (done.answered, done.posts, done.posts_ok) == (4, 1, 0)
    assert done.describe() == "4 requests answered, 0 of 1 POSTs acknowledged (2xx), 1 answered 5xx"


@pytest.mark.parametrize("n", [-1, MAX_TRAFFIC + 1])
def test_traffic_is_bounded(n: int) -> None:
    double = TodoAppDouble()
    with pytest.raises(ValueError, match="traffic"):
        client(double).traffic(n)
    assert double.calls == []


def test_traffic_stops_after_three_transport_failures_in_a_row_and_keeps_the_error() -> None:
    double = TodoAppDouble(fail_all=connection_refused())
    done = client(double).traffic(9)
    assert (done.answered, done.posts, done.posts_ok, done.failed) == (0, 1, 0, 3)
    assert "connection refused" in done.error
    assert len(double.calls) == 3
    assert done.describe().endswith(f"; traffic failed: {done.error}")


def test_traffic_totals_add_up_over_bursts() -> None:
    total = Traffic()
    total.add(Traffic(answered=9, posts=3, posts_ok=3))
    total.add(Traffic(answered=1, posts=1, posts_ok=0, error="refused"))
    assert total == Traffic(answered=10, posts=4, posts_ok=3, error="refused")


def test_canary_sends_the_header_and_returns_the_status() -> None:
    double = TodoAppDouble()
    assert client(double).canary("mc-51c0") == 200
    assert double.canaries == ["mc-51c0"]
    assert double.calls[0].header(CANARY_HEADER) == "mc-51c0"


def test_canary_returns_error_statuses_too() -> None:
    assert client(TodoAppDouble(broken={"list": 500})).canary("mc-1") == 500


def test_process_start_time() -> None:
    assert client(TodoAppDouble()).process_start_time() == pytest.approx(1794999612.45)


def test_process_start_time_absent() -> None:
    assert client(TodoAppDouble(metrics="# no process collector\nup 1\n")).process_start_time() is None


def test_process_start_time_without_metrics_endpoint() -> None:
    assert client(TodoAppDouble(broken={"metrics": 404})).process_start_time() is None


def test_process_start_time_server_error_propagates() -> None:
    with pytest.raises(EndpointError, match="500"):
        client(TodoAppDouble(broken={"metrics": 500})).process_start_time()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("process_start_time_seconds 1.7e+09\n", 1.7e9),
        ('process_start_time_seconds{pid="1"} 12.5\n', 12.5),
        ("# HELP process_start_time_seconds x\nprocess_start_time_seconds_other 3\n", None),
        ("process_start_time_seconds NaNx\n", None),
    ],
)
def test_parse_start_time(text: str, expected: float | None) -> None:
    assert parse_start_time(text) == expected
