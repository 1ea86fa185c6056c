"""logs.todo_backend: a canary request's log line arrives in Loki under the backend's labels."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.loki import Loki, Stream, line_filter
from monitoring_conformance.checks.base import Poll, fail, label_set, request_line
from monitoring_conformance.errors import Unrecoverable
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.wait import Clock

#: Extra seconds after "now" in the query window, for clock skew between this machine and Loki.
SKEW_S = 60


class CanarySender(Protocol):
    """The Todo backend as the canary check uses it (api.app.TodoApp)."""

    endpoint: Endpoint

    def canary(self, token: str) -> int: ...


def label_mismatch(labels: Mapping[str, str], expected: Mapping[str, str]) -> dict[str, str]:
    """Expected labels the stream lacks or has with another value (``"*"``: present, any value)."""
    wrong = {}
    for name, want in expected.items():
        have = labels.get(name)
        if (want == "*" and not have) or (want != "*" and have != want):
            wrong[name] = want
    return wrong


def _expected_text(wrong: Mapping[str, str]) -> str:
    return ", ".join(f'{k}="{v}"' if v != "*" else f"{k} (any value)" for k, v in wrong.items())


def canary_arrives(
    loki: Loki,
    app: CanarySender,
    spec: Spec,
    record: Record,
    *,
    clock: Clock | None = None,
    wall: Callable[[], float] = time.time,
    token: str | None = None,
) -> float:
    """Send one canary request, poll Loki for its line; return the arrival seconds (an upper bound)."""
    token = token or f"mc-canary-{uuid.uuid4().hex}"
    selector, fallback = spec.text("selector"), spec.text("fallback_selector")
    expected = spec.mapping("labels")
    threshold = float(spec.threshold or spec.timeout)
    record.threshold = threshold
    start_ns = int((wall() - spec.number("lookback")) * 1e9)
    seen: dict[str, Any] = {"token": token, "query": f"{selector} {line_filter(token)}"}
    sent_at = wall()
    try:
        seen["canary_status"] = app.canary(token)
    except Exception as exc:
        raise fail(
            record,
            "the canary request could not be sent",
            str(exc),
            request=request_line(app.endpoint),
            look_next="the Todo backend (app.unchanged)",
        ) from None

    def probe() -> float:
        end_ns = int((wall() + SKEW_S) * 1e9)
        streams = loki.lines_containing(token, selector=selector, start_ns=start_ns, end_ns=end_ns)
        found = [s for s in streams if any(token in line for line in s.lines)]
        arrived = wall()
        if found:
            seen["streams"] = [s.describe() for s in found]
            seen["line"] = found[0].lines[0]
            good = [s for s in found if not label_mismatch(s.labels, expected)]
            if not good:
                _wrong_labels(found[0], expected)
            return arrived - sent_at
        others = loki.lines_containing(token, selector=fallback, start_ns=start_ns, end_ns=end_ns)
        elsewhere = [s for s in others if any(token in line for line in s.lines)]
        seen["returned"] = f"{len(streams)} streams for {selector}, {len(others)} for {fallback}"
        if elsewhere:
            seen["streams"] = [s.describe() for s in elsewhere]
            matching = [s for s in elsewhere if not label_mismatch(s.labels, expected)]
            if not matching:
                _wrong_labels(elsewhere[0], expected)
            # the line landed between the two queries (or the selector is narrower than the labels): the
            # next poll's main query decides, never this fallback hit
            raise AssertionError(
                f"line with {token} found under {fallback} with the expected labels"
                f" {label_set(matching[0].labels)}, not yet under {selector}:"
                f" Loki returned {seen['returned']}"
            )
        raise AssertionError(f"no line with {token} yet: Loki returned {seen['returned']}")

    poll = Poll(record, spec, clock=clock, endpoints=(loki.endpoint, app.endpoint))
    try:
        arrival = poll.until(
            probe,
            what=f"canary line {token} under {selector}",
            look_next=lambda: _loki_hint(loki, selector, start_ns, wall),
        )
    finally:
        request = f"GET /loki/api/v1/query_range?query={seen['query']} ({loki.endpoint.describe()})"
        record.add_evidence(request, seen)
    record.measured = round(arrival, 3)
    if arrival > threshold:
        raise fail(
            record,
            f"the canary line arrived after {arrival:.1f}s, more than {threshold:g}s",
            f"line: {seen.get('line')}",
            request=request_line(loki.endpoint),
            look_next="Alloy's log (batching, backoff) and Loki's ingester",
        )
    record.message = f"canary arrived after at most {arrival:.1f}s under {seen['streams'][0]}"
    return arrival


def _wrong_labels(stream: Stream, expected: Mapping[str, str]) -> None:
    wrong = label_mismatch(stream.labels, expected)
    raise Unrecoverable(
        f"canary arrived, but under labels {label_set(stream.labels)}; expected {_expected_text(wrong)}"
    )


def _loki_hint(loki: Loki, selector: str, start_ns: int, wall: Callable[[], float]) -> str:
    end_ns = int((wall() + SKEW_S) * 1e9)
    labels = loki.labels(start_ns=start_ns, end_ns=end_ns)
    series = loki.series(selector, start_ns=start_ns, end_ns=end_ns)
    return (
        f"Loki has labels {labels[:15]} and {len(series)} streams under {selector} in the window;"
        " is Alloy shipping the backend's logs (Alloy's log, its loki.write errors)?"
    )
