"""A real monitoring stack on 127.0.0.1: Prometheus, node_exporter and the Todo backend as child processes
(plus, with ``StackSpec.rule_file``, the alerting servers of :mod:`monitoring_conformance.localalerts`).

The live tier runs the conformance suite against it, healthy or deliberately broken::

    with LocalStack(StackSpec(scrape_node=False)) as stack:
        run_suite(prometheus_url=stack.prometheus_url, app_url=stack.app_url)

Each server gets a port the OS picked, writes its output to a log file in the stack's work directory, and
is stopped by its own PID (terminate, then kill after a bounded wait) when the ``with`` block ends, on
failure, on Ctrl-C, and at interpreter exit as a last resort. ``start()`` returns only when every server
answers and Prometheus has scraped every configured job once.

Servers run for the whole life of the stack, so they are started with :class:`subprocess.Popen`
(:mod:`monitoring_conformance.servers`) rather than through :mod:`monitoring_conformance.tools.runner`
(which runs commands to completion); the executables are still found with
:func:`~monitoring_conformance.tools.runner.find_tool`. Readiness comes from HTTP answers that identify
the process (Prometheus's own TSDB path in ``/api/v1/status/flags``, a marker metric in node_exporter's
``/metrics``), never from a log format: Prometheus 2.x and 3.x word their log lines differently.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import requests

from monitoring_conformance import localalerts, resources
from monitoring_conformance.errors import ToolError, WaitTimeout
from monitoring_conformance.servers import PortInUse, ServerProcess, free_port, indent
from monitoring_conformance.tools.runner import find_tool
from monitoring_conformance.wait import eventually

#: Scrape job names the ``host`` profile refers to (docs/interfaces.md "Live stack").
JOB_PROMETHEUS = "prometheus"
JOB_NODE = "node"
JOB_APP = "todo-backend"
#: A second Todo backend (``StackSpec.scrape_decoy``): Prometheus's todo-backend job scrapes it instead.
DECOY = "todo-backend-decoy"

APP_DIR = resources.TODO_BACKEND / "app"
#: Collectors node_exporter keeps: CPU and memory series for the checks, little else, for fast scrapes.
NODE_COLLECTORS = ("cpu", "meminfo", "loadavg", "uname")
NEVER_SCRAPED = "0001-01-01T00:00:00Z"
PORT_ATTEMPTS = 3
PROBE_TIMEOUT = 2.0
MARKER_METRIC = "mc_localstack_stack_info"
POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class StackSpec:
    """What to run. The defaults give a healthy stack; the flags build the broken ones the live tier needs."""

    scrape_node: bool = True  # False: no `node` job, and node_exporter is not started
    scrape_app: bool = True  # False: no `todo-backend` job (the backend still runs and answers)
    interval_s: float = 1.0  # scrape and rule evaluation interval
    #: The chart's rules (localalerts.write_rule_file): also start Alertmanager, a separate fault backend
    #: and a second Prometheus that evaluates these rules against it (alerts.fire). None: none of them.
    rule_file: Path | None = None
    ready_timeout: float = 30.0  # per readiness wait, scaled by the global timeout scale
    #: The Prometheus executable: a tool name looked up as find_tool does (tools folder, then PATH), e.g.
    #: "prometheus3" for the 3.x the bootstrap fetches, or a path.
    prometheus: str = "prometheus"
    #: True: a second backend runs, and the todo-backend job scrapes it, not the one the suite reaches
    scrape_decoy: bool = False
    #: uvicorn ``--workers`` of the backend (the fixture refuses more than 1, saying why)
    app_workers: int = 1
    #: Prometheus runs with ``--web.enable-lifecycle`` (POST /-/reload; see ``LocalStack.remove_node_job``)
    lifecycle: bool = False
    #: Environment of the backend (and decoy): the fixture's fault switches, e.g. ``(("TODO_API_DELAY_S",
    #: "5"),)`` for a slow task API or ``(("TODO_LIST_STATUS", "500"),)`` (fixtures/todo-backend/app)
    app_env: tuple[tuple[str, str], ...] = ()
    #: Scrape interval of the todo-backend job only (None: ``interval_s``). Prometheus scrapes each target
    #: at a fixed phase of its interval, so start-up may wait up to one such interval for the first scrape.
    app_interval_s: float | None = None

    @property
    def jobs(self) -> tuple[str, ...]:
        names = [JOB_PROMETHEUS]
        if self.scrape_node:
            names.append(JOB_NODE)
        if self.scrape_app:
            names.append(JOB_APP)
        return tuple(names)


#: Decides whether an answer (server, URL, body) is the ready server of this stack; AssertionError if not.
Check = Callable[["ServerProcess", str, str], None]


def prometheus_config(spec: StackSpec, ports: dict[str, int]) -> str:
    """The Prometheus configuration (YAML; JSON-compatible flow style) for the jobs ``spec`` asks for."""
    interval = f"{spec.interval_s:g}s"
    lines = [
        "global:",
        f"  scrape_interval: {interval}",
        f"  evaluation_interval: {interval}",
        f"  scrape_timeout: {interval}",
        "scrape_configs:",
    ]
    for job in spec.jobs:
        port = ports[DECOY] if job == JOB_APP and spec.scrape_decoy else ports[job]
        lines += [f"  - job_name: {job}", "    metrics_path: /metrics"]
        if job == JOB_APP and spec.app_interval_s is not None:  # the timeout may not exceed the interval
            timeout = min(spec.app_interval_s, spec.interval_s)
            lines += [f"    scrape_interval: {spec.app_interval_s:g}s", f"    scrape_timeout: {timeout:g}s"]
        lines.append(f'    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]')
    return "\n".join(lines) + "\n"


#: Stacks started and not yet stopped; atexit stops them as a last resort.
_LIVE: set[LocalStack] = set()


@atexit.register
def _stop_leftovers() -> None:  # pragma: no cover - last resort at interpreter exit
    for stack in list(_LIVE):
        stack.stop()


class LocalStack:
    """Prometheus + node_exporter + the Todo backend on 127.0.0.1. Use as a context manager."""

    def __init__(self, spec: StackSpec | None = None, *, workdir: Path | None = None) -> None:
        self.spec = spec or StackSpec()
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="mc-localstack-")) if workdir is None else workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.servers: dict[str, ServerProcess] = {}
        self.ports: dict[str, int] = {}
        #: Seconds each start-up phase took: one per server, and "first_scrapes".
        self.timings: dict[str, float] = {}
        self._session = requests.Session()
        #: Written into node_exporter's textfile folder: its /metrics then shows which stack it belongs to.
        self.marker = uuid.uuid4().hex

    # -- URLs ---------------------------------------------------------------------------------------
    def url(self, job: str) -> str:
        if job not in self.ports:
            raise KeyError(f"{job} is not running in this stack (jobs: {', '.join(self.ports) or 'none'})")
        return f"http://127.0.0.1:{self.ports[job]}"

    @property
    def prometheus_url(self) -> str:
        return self.url(JOB_PROMETHEUS)

    @property
    def app_url(self) -> str:
        return self.url(JOB_APP)

    @property
    def node_url(self) -> str:
        return self.url(JOB_NODE)

    # -- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self.stop(keep_logs=exc_type is not None)

    def start(self) -> None:
        """Start every server and wait until the stack is ready. Stops what it started if anything fails."""
        if self.servers:
            raise RuntimeError("this LocalStack is already started (the context manager starts it)")
        _LIVE.add(self)
        try:
            if self.spec.scrape_node:
                self._launch(JOB_NODE, self._node_argv, "/metrics", self._node_answer)
            self._launch(JOB_APP, self._app_argv, "/healthz", self._app_answer)
            if self.spec.scrape_decoy:
                self._launch(DECOY, self._app_argv, "/healthz", self._app_answer)
            self._launch(JOB_PROMETHEUS, self._prometheus_argv, "/-/ready", self._prometheus_answer)
            started = time.monotonic()
            self.wait_first_scrapes()
            self.timings["first_scrapes"] = time.monotonic() - started
            if self.spec.rule_file is not None:
                localalerts.start(self)
        except BaseException:
            self.stop(keep_logs=True)
            raise

    def stop(self, *, keep_logs: bool = True) -> None:
        """Stop every server by its PID, newest first. Safe to call twice.

        With ``keep_logs=False`` the work directory is removed too, but only if the stack created it.
        """
        for server in reversed(list(self.servers.values())):
            server.stop()
        self._session.close()
        _LIVE.discard(self)
        if not keep_logs and self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def stop_app(self) -> None:
        """Stop the Todo backend only (the "backend stopped" broken stack); Prometheus keeps scraping it."""
        self.servers[JOB_APP].stop()

    def restart_app(self) -> None:
        """Stop the Todo backend and start it again on the same port (a new process, a new start time)."""
        old = self.servers[JOB_APP]
        old.stop()
        server = ServerProcess(JOB_APP, old.argv, self.workdir / f"{JOB_APP}-restart.log")
        self.servers[JOB_APP] = server
        server.start(self.workdir)
        self._wait_http(server, f"{self.app_url}/healthz", self._app_answer)

    def kill_node_and_restart_prometheus(self) -> None:
        """node_exporter dies, then Prometheus restarts on the same data (the "stale node series" stack).

        The restarted Prometheus has no memory of the node series it scraped, so it writes no staleness
        markers: their last samples stay visible to instant queries for the 5-minute lookback. The node job
        stays configured (its target is down). Waits until the new Prometheus scraped every job once.
        """
        self.servers.pop(JOB_NODE).stop()
        self.servers.pop(JOB_PROMETHEUS).stop()
        self._launch(JOB_PROMETHEUS, self._prometheus_argv, "/-/ready", self._prometheus_answer)
        self.wait_first_scrapes()

    def remove_node_job(self) -> None:
        """Reload Prometheus with a configuration without the node job (node_exporter keeps running).

        Needs ``StackSpec(lifecycle=True)``. Waits until the node target is gone from the active targets.
        """
        config = prometheus_config(replace(self.spec, scrape_node=False), self.ports)
        (self.workdir / "prometheus.yml").write_text(config)
        response = self._session.post(f"{self.prometheus_url}/-/reload", timeout=PROBE_TIMEOUT)
        if response.status_code != 200:
            reload = f"POST {self.prometheus_url}/-/reload"
            raise ToolError(f"{reload} -> {response.status_code}: {response.text[:200]}")

        def gone() -> None:
            jobs = {t["labels"].get("job") for t in self.targets()}
            assert JOB_NODE not in jobs, f"job {JOB_NODE} still among the active targets ({sorted(jobs)})"

        self._wait(gone, f"job {JOB_NODE} removed by the reload")

    # -- readiness ----------------------------------------------------------------------------------
    def targets(self) -> list[dict[str, Any]]:
        """Prometheus's active targets (the JSON objects of /api/v1/targets)."""
        response = self._session.get(f"{self.prometheus_url}/api/v1/targets", timeout=PROBE_TIMEOUT)
        response.raise_for_status()
        active: list[dict[str, Any]] = response.json()["data"]["activeTargets"]
        return active

    def wait_first_scrapes(self) -> None:
        """Wait until Prometheus has scraped every configured job at least once."""

        def scraped() -> None:
            self._check_servers()
            seen = {t["labels"].get("job"): t for t in self.targets()}
            pending = [
                job for job in self.spec.jobs if job not in seen or seen[job]["lastScrape"] == NEVER_SCRAPED
            ]
            assert not pending, f"jobs not scraped yet: {', '.join(pending)} (targets: {_summary(seen)})"

        self._wait(scraped, f"first scrape of jobs {', '.join(self.spec.jobs)}")

    def wait_target_health(self, job: str, health: str) -> None:
        """Wait until Prometheus reports ``health`` ("up"/"down") for the target of ``job``."""

        def reached() -> None:
            seen = {t["labels"].get("job"): t for t in self.targets()}
            current = seen.get(job, {}).get("health", "absent")
            assert current == health, f"target {job} is {current}, want {health}"

        self._wait(reached, f"Prometheus target {job} {health}")

    def _launch(
        self, job: str, argv_for: Callable[[int], list[str]], ready_path: str, check: Check
    ) -> None:
        """Start a server on a fresh port, wait for ``ready_path``; on a lost port race, retry."""
        started = time.monotonic()
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = free_port()
            log = f"{job}.log" if attempt == 1 else f"{job}-attempt{attempt}.log"  # one file per attempt
            server = ServerProcess(job, argv_for(port), self.workdir / log)
            self.servers[job] = server
            self.ports[job] = port
            server.start(self.workdir)
            try:
                url = f"http://127.0.0.1:{port}{ready_path}"
                self._wait_http(server, url, check)
                self.timings[job] = time.monotonic() - started
                return
            except PortInUse:
                server.stop()
                if attempt == PORT_ATTEMPTS:
                    raise

    def _wait_http(self, server: ServerProcess, url: str, check: Check) -> None:
        """Wait until ``url`` answers AND the answer identifies this very process.

        An answer alone is not enough: when two stacks start side by side, a process that lost the port
        race is still alive for a moment while another stack's server answers on that port. The loser
        exits with "address already in use" in its log, which :meth:`ServerProcess.check_alive` turns into
        PortInUse (a retry on another port). No log line is read to decide readiness: Prometheus 2.x and
        3.x word theirs differently.
        """

        def answers() -> None:
            server.check_alive()
            response = self._session.get(url, timeout=PROBE_TIMEOUT)
            assert response.status_code == 200, f"GET {url} -> {response.status_code}"
            check(server, url, response.text)

        self._wait(answers, f"{server.name} ready at {url}")

    def _node_answer(self, server: ServerProcess, url: str, body: str) -> None:
        assert "node_cpu_seconds_total" in body, f"GET {url}: no node_cpu_seconds_total yet"
        assert f'{MARKER_METRIC}{{stack="{self.marker}"}}' in body, (
            f"GET {url} answers without this stack's {MARKER_METRIC}: another node_exporter holds the port"
        )

    def _app_answer(self, server: ServerProcess, url: str, body: str) -> None:
        assert '"ok"' in body, f"GET {url}: no \"ok\" in {body[:80]!r}"
        bound = f"Uvicorn running on {url.rsplit('/', 1)[0]}"  # the app's own start-up line (our fixture)
        assert bound in server.tail(lines=200), f"{server.name} has not logged {bound!r} yet"

    def _prometheus_answer(self, server: ServerProcess, url: str, body: str, tsdb_name: str = "tsdb") -> None:
        """/-/ready, then /api/v1/status/flags: the answering Prometheus must use this stack's TSDB folder."""
        assert "Ready" in body, f"GET {url}: {body[:80]!r}"
        flags_url = url.replace("/-/ready", "/api/v1/status/flags")
        response = self._session.get(flags_url, timeout=PROBE_TIMEOUT)
        assert response.status_code == 200, f"GET {flags_url} -> {response.status_code}"
        tsdb = str(response.json().get("data", {}).get("storage.tsdb.path"))
        assert tsdb == str(self.workdir / tsdb_name), (
            f"GET {flags_url}: storage.tsdb.path is {tsdb}, not this stack's:"
            " another Prometheus holds the port"
        )

    def _wait(self, probe: Callable[[], None], what: str) -> None:
        try:
            eventually(probe, timeout=self.spec.ready_timeout, interval=POLL_INTERVAL, what=what)
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}\n{self.log_tails()}") from exc

    def _check_servers(self) -> None:
        for server in self.servers.values():
            server.check_alive()

    def log_tails(self) -> str:
        """The last lines of every server's log, for failure messages."""
        parts = [
            f"  {s.name} (pid {s.pid}, {s.log_path}):\n{indent(s.tail())}" for s in self.servers.values()
        ]
        return "server logs:\n" + "\n".join(parts)

    # -- command lines ------------------------------------------------------------------------------
    def _node_argv(self, port: int) -> list[str]:
        exe = find_tool(
            "prometheus-node-exporter",
            fix="apt-get install -y --no-install-recommends prometheus-node-exporter",
        )
        collectors = [f"--collector.{name}" for name in NODE_COLLECTORS]
        textfiles = self.workdir / "node-textfile"
        textfiles.mkdir(exist_ok=True)
        (textfiles / "stack.prom").write_text(
            f"# HELP {MARKER_METRIC} Which local stack this node_exporter serves.\n"
            f"# TYPE {MARKER_METRIC} gauge\n{MARKER_METRIC}{{stack=\"{self.marker}\"}} 1\n"
        )
        return [exe, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults", *collectors,
                "--collector.textfile", f"--collector.textfile.directory={textfiles}"]

    def _app_argv(self, port: int) -> list[str]:
        workers = ["--workers", str(self.spec.app_workers)] if self.spec.app_workers != 1 else []
        # env(1) execs the server, so the PID stays the server's (ServerProcess passes no environment)
        env = ["env", *(f"{name}={value}" for name, value in self.spec.app_env)] if self.spec.app_env else []
        return [
            *env, sys.executable, "-m", "uvicorn", "main:app", "--app-dir", str(APP_DIR),
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *workers,
        ]  # fmt: skip

    def _prometheus_argv(self, port: int) -> list[str]:
        ports = {**self.ports, JOB_PROMETHEUS: port}
        return self._prometheus_command(port, prometheus_config(self.spec, ports), "prometheus.yml", "tsdb")

    def _prometheus_command(self, port: int, config_text: str, config_name: str, tsdb: str) -> list[str]:
        exe = prometheus_executable(self.spec.prometheus)
        config = self.workdir / config_name
        config.write_text(config_text)
        return [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / tsdb}",
            f"--web.listen-address=127.0.0.1:{port}",
            *(["--web.enable-lifecycle"] if self.spec.lifecycle else []),
        ]


def prometheus_executable(name: str) -> str:
    """The Prometheus to run: a path as given, or a tool name found as find_tool finds it."""
    if "/" in name:
        if not (Path(name).is_file() and os.access(name, os.X_OK)):
            raise ToolError(f"Prometheus executable {name} does not exist or is not executable")
        return name
    fix = PROMETHEUS_FIXES.get(name, f"put {name} on PATH")
    return find_tool(name, fix=fix)


#: How to get each Prometheus the live tier runs.
PROMETHEUS_FIXES = {
    "prometheus": "apt-get install -y --no-install-recommends prometheus",
    "prometheus3": "run `./scripts/bootstrap --tools prometheus3` (Debian sid's 3.x)",
}


def _summary(targets: dict[Any, dict[str, Any]]) -> str:
    return ", ".join(f"{job}={t.get('health')}" for job, t in targets.items()) or "none"
