"""acceptance.html from a real run against the local stack, opened in headless Chromium (Debian's).

The screenshot, the PDF and the page itself are kept under reports/acceptance-html/ as test artifacts.
The checker (tests/live/browser.py) is tested here too, on pages broken on purpose.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from monitoring_conformance import report_html
from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.errors import EndpointError, ToolError
from monitoring_conformance.localstack import LocalStack
from monitoring_conformance.tools.runner import find_tool
from tests import REPO_ROOT
from tests.live import browser
from tests.live.live_support import FIGURES, SuiteRun, SuiteRunner

pytestmark = pytest.mark.live

ARTIFACTS = REPO_ROOT / "reports" / "acceptance-html"


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return find_tool("chromium", fix=browser.FIX)
    except ToolError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def html_run(suite: SuiteRunner, healthy_stack: LocalStack, chromium: str) -> SuiteRun:
    return suite.run("html", prometheus_url=healthy_stack.prometheus_url, app_url=healthy_stack.app_url)


@pytest.fixture(scope="module")
def page(html_run: SuiteRun) -> Path:
    path = html_run.report_dir / report_html.HTML_NAME
    assert path.is_file(), html_run.describe()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / report_html.HTML_NAME)
    FIGURES["acceptance.html size (bytes)"] = path.stat().st_size
    return path


def test_page_renders_in_chromium_without_console_messages(page: Path, tmp_path: Path) -> None:
    rendered = browser.load(page, tmp_path)
    FIGURES["chromium load + dump of acceptance.html (s)"] = round(rendered.seconds, 2)
    assert browser.problems(rendered, card="metrics.cpu") == []
    assert 'id="req-metrics.request_rate"' in rendered.dom
    assert "Verdict: PASS" in rendered.dom


def test_screenshot_and_pdf_are_kept(page: Path, tmp_path: Path) -> None:
    png, pdf = ARTIFACTS / "acceptance.png", ARTIFACTS / "acceptance.pdf"
    png.unlink(missing_ok=True)
    pdf.unlink(missing_ok=True)
    FIGURES["chromium screenshot (s)"] = round(browser.screenshot(page, png, tmp_path), 2)
    FIGURES["chromium print-to-pdf (s)"] = round(browser.pdf(page, pdf, tmp_path), 2)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"
    assert pdf.read_bytes()[:5] == b"%PDF-", f"{pdf} is not a PDF"
    FIGURES["acceptance.html artifacts"] = str(ARTIFACTS)


def test_series_of_the_metric_requirements_are_in_acceptance_json(html_run: SuiteRun) -> None:
    series = html_run.report["series"]
    # node_cpu_seconds_total has one series per CPU and mode: only a note on how many are plotted
    assert all("plotted" in note for note in series["notes"]), series["notes"]
    # The request rate's window is 4 scrape intervals (4 s here) and the suite's traffic lasts a second or
    # two of a short run: its rate exists at fewer steps than the CPU and memory series, but it must exist.
    for rid, need in (("metrics.cpu", 2), ("metrics.memory", 2), ("metrics.request_rate", 1)):
        plots = series["requirements"].get(rid) or []
        points = [p for plot in plots for s in plot["series"] for p in s["points"] if p[1] is not None]
        assert len(points) >= need, f"{rid}: {len(points)} finite points in {plots}"
        assert all(p[1] >= 0 for p in points), f"{rid}: negative values in {plots}"
    rate_points = [p[1] for plot in series["requirements"]["metrics.request_rate"] for s in plot["series"]
                   for p in s["points"] if p[1] is not None]
    assert max(rate_points) > 0, f"the request rate plot never shows the suite's traffic: {rate_points}"
    assert 1 <= (series["end"] - series["start"]) / series["step"] <= 300


def test_page_is_rebuilt_from_acceptance_json_alone(html_run: SuiteRun, page: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    rebuilt = report_html.from_json(html_run.report_dir / "acceptance.json", tmp_path)
    elapsed_ms = (time.perf_counter() - started) * 1000
    FIGURES["acceptance.html render from acceptance.json (ms)"] = round(elapsed_ms, 1)
    assert rebuilt.read_text() == page.read_text()


def test_alert_timeline_and_canary_cards_render_in_chromium(html_run: SuiteRun, tmp_path: Path) -> None:
    """The run's report plus hand-made alerts.fire and logs records (shaped as those checks write them)."""
    data = html_run.report
    t0 = time.time()
    timeline = [
        {"t": t0, "source": "prometheus", "state": "inactive"},
        {"t": t0 + 4, "source": "prometheus", "state": "pending"},
        {"t": t0 + 19, "source": "prometheus", "state": "firing"},
        {"t": t0 + 23, "source": "alertmanager", "state": "firing"},
    ]
    seen = {"line": 'level=info msg="canary mc-1 <ok>"', "streams": ['{app="todo-backend"}'], "token": "mc-1"}
    data["requirements"] += [
        {"id": "alerts.fire", "title": "alert fires", "status": "pass", "measured": 23.0, "unit": "s",
         "threshold": 40, "message": "firing after 19 s", "evidence": [
             {"request": "GET /api/v1/alerts", "response": "[]", "timeline": timeline}]},
        {"id": "logs.todo_backend", "title": "canary", "status": "pass", "measured": 2.5, "unit": "s",
         "threshold": 30, "message": "",
         "evidence": [{"request": "GET /loki", "response": json.dumps(seen)}]},
    ]  # fmt: skip
    source = tmp_path / "acceptance.json"
    source.write_text(json.dumps(data))
    rendered = browser.load(report_html.from_json(source, tmp_path / "page"), tmp_path)
    assert browser.problems(rendered, card="alerts.fire") == []
    assert rendered.dom.count('data-state="firing"') == 2
    assert "canary mc-1 &lt;ok&gt;" in rendered.dom


def test_query_range_reads_points_and_names_a_bad_query(healthy_stack: LocalStack) -> None:
    prometheus = Prometheus(Endpoint(healthy_stack.prometheus_url, name="prometheus"))
    end = time.time()
    found = prometheus.query_range("up", end - 30, end, 2)
    assert found, "no series for up"
    assert all(s.points for s in found), found
    assert all(end - 32 <= t <= end + 1 for s in found for t, _ in s.points)
    with pytest.raises(EndpointError, match="rejected the query"):
        prometheus.query_range("sum(", end - 30, end, 2)


# -- the checker itself: each broken page must be caught -----------------------------------------------

GOOD_SVG = '<svg viewBox="0 0 10 10"><polyline points="0,1 2,3 4,5"/></svg>'


def _page(tmp_path: Path, body: str, *, csp: bool = True) -> Path:
    head = f'<meta http-equiv="Content-Security-Policy" content="{report_html.CSP}">' if csp else ""
    path = tmp_path / "page.html"
    path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8">{head}<title>t</title></head>'
                    f'<body><section id="req-metrics.cpu">{body}</section></body></html>')
    return path


def test_checker_passes_a_sound_page(tmp_path: Path, chromium: str) -> None:
    assert browser.problems(browser.load(_page(tmp_path, GOOD_SVG), tmp_path), card="metrics.cpu") == []


@pytest.mark.parametrize(
    ("body", "csp", "expected"),
    [
        (
            '<svg viewBox="0 0 10 10"><polyline points="0,NaN 2,3 4,5"/></svg>', True,
            'console: "Error: <polyline> attribute points',
        ),
        (GOOD_SVG + '<script>console.error("injected")</script>', False, 'console: "injected"'),
        (GOOD_SVG + '<script>console.error("injected")</script>', True, "Executing inline script violates"),
        (GOOD_SVG + '<img src="https://example.invalid/x.png">', True, "Loading the image"),
        ('<svg viewBox="0 0 10 10"></svg>', True, "no SVG plot with data points"),
    ],
    ids=["broken-svg", "script-console-error", "script-refused-by-csp", "network-request", "empty-svg"],
)
def test_checker_fails_a_broken_page(
    tmp_path: Path, chromium: str, body: str, csp: bool, expected: str
) -> None:
    found = browser.problems(browser.load(_page(tmp_path, body, csp=csp), tmp_path), card="metrics.cpu")
    assert any(expected in problem for problem in found), found


def test_checker_fails_a_page_without_the_card(tmp_path: Path, chromium: str) -> None:
    found = browser.problems(browser.load(_page(tmp_path, GOOD_SVG), tmp_path), card="logs.todo_backend")
    assert any("no card for logs.todo_backend" in problem for problem in found), found


def test_written_page_has_no_script_and_the_csp(page: Path) -> None:
    text = page.read_text()
    assert "<script" not in text.lower()
    assert f'content="{report_html.CSP}"' in text
