"""app.unchanged under its budget: every request to the app has its timeout capped by what is left.

The double below models a backend that takes ``delay`` seconds per /api/ request (the fixture's
TODO_API_DELAY_S): on a fake clock, a request whose read timeout is shorter than the delay times out after
that timeout (``requests.ReadTimeout``, as urllib3 raises it), a longer one is answered after the delay.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from tests.doubles import FakeClock, TodoAppDouble
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance import wait
from monitoring_conformance.api.app import RoundTripError, TodoApp
from monitoring_conformance.checks import app as checks
from monitoring_conformance.checks.base import CheckFailed
from monitoring_conformance.profile import Spec

pytestmark = pytest.mark.unit


class SlowTodoAppDouble(TodoAppDouble):
    """TodoAppDouble whose /api/ answers take ``delay`` seconds of ``clock`` (the real app's sleep)."""

    def __init__(self, clock: FakeClock, delay: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fake = clock
        self.delay = delay

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        read = timeout[1] if isinstance(timeout, tuple) else timeout
        if "/api/" in (request.url or ""):
            if read is not None and read < self.delay:
                self.calls.append(self._call(request, timeout))
                self.fake.advance(read)
                raise requests.ReadTimeout(f"read timed out (read timeout={read})")
            self.fake.advance(self.delay)
        return super().send(request, stream, timeout, verify, cert, proxies)


@pytest.fixture(autouse=True)
def _unit_scale() -> Iterator[None]:
    scale = wait.CONFIG.scale
    wait.CONFIG.scale = 1.0
    yield
    wait.CONFIG.scale = scale


def spec(timeout: float) -> Spec:
    return make_spec("app.unchanged", timeout=timeout, threshold=0, user_id="conformance",
                     restarts={"mode": "process", "query": "process_start_time_seconds"})


def run(double: SlowTodoAppDouble, timeout: float) -> int | None:
    app = TodoApp(double.endpoint(name="Todo backend", timeout=10.0))
    baseline = checks.take_baseline(None, app, spec(timeout))
    return checks.unchanged(None, app, spec(timeout), make_record("app.unchanged"), baseline=baseline,
                            clock=double.fake.clock)


def test_a_round_trip_slower_than_the_budget_fails_within_it_naming_the_step_and_the_cap() -> None:
    clock = FakeClock()
    double = SlowTodoAppDouble(clock, delay=2.5)
    start = clock.now()

    with pytest.raises(CheckFailed) as failed:
        run(double, timeout=4.5)

    assert clock.now() - start <= 4.5 + 0.05  # the smallest cap a request gets (api.http)
    message = str(failed.value)
    assert message.startswith("app.unchanged FAILED after 4.5s (1 attempts)"), message
    assert "at step 'read back': GET http://todo-backend.test/api/conformance/tasks/1 -> no answer within" \
        " 2s (read timeout)" in message
    assert "its timeout was capped at 2.00s, what was left of the budget" in message
    assert "cannot answer its round trip within the budget" in message


def test_every_request_of_the_check_has_its_timeout_capped_by_what_is_left() -> None:
    clock = FakeClock()
    double = SlowTodoAppDouble(clock, delay=2.5)

    with pytest.raises(CheckFailed):
        run(double, timeout=6.0)

    api = [(c.method, c.timeout) for c in double.calls if c.path.startswith("/api/")]
    assert api == [("POST", (6.0, 6.0)), ("GET", (3.5, 3.5)), ("GET", (1.0, 1.0))]
    health = [c.timeout for c in double.calls if c.path == "/healthz"]
    assert health == [(6.0, 6.0)]


def test_a_round_trip_that_fits_the_budget_passes() -> None:
    clock = FakeClock()
    double = SlowTodoAppDouble(clock, delay=0.5)

    assert run(double, timeout=4.5) == 0
    assert double.tasks["conformance"] == {}


def test_a_step_that_finds_no_budget_left_is_named_without_a_request() -> None:
    clock = FakeClock()
    double = SlowTodoAppDouble(clock, delay=1.0)
    left = iter([5.0, 5.0, 0.0])
    app = TodoApp(double.endpoint(name="Todo backend"))

    with pytest.raises(RoundTripError) as failed:
        app.roundtrip("conformance", time_left=lambda: next(left))

    assert str(failed.value) == (
        "Todo round-trip failed at step 'list': the budget ran out before GET /api/conformance/tasks"
        " (steps done: POST /api/conformance/tasks -> 201; GET /api/conformance/tasks/1 -> 200): the app"
        " cannot answer its round trip within the budget"
    )
    assert [c.method for c in double.calls] == ["POST", "GET"]


def test_a_timeout_the_budget_did_not_cap_is_not_called_capped() -> None:
    clock = FakeClock()
    double = SlowTodoAppDouble(clock, delay=3.0)
    app = TodoApp(double.endpoint(name="Todo backend", timeout=2.0))

    with pytest.raises(RoundTripError) as failed:
        app.roundtrip("conformance", time_left=lambda: 30.0)

    assert "step 'create'" in str(failed.value)
    assert "no answer within 2s (read timeout)" in str(failed.value)
    assert "capped" not in str(failed.value)
