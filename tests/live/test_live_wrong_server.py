"""A URL option pointing at the wrong kind of real server is refused at start-up: exit 2, one line naming the
option and what answered. The servers are real: Prometheus, node_exporter, the Todo backend, and a plain
``python -m http.server`` serving an HTML page. That the right servers are still accepted is what the
healthy-stack runs of test_live_healthy_stack.py show."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from monitoring_conformance.localstack import LocalStack, free_port
from monitoring_conformance.wait import eventually
from tests.live.live_support import FIGURES, SuiteRun, SuiteRunner

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def html_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A static web site: every path is an HTML page or http.server's HTML 404 page."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text("<html><head><title>Team wiki</title></head><body>hello</body></html>")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: requests.get(url, timeout=1).raise_for_status(), timeout=15, what="http.server")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


#: case -> (option, server, words the error line must hold)
CASES = {
    "node-exporter-as-prometheus": ("--prometheus-url", "node", ('an HTML page titled "Node Exporter"',)),
    "app-as-prometheus": ("--prometheus-url", "app", ("a Todo backend (GET /healthz",)),
    "html-page-as-prometheus": ("--prometheus-url", "html", ("an HTML page",)),
    "prometheus-as-loki": ("--loki-url", "prometheus", ("a Prometheus (GET /api/v1/status/buildinfo",)),
    "app-as-grafana": ("--grafana-url", "app", ("a Todo backend",)),
    "prometheus-as-app": ("--app-url", "prometheus", ("a Prometheus",)),
    "node-exporter-as-app": ("--app-url", "node", ('an HTML page titled "Node Exporter"',)),
    "html-page-as-loki": ("--loki-url", "html", ("an HTML page",)),
}


@pytest.fixture(scope="module")
def runs(suite: SuiteRunner, healthy_stack: LocalStack, html_page: str) -> dict[str, SuiteRun]:
    servers = {"node": healthy_stack.node_url, "app": healthy_stack.app_url,
               "prometheus": healthy_stack.prometheus_url, "html": html_page}  # fmt: skip

    def run(name: str) -> SuiteRun:
        option, server, _ = CASES[name]
        if option == "--prometheus-url":
            return suite.run(f"wrong-{name}", prometheus_url=servers[server])
        return suite.run(f"wrong-{name}", prometheus_url=healthy_stack.prometheus_url,
                         extra=[option, servers[server]])  # fmt: skip

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(zip(CASES, pool.map(run, CASES), strict=True))
    FIGURES["wrong kind of server: CLI run until refused (s, slowest)"] = round(
        max(r.seconds for r in done.values()), 2
    )
    return done


@pytest.mark.parametrize("name", list(CASES))
def test_wrong_kind_of_server_is_refused_naming_the_option_and_what_answered(
    runs: dict[str, SuiteRun], name: str
) -> None:
    option, _, words = CASES[name]
    run = runs[name]
    lines = [line for line in run.stderr.splitlines() if line.strip()]

    assert run.returncode == 2, run.describe()
    assert len(lines) == 1, run.describe()
    assert lines[0].startswith(f"{option} http://127.0.0.1:"), lines[0]
    assert all(word in lines[0] for word in words), lines[0]
    assert run.stdout == "", run.describe()
    assert not (Path(run.report_dir) / "junit.xml").exists()

