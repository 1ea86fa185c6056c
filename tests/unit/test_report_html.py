"""acceptance.html from report dicts: escaping, secrets, missing data, NaN, empty series, failing
requirements, the alert timeline, the canary line and the timings; each with the case that must
look different."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from monitoring_conformance import report as reports
from monitoring_conformance import report_html, svgplot
from monitoring_conformance.redact import register_secret
from monitoring_conformance.requirement import Record

pytestmark = pytest.mark.unit

T0 = 1_764_950_400.0


def requirement(rid: str = "metrics.cpu", status: str = "pass", **extra: Any) -> dict[str, Any]:
    item = {
        "id": rid,
        "title": "CPU series exist",
        "status": status,
        "measured": 2,
        "unit": "series",
        "threshold": 1,
        "evidence": [],
        "message": "series per query: node_cpu 2",
    }
    item.update(extra)
    return item


def report(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "verdict": "pass",
        "strict": True,
        "target": "urls",
        "profile": "host",
        "started_at": "2026-12-05T16:00:00Z",
        "duration_s": 12.5,
        "versions": {"prometheus": "2.42.0"},
        "timings": {"open": 0.5, "checks": 9.25},
        "summary": {"pass": len(items)},
        "requirements": list(items),
        "diagnostics": {},
    }
    base.update(extra)
    return base


def plotted(points: list[list[Any]], rid: str = "metrics.cpu") -> dict[str, Any]:
    return {
        "start": T0,
        "end": T0 + 60,
        "step": 1.0,
        "notes": [],
        "requirements": {
            rid: [
                {
                    "name": "node_cpu",
                    "query": 'node_cpu_seconds_total{job="node"}',
                    "series": [{"metric": {"cpu": "0", "mode": "idle"}, "points": points}],
                }
            ]
        },
    }


def polylines(page: str) -> list[str]:
    return re.findall(r'<polyline points="([^"]*)"', page)


def test_verdict_comes_first_and_each_requirement_has_a_card() -> None:
    page = report_html.render(report(requirement(), requirement("logs.todo_backend")))
    assert (
        page.index("Verdict: PASS")
        < page.index('id="req-metrics.cpu"')
        < page.index('id="req-logs.todo_backend"')
    )
    assert "measured <b>2 series</b> · threshold <b>1</b> series" in page


def test_a_failing_requirement_shows_as_failing() -> None:
    page = report_html.render(report(requirement(status="fail", message="no series"), verdict="fail"))
    assert 'class="verdict fail"' in page
    assert 'data-status="fail"' in page
    assert '<span class="badge fail">fail</span>' in page
    passing = report_html.render(report(requirement()))
    assert 'class="verdict pass"' in passing
    assert 'data-status="fail"' not in passing


def test_text_from_the_report_is_escaped() -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    page = report_html.render(
        report(
            requirement(
                message=hostile,
                title=hostile,
                evidence=[{"request": f"GET /q?query={hostile}", "response": hostile}],
            ),
            target=hostile,
        )
    )
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_an_id_cannot_break_out_of_its_attribute() -> None:
    page = report_html.render(report(requirement(rid='x" onload="y')))
    assert 'id="req-x&quot; onload=&quot;y"' in page
    assert 'onload="y"' not in page


def test_secrets_never_reach_the_page() -> None:
    register_secret("s3cr3t-grafana-pw")
    item = requirement(
        message="login with s3cr3t-grafana-pw failed; Authorization: Bearer abcdef123456",
        evidence=[{"request": "GET http://admin:hunter2@grafana/api/search", "response": "{}"}],
    )
    page = report_html.render(report(item, diagnostics={"grafana": "password=topsecret"}, verdict="fail"))
    for secret in ("s3cr3t-grafana-pw", "abcdef123456", "hunter2", "topsecret"):
        assert secret not in page
    assert "***" in page


def test_a_metric_plot_has_one_point_per_sample() -> None:
    page = report_html.render(
        report(requirement(), series=plotted([[T0, 1.0], [T0 + 30, 2.0], [T0 + 60, 4.0]]))
    )
    [line] = polylines(page)
    assert len(line.split()) == 3
    assert 'data-points="3"' in page
    assert "node_cpu_seconds_total{job=&quot;node&quot;}" in page


def test_nan_and_missing_values_break_the_line_instead_of_reaching_svg() -> None:
    points = [
        [T0, 1.0],
        [T0 + 10, 2.0],
        [T0 + 20, None],
        [T0 + 30, float("nan")],
        [T0 + 40, 3.0],
        [T0 + 50, 4.0],
    ]
    page = report_html.render(report(requirement(), series=plotted(points)))
    lines = polylines(page)
    assert [len(line.split()) for line in lines] == [2, 2]
    assert "nan" not in " ".join(lines).lower()
    assert 'data-points="4"' in page


def test_an_empty_series_says_so() -> None:
    page = report_html.render(report(requirement(), series=plotted([])))
    assert "no data points" in page
    assert polylines(page) == []
    assert "no data points" not in report_html.render(
        report(requirement(), series=plotted([[T0, 1], [T0 + 5, 2]]))
    )


def test_missing_series_and_timings_give_a_page_without_plots() -> None:
    page = report_html.render(report(requirement(), timings={}))
    assert "<svg" not in page
    assert 'id="req-metrics.cpu"' in page


def test_plot_notes_are_shown() -> None:
    series = plotted([[T0, 1.0]]) | {"notes": ["metrics.cpu node_cpu: query_range failed: timeout"]}
    page = report_html.render(report(requirement(), series=series))
    assert "query_range failed: timeout" in page
    assert 'id="plot-notes"' not in report_html.render(report(requirement(), series=plotted([[T0, 1.0]])))


def test_the_alert_timeline_is_drawn_from_the_evidence() -> None:
    timeline = [
        {"t": T0, "source": "prometheus", "state": "inactive"},
        {"t": T0 + 5, "source": "prometheus", "state": "pending"},
        {"t": T0 + 35, "source": "prometheus", "state": "firing"},
        {"t": T0 + 41, "source": "alertmanager", "state": "firing"},
    ]
    item = requirement(
        "alerts.fire",
        measured=41.0,
        unit="s",
        threshold=60,
        evidence=[{"request": "GET /api/v1/alerts", "response": "[]", "timeline": timeline}],
    )
    page = report_html.render(report(item))
    states = re.findall(r'<rect class="state" data-state="(\w+)"', page)
    assert states == [
        "firing",
        "inactive",
        "pending",
        "firing",
    ]  # alertmanager lane first (sorted), then prometheus
    assert "Alert: pending to firing" in page
    without = report_html.render(
        report(requirement("alerts.fire", evidence=[{"request": "r", "response": "{}"}]))
    )
    assert 'class="state"' not in without


def test_a_timeline_with_no_usable_times_says_so() -> None:
    events = [{"t": float("nan"), "source": "prometheus", "state": "firing"}, "firing"]
    svg = svgplot.timeline(events, "alert")  # type: ignore[list-item]
    assert "no timeline" in svg
    assert "<rect" not in svg


def test_the_canary_line_is_shown_with_its_labels_and_latency() -> None:
    seen = {
        "token": "mc-canary-1",
        "query": '{app="todo"} |= "mc-canary-1"',
        "line": "GET /canary mc-canary-1 <b>",
        "streams": ['{app="todo-backend", namespace="todo"}'],
    }
    item = requirement(
        "logs.todo_backend",
        measured=3.2,
        unit="s",
        threshold=30,
        evidence=[{"request": "GET /loki/api/v1/query_range", "response": json.dumps(seen)}],
    )
    page = report_html.render(report(item))
    assert '<pre class="canary-line">GET /canary mc-canary-1 &lt;b&gt;</pre>' in page
    assert "{app=&quot;todo-backend&quot;, namespace=&quot;todo&quot;}" in page
    assert "latency 3.2 s" in page
    cut = requirement(
        "logs.todo_backend", evidence=[{"request": "r", "response": '{"token": "x", "li… (900 chars)'}]
    )
    assert "the canary line was not returned" in report_html.render(report(cut))


def test_timings_are_bars_and_a_bad_value_gets_none() -> None:
    page = report_html.render(
        report(requirement(), timings={"open": 0.5, "checks": 9.25, "broken": float("nan")})
    )
    widths = [float(w) for w in re.findall(r'<rect class="bar" x="\d+" y="\d+" width="([\d.]+)"', page)]
    assert len(widths) == 2
    assert widths[0] < widths[1]
    assert "not measured" in page


def test_page_needs_nothing_from_the_network() -> None:
    page = report_html.render(report(requirement(), series=plotted([[T0, 1.0], [T0 + 1, 2.0]])))
    assert re.findall(r'(?:src|href)="(?!#)', page) == []
    assert "@import" not in page
    assert "<script" not in page
    assert f'content="{report_html.CSP}"' in page


def test_report_write_puts_the_page_next_to_json_and_markdown(tmp_path: Path) -> None:
    record = Record("metrics.cpu", "CPU series exist", unit="series", threshold=1)
    record.measured = 2
    record.add_case("metrics.cpu", "pass")
    built = reports.build(
        [record],
        strict=True,
        target="urls",
        profile="host",
        started=T0,
        duration_s=1.0,
        series=plotted([[T0, 1.0], [T0 + 1, float("nan")]]),
    )
    assert list(built) == list(reports.KEYS)
    assert built["series"]["requirements"]["metrics.cpu"][0]["series"][0]["points"][1] == [T0 + 1, None]
    reports.write(built, tmp_path)
    page = (tmp_path / report_html.HTML_NAME).read_text()
    assert 'id="req-metrics.cpu"' in page
    rebuilt = report_html.from_json(tmp_path / reports.JSON_NAME, tmp_path / "again")
    assert rebuilt.read_text() == page


@pytest.mark.parametrize(
    ("value", "shown"), [(1500.0, "1.5k"), (2.5e9, "2.5G"), (0.05, "0.05"), (-3e6, "-3M")]
)
def test_axis_labels_are_short(value: float, shown: str) -> None:
    assert svgplot.short(value) == shown
