"""The local stack harness itself: ready when start() returns, every process gone after stop()."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import requests

from monitoring_conformance import localstack
from monitoring_conformance.errors import Unrecoverable
from monitoring_conformance.localstack import JOB_APP, JOB_NODE, JOB_PROMETHEUS, LocalStack, StackSpec
from tests.live.live_support import require_tools

pytestmark = pytest.mark.live


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_healthy_stack_has_scraped_every_job(healthy_stack: LocalStack) -> None:
    targets = {t["labels"]["job"]: t for t in healthy_stack.targets()}
    assert set(targets) == {"prometheus", "node", "todo-backend"}
    for job, target in targets.items():
        assert target["lastScrape"] != localstack.NEVER_SCRAPED, f"{job} never scraped: {target}"
        assert target["health"] == "up", f"{job}: {target['health']} {target['lastError']}"


def test_every_server_listens_on_loopback_only(healthy_stack: LocalStack) -> None:
    for job, port in healthy_stack.ports.items():
        assert healthy_stack.url(job) == f"http://127.0.0.1:{port}"
        assert requests.get(f"{healthy_stack.url(job)}/metrics", timeout=5).status_code == 200


def test_a_server_that_cannot_start_fails_fast_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tools()
    real_argv = LocalStack._node_argv
    monkeypatch.setattr(
        LocalStack, "_node_argv", lambda self, port: [*real_argv(self, port), "--no-such-flag"]
    )
    stack = LocalStack(StackSpec(), workdir=tmp_path)
    with pytest.raises(Unrecoverable, match=r"(?s)node exited with code \d+.*no-such-flag"):
        stack.start()
    assert all(server.exited() is not None for server in stack.servers.values())


def test_a_port_taken_meanwhile_is_retried_and_stop_ends_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One stack (each costs Prometheus's ~5 s until the first scrape) for both facts."""
    require_tools()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = localstack.free_port
        monkeypatch.setattr(localstack, "free_port", lambda: next(ports, None) or real_free_port())
        stack = LocalStack(StackSpec(scrape_app=False), workdir=tmp_path)
        with stack:
            assert stack.ports[JOB_NODE] != taken
            assert "address already in use" in (tmp_path / f"{JOB_NODE}.log").read_text()
            pids = [server.pid for server in stack.servers.values()]
            assert set(stack.servers) == {JOB_NODE, JOB_APP, "prometheus"}, "the backend runs, unscraped"
            assert all(pid is not None and alive(pid) for pid in pids), stack.log_tails()
    assert [pid for pid in pids if pid is not None and alive(pid)] == []
    stack.stop()  # a second stop is harmless
    assert (tmp_path / "prometheus.log").is_file(), "logs stay in a workdir the caller owns"


@pytest.mark.parametrize(
    ("job", "path", "words"),
    [
        (JOB_APP, "/healthz", "has not logged 'Uvicorn running on"),
        (JOB_NODE, "/metrics", "another node_exporter holds the port"),
        (JOB_PROMETHEUS, "/-/ready", "storage.tsdb.path is .*another Prometheus holds the port"),
    ],
)
def test_an_answer_from_another_process_on_the_port_is_not_readiness(
    healthy_stack: LocalStack, tmp_path: Path, job: str, path: str, words: str
) -> None:
    """The port race: our process is alive but never bound; another stack's server answers there."""
    port = healthy_stack.ports[job]
    idle = ["python3", "-c", "import select; select.select([], [], [])"]  # alive, never listens
    server = localstack.ServerProcess(job, idle, tmp_path / "idle.log")
    stack = LocalStack(StackSpec(ready_timeout=1.0), workdir=tmp_path)
    checks = {JOB_APP: stack._app_answer, JOB_NODE: stack._node_answer,
              JOB_PROMETHEUS: stack._prometheus_answer}
    server.start(tmp_path)
    try:
        with pytest.raises(AssertionError, match=words):
            stack._wait_http(server, f"http://127.0.0.1:{port}{path}", checks[job])
    finally:
        server.stop()
        stack.stop()
