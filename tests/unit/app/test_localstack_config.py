"""localstack's pure parts: which jobs a spec scrapes, the Prometheus config, and reading a dead server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest
import yaml

from monitoring_conformance import servers
from monitoring_conformance.errors import Unrecoverable
from monitoring_conformance.localstack import (
    JOB_APP,
    JOB_NODE,
    JOB_PROMETHEUS,
    LocalStack,
    PortInUse,
    ServerProcess,
    StackSpec,
    prometheus_config,
)

pytestmark = pytest.mark.unit

PORTS = {JOB_PROMETHEUS: 19090, JOB_NODE: 19100, JOB_APP: 18000}


@dataclass
class ExitedPopenDouble:
    """Stands in for a subprocess.Popen whose process has already ended."""

    returncode: int
    pid: int = 4242

    def poll(self) -> int:
        return self.returncode


def config_for(spec: StackSpec) -> dict[str, Any]:
    loaded = yaml.safe_load(prometheus_config(spec, PORTS))
    assert isinstance(loaded, dict), loaded
    return loaded


def scrape_jobs(config: dict[str, Any]) -> dict[str, list[str]]:
    return {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}


def test_healthy_spec_scrapes_the_three_jobs_of_the_host_profile() -> None:
    assert StackSpec().jobs == ("prometheus", "node", "todo-backend")


@pytest.mark.parametrize(
    ("spec", "jobs"),
    [
        (StackSpec(scrape_node=False), ("prometheus", "todo-backend")),
        (StackSpec(scrape_app=False), ("prometheus", "node")),
        (StackSpec(scrape_node=False, scrape_app=False), ("prometheus",)),
    ],
)
def test_broken_specs_omit_their_job(spec: StackSpec, jobs: tuple[str, ...]) -> None:
    assert spec.jobs == jobs
    assert tuple(scrape_jobs(config_for(spec))) == jobs


def test_config_points_each_job_at_its_port() -> None:
    assert scrape_jobs(config_for(StackSpec())) == {
        "prometheus": ["127.0.0.1:19090"],
        "node": ["127.0.0.1:19100"],
        "todo-backend": ["127.0.0.1:18000"],
    }


def test_config_uses_the_spec_interval_for_scrapes_and_rules() -> None:
    glob = config_for(StackSpec(interval_s=2.0))["global"]
    assert glob == {"scrape_interval": "2s", "evaluation_interval": "2s", "scrape_timeout": "2s"}


def test_config_without_a_port_for_a_job_is_refused() -> None:
    with pytest.raises(KeyError, match="todo-backend"):
        prometheus_config(StackSpec(), {JOB_PROMETHEUS: 1, JOB_NODE: 2})


def dead_server(tmp_path: Path, log: str, code: int = 1) -> ServerProcess:
    server = ServerProcess("node", ["prometheus-node-exporter"], tmp_path / "node.log")
    server.log_path.write_text(log)
    server.popen = cast(Any, ExitedPopenDouble(code))
    return server


def test_a_server_that_lost_the_port_race_asks_for_a_retry(tmp_path: Path) -> None:
    server = dead_server(
        tmp_path, 'level=error msg="listen tcp 127.0.0.1:19100: bind: address already in use"\n'
    )
    with pytest.raises(PortInUse, match=r"node exited with code 1; last lines of .*node.log"):
        server.check_alive()


def test_a_server_that_died_otherwise_ends_the_wait_with_its_log(tmp_path: Path) -> None:
    server = dead_server(tmp_path, "line 1\nerror loading config: bad yaml\n", code=2)
    with pytest.raises(Unrecoverable, match=r"exited with code 2(.|\n)*\| error loading config: bad yaml"):
        server.check_alive()


def test_a_server_never_started_has_nothing_to_report(tmp_path: Path) -> None:
    server = ServerProcess("node", ["x"], tmp_path / "node.log")
    server.check_alive()
    assert server.exited() is None


def test_the_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    server = dead_server(tmp_path, "".join(f"line {n}\n" for n in range(40)))
    assert server.tail(3) == "line 37\nline 38\nline 39"


def test_asking_for_a_server_the_stack_does_not_run_names_what_runs(tmp_path: Path) -> None:
    stack = LocalStack(StackSpec(scrape_node=False), workdir=tmp_path)
    stack.ports = {JOB_PROMETHEUS: 19090}
    assert stack.prometheus_url == "http://127.0.0.1:19090"
    with pytest.raises(KeyError, match="node is not running in this stack"):
        _ = stack.node_url
    stack.stop()


class PopenRecorder:
    """Stands in for subprocess.Popen: records what a start would run, runs nothing."""

    calls: ClassVar[list[tuple[list[str], dict[str, Any]]]] = []

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        PopenRecorder.calls.append((list(argv), kwargs))
        self.pid = 4343
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def terminate(self) -> None:
        self.returncode = -15

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode


@pytest.fixture
def popen(monkeypatch: pytest.MonkeyPatch) -> type[PopenRecorder]:
    PopenRecorder.calls = []
    monkeypatch.setattr(servers.subprocess, "Popen", PopenRecorder)
    return PopenRecorder


def test_servers_die_with_their_parent_through_setpriv_not_preexec_fn(
    tmp_path: Path, popen: type[PopenRecorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servers.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(servers.sys, "platform", "linux")
    server = ServerProcess(
        "node", ["prometheus-node-exporter", "--web.listen-address=127.0.0.1:1"], tmp_path / "n.log"
    )

    server.start(tmp_path)

    argv, kwargs = popen.calls[0]
    assert argv == ["/usr/bin/setpriv", "--pdeathsig", "TERM", "--", *server.argv]
    assert "preexec_fn" not in kwargs  # not thread-safe: stacks start from worker threads
    assert kwargs["start_new_session"] is True
    server._close_log()


def test_without_setpriv_the_server_runs_as_it_is(
    tmp_path: Path, popen: type[PopenRecorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    server = ServerProcess("app", ["uvicorn", "main:app"], tmp_path / "app.log")

    server.start(tmp_path)

    assert popen.calls[0][0] == ["uvicorn", "main:app"]
    server._close_log()


def test_a_start_truncates_the_log_so_an_old_bind_error_is_not_this_attempts(
    tmp_path: Path, popen: type[PopenRecorder]
) -> None:
    server = ServerProcess("node", ["prometheus-node-exporter"], tmp_path / "node.log")
    server.log_path.write_text('msg="listen tcp 127.0.0.1:19100: bind: address already in use"\n')

    server.start(tmp_path)
    server._close_log()
    server.popen = cast(Any, ExitedPopenDouble(1))  # it then dies for another reason

    assert server.log_path.read_text() == ""
    with pytest.raises(Unrecoverable) as caught:
        server.check_alive()
    assert not isinstance(caught.value, PortInUse)


def test_each_port_attempt_logs_to_a_file_of_its_own(
    tmp_path: Path, popen: type[PopenRecorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[Path] = []

    def lost_once(self: LocalStack, server: ServerProcess, url: str, check: Any) -> None:
        attempts.append(server.log_path)
        if len(attempts) == 1:
            raise PortInUse("node exited with code 1: address already in use")

    monkeypatch.setattr(LocalStack, "_wait_http", lost_once)
    stack = LocalStack(StackSpec(), workdir=tmp_path)

    stack._launch(JOB_NODE, lambda port: ["prometheus-node-exporter", f":{port}"], "/metrics",
                  lambda server, url, body: None)

    assert [p.name for p in attempts] == ["node.log", "node-attempt2.log"]
    assert stack.servers[JOB_NODE].log_path.name == "node-attempt2.log"
    stack.stop()
