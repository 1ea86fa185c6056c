"""localstack's pure parts: which jobs a spec scrapes, the Prometheus config, and reading a dead server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

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
