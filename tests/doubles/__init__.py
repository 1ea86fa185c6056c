"""Test doubles for the systems the suite talks to: `requests` transport adapters over recorded payloads.

Mount one on a session (or call ``double.endpoint(name=...)``) and hand the Endpoint to the client under
test. Every request is recorded in ``double.calls``. Never used outside tests.
"""

from tests.doubles.app import TodoAppDouble
from tests.doubles.grafana import (
    GrafanaDouble,
    empty_result,
    error_result,
    log_frames,
    recorded_result,
    series_frames,
)
from tests.doubles.loki import LogQLError, LogStream, LokiDouble, parse_logql
from tests.doubles.prometheus import PrometheusDouble, bad_data, vector
from tests.doubles.transport import (
    Call,
    FakeClock,
    RecordedTransport,
    Reply,
    connection_refused,
    payload,
    payload_text,
)

__all__ = [
    "Call",
    "FakeClock",
    "GrafanaDouble",
    "LogQLError",
    "LogStream",
    "LokiDouble",
    "PrometheusDouble",
    "RecordedTransport",
    "Reply",
    "TodoAppDouble",
    "bad_data",
    "connection_refused",
    "empty_result",
    "error_result",
    "log_frames",
    "parse_logql",
    "payload",
    "payload_text",
    "recorded_result",
    "series_frames",
    "vector",
]
