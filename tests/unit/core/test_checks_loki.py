"""logs.todo_backend against LokiDouble and TodoAppDouble, with a shipper double standing in for Alloy."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from tests.doubles import FakeClock, LokiDouble, TodoAppDouble, connection_refused
from tests.unit.core.helpers import make_record, make_spec

from monitoring_conformance.api.app import TodoApp
from monitoring_conformance.api.loki import Loki
from monitoring_conformance.checks import loki as checks
from monitoring_conformance.checks.base import CheckFailed
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import Clock

pytestmark = pytest.mark.unit

GOOD = {
    "namespace": "todo",
    "app": "todo-backend",
    "container": "todo-backend",
    "pod": "todo-backend-7d9f-x2",
}
SPEC = make_spec(
    "logs.todo_backend",
    timeout=60,
    threshold=30,
    lookback=300,
    selector='{namespace="todo", app="todo-backend"}',
    fallback_selector='{namespace="todo"}',
    labels={"namespace": "todo", "app": "todo-backend", "container": "todo-backend", "pod": "*"},
)


class ShipperDouble:
    """Alloy, faked: ``delay`` seconds after the app double saw a canary, its log line lands in Loki."""

    def __init__(
        self, app: TodoAppDouble, loki: LokiDouble, fake: FakeClock, labels: Mapping[str, str], delay: float
    ) -> None:
        self.app, self.loki, self.fake = app, loki, fake
        self.labels = dict(labels)
        self.delay = delay
        self.seen: dict[str, float] = {}
        self.shipped: set[str] = set()

    def elapse(self, seconds: float) -> None:
        for token in self.app.canaries:
            self.seen.setdefault(token, self.fake.now())
        self.fake.elapse(seconds)
        for token, at in self.seen.items():
            if token not in self.shipped and self.fake.now() >= at + self.delay:
                line = json.dumps({"level": "info", "path": "/api/mc-canary/tasks", "canary": token})
                self.loki.push(self.labels, line, int(self.fake.now() * 1e9))
                self.shipped.add(token)

    @property
    def clock(self) -> Clock:
        return Clock(now=self.fake.now, sleep=self.elapse)


def run(
    fake: FakeClock,
    *,
    labels: Mapping[str, str] = GOOD,
    delay: float = 3.0,
    app: TodoAppDouble | None = None,
    spec: object = SPEC,
) -> tuple[float, Record, LokiDouble]:
    app_double = app or TodoAppDouble()
    loki_double = LokiDouble()
    shipper = ShipperDouble(app_double, loki_double, fake, labels, delay)
    record = make_record("logs.todo_backend")
    arrival = checks.canary_arrives(
        Loki(loki_double.endpoint(name="Loki")), TodoApp(app_double.endpoint(name="Todo backend")),
        spec, record, clock=shipper.clock, wall=fake.now, token="mc-canary-42",  # type: ignore[arg-type]
    )  # fmt: skip
    return arrival, record, loki_double


def test_canary_arrives_under_the_backend_labels(fake_clock: FakeClock) -> None:
    arrival, record, loki = run(fake_clock)

    assert arrival == pytest.approx(3.0)
    assert record.measured == pytest.approx(3.0)
    assert record.threshold == 30
    assert loki.queries[0] == '{namespace="todo", app="todo-backend"} |= `mc-canary-42`'
    assert "canary arrived after at most 3.0s" in record.message
    evidence = json.loads(record.evidence[0]["response"])
    assert json.loads(evidence["line"])["canary"] == "mc-canary-42"
    assert evidence["canary_status"] == 200


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({**GOOD, "app": "todo"}, 'expected app="todo-backend"'),
        ({k: v for k, v in GOOD.items() if k != "pod"}, "expected pod (any value)"),
    ],
    ids=["wrong-app-label", "no-pod-label"],
)
def test_canary_under_wrong_labels_fails_at_once_saying_so(
    fake_clock: FakeClock, labels: dict[str, str], expected: str
) -> None:
    with pytest.raises(CheckFailed) as caught:
        run(fake_clock, labels=labels)

    message = str(caught.value)
    assert "FAILED at once" in message
    assert "canary arrived, but under labels {" in message
    assert expected in message
    assert fake_clock.now() < 1000 + 10  # it did not wait out the budget


def test_canary_that_never_arrives_times_out_with_what_loki_returned(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed) as caught:
        run(fake_clock, delay=10**6)

    message = str(caught.value)
    assert message.startswith("logs.todo_backend FAILED after 60.0s (121 attempts): canary line mc-canary-42")
    assert (
        'Loki returned 0 streams for {namespace="todo", app="todo-backend"}, 0 for {namespace="todo"}'
        in message
    )
    assert "look next: Loki has labels [" in message
    assert "streams under" in message


def test_canary_later_than_the_threshold_fails_with_the_figure(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed, match=r"arrived after 40\.0s, more than 30s"):
        run(fake_clock, delay=40)


def test_canary_request_that_cannot_be_sent_fails(fake_clock: FakeClock) -> None:
    with pytest.raises(CheckFailed, match=r"(?s)the canary request could not be sent.*connection refused"):
        run(fake_clock, app=TodoAppDouble(fail_all=connection_refused()))


def test_label_mismatch() -> None:
    expected = {"app": "todo-backend", "pod": "*"}

    assert checks.label_mismatch({"app": "todo-backend", "pod": "p"}, expected) == {}
    assert checks.label_mismatch({"app": "x", "pod": ""}, expected) == expected


def _racing(fake: FakeClock, labels: Mapping[str, str], spec: object = SPEC) -> tuple[Record, LokiDouble]:
    """The line lands right after the first main-selector query, so only the fallback query sees it."""
    loki_double = LokiDouble()
    main = SPEC.text("selector")
    landed: list[str] = []

    def land_after_main(query: str) -> None:
        if query.startswith(main) and not landed:
            landed.append(query)
            line = json.dumps({"level": "info", "path": "/api/mc-canary/tasks", "canary": "mc-canary-42"})
            loki_double.push(labels, line, int(fake.now() * 1e9))

    loki_double.after_query = land_after_main
    record = make_record("logs.todo_backend")
    checks.canary_arrives(
        Loki(loki_double.endpoint(name="Loki")), TodoApp(TodoAppDouble().endpoint(name="Todo backend")),
        spec, record, clock=fake.clock, wall=fake.now, token="mc-canary-42",  # type: ignore[arg-type]
    )  # fmt: skip
    return record, loki_double


def test_a_line_landing_between_the_main_and_the_fallback_query_passes(fake_clock: FakeClock) -> None:
    # before the fix: "canary arrived, but under labels {...}; expected " (nothing), FAILED at once
    record, loki = _racing(fake_clock, GOOD)

    assert "canary arrived after at most" in record.message
    main = [q for q in loki.queries if q.startswith(SPEC.text("selector"))]
    assert len(main) == 2  # the first missed the line, the second (next poll) found it


def test_a_racing_line_under_wrong_labels_still_fails_at_once(fake_clock: FakeClock) -> None:
    wrong = r'canary arrived, but under labels \{.*\}; expected app="todo-backend"'
    with pytest.raises(CheckFailed, match=wrong):
        _racing(fake_clock, {**GOOD, "app": "todo"})


def test_a_fallback_hit_with_matching_labels_never_ends_the_wait(fake_clock: FakeClock) -> None:
    # the main selector asks for a label the expected set does not: the line is never under it
    narrow = make_spec("logs.todo_backend", timeout=10, threshold=30, lookback=300,
                       selector='{namespace="todo", app="todo-backend", stream="stderr"}',
                       fallback_selector='{namespace="todo"}', labels=SPEC.mapping("labels"))  # fmt: skip
    with pytest.raises(CheckFailed) as caught:
        run(fake_clock, spec=narrow)
    message = str(caught.value)
    assert message.startswith("logs.todo_backend FAILED after 10.0s")
    assert 'found under {namespace="todo"} with the expected labels {' in message
    assert 'not yet under {namespace="todo", app="todo-backend", stream="stderr"}' in message
