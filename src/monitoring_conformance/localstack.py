"""A real monitoring stack on 127.0.0.1: Prometheus, node_exporter and the Todo backend as child processes
(plus, with ``StackSpec.rule_file``, the alerting servers of :mod:`monitoring_conformance.localalerts`).

The live tier runs the conformance suite against it, healthy or deliberately broken::

    with LocalStack(StackSpec(scrape_node=False)) as stack:
        run_suite(prometheus_url=stack.prometheus_url, app_url=stack.app_url)

Each server gets a port the OS picked, writes its output to a log file in the stack's work directory, and
is stopped by its own PID (terminate, then kill after a bounded wait) when the ``with`` block ends, on
failure, on Ctrl-C, and at interpreter exit as a last resort. ``start()`` returns only when every server
answers and Prometheus has scraped every configured job once.

Servers run for the whole life of the stack, so they are started with :class:`subprocess.Popen` here
rather than through :mod:`monitoring_conformance.tools.runner` (which runs commands to completion); the
executables are still found with :func:`~monitoring_conformance.tools.runner.find_tool`.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from monitoring_conformance import localalerts
from monitoring_conformance.errors import ToolError, Unrecoverable, WaitTimeout
from monitoring_conformance.settings import REPO_ROOT
from monitoring_conformance.tools.runner import find_tool
from monitoring_conformance.wait import eventually

#: Scrape job names the ``host`` profile refers to (docs/design.md "Live stack").
JOB_PROMETHEUS = "prometheus"
JOB_NODE = "node"
JOB_APP = "todo-backend"

APP_DIR = REPO_ROOT / "fixtures" / "todo-backend" / "app"
#: Collectors node_exporter keeps: CPU and memory series for the checks, little else, for fast scrapes.
NODE_COLLECTORS = ("cpu", "meminfo", "loadavg", "uname")
NEVER_SCRAPED = "0001-01-01T00:00:00Z"
BIND_ERRORS = ("address already in use", "errno 98")
PORT_ATTEMPTS = 3
STOP_TIMEOUT = 5.0
LOG_TAIL_LINES = 15
PROBE_TIMEOUT = 2.0
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

    @property
    def jobs(self) -> tuple[str, ...]:
        names = [JOB_PROMETHEUS]
        if self.scrape_node:
            names.append(JOB_NODE)
        if self.scrape_app:
            names.append(JOB_APP)
        return tuple(names)


class PortInUse(ToolError):
    """A server could not bind the port it was given (another process took it first)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; callers retry on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent(argv: list[str]) -> list[str]:
    """``argv`` prefixed with ``setpriv --pdeathsig TERM --`` where util-linux's setpriv exists (Linux).

    The kernel then sends SIGTERM to the server if the thread that started it dies without cleaning up
    (a killed test process). setpriv sets that and execs the server, so the PID stays the server's. This
    replaces a ``preexec_fn``, which is not safe when stacks are started from several threads. Without
    setpriv, the context manager and the atexit hook are the clean-up. Note the signal follows the
    starting *thread*: start a stack from a thread that outlives it (the main thread, or a pool's worker
    until the pool shuts down).
    """
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else list(argv)


@dataclass
class ServerProcess:
    """One child process with its log file. Stopped by its own PID, never by name."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, cwd: Path) -> None:
        # a fresh file: an earlier attempt's "address already in use" must not read as this one's
        self._log = self.log_path.open("wb")
        try:
            self.popen = subprocess.Popen(
                die_with_parent(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self._close_log()
            raise ToolError(f"{self.name}: cannot start `{' '.join(self.argv)}`: {exc}") from exc

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def exited(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self.popen.poll() if self.popen else None

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        """Raise at once (ending any wait) if the process has exited; PortInUse when it lost a port race."""
        code = self.exited()
        if code is None:
            return
        tail = self.tail()
        message = f"{self.name} exited with code {code}; last lines of {self.log_path}:\n{_indent(tail)}"
        if any(marker in tail.lower() for marker in BIND_ERRORS):
            raise PortInUse(message)
        raise Unrecoverable(message)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate, wait at most ``timeout`` seconds, then kill. Safe to call twice."""
        proc = self.popen
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _indent(text: str) -> str:
    return "\n".join(f"    | {line}" for line in text.splitlines()) or "    | (empty)"


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
        lines += [
            f"  - job_name: {job}",
            "    metrics_path: /metrics",
            f'    static_configs: [{{targets: ["127.0.0.1:{ports[job]}"]}}]',
        ]
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
                self._launch(JOB_NODE, self._node_argv, "/metrics", _expect_text("node_cpu_seconds_total"))
            self._launch(JOB_APP, self._app_argv, "/healthz", _expect_text('"ok"'))
            self._launch(JOB_PROMETHEUS, self._prometheus_argv, "/-/ready", _expect_text("Ready"))
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
        self, job: str, argv_for: Callable[[int], list[str]], ready_path: str, check: Callable[[str], None]
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
                self._wait_http(server, url, check, BOUND[job].format(port=port))
                self.timings[job] = time.monotonic() - started
                return
            except PortInUse:
                server.stop()
                if attempt == PORT_ATTEMPTS:
                    raise

    def _wait_http(
        self, server: ServerProcess, url: str, check: Callable[[str], None], bound: str
    ) -> None:
        """Wait until ``url`` answers AND this process's own log says it holds the port.

        An answer alone is not enough: when two stacks start side by side, a process that lost the port
        race is still alive for a moment while another stack's server answers on that port.
        """

        def answers() -> None:
            server.check_alive()
            response = self._session.get(url, timeout=PROBE_TIMEOUT)
            assert response.status_code == 200, f"GET {url} -> {response.status_code}"
            check(response.text)
            assert bound in server.tail(lines=200), f"{server.name} has not logged {bound!r} yet"

        self._wait(answers, f"{server.name} ready at {url}")

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
            f"  {s.name} (pid {s.pid}, {s.log_path}):\n{_indent(s.tail())}" for s in self.servers.values()
        ]
        return "server logs:\n" + "\n".join(parts)

    # -- command lines ------------------------------------------------------------------------------
    def _node_argv(self, port: int) -> list[str]:
        exe = find_tool(
            "prometheus-node-exporter",
            fix="apt-get install -y --no-install-recommends prometheus-node-exporter",
        )
        collectors = [f"--collector.{name}" for name in NODE_COLLECTORS]
        return [exe, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults", *collectors]

    def _app_argv(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "main:app", "--app-dir", str(APP_DIR),
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        ]  # fmt: skip

    def _prometheus_argv(self, port: int) -> list[str]:
        ports = {**self.ports, JOB_PROMETHEUS: port}
        return self._prometheus_command(port, prometheus_config(self.spec, ports), "prometheus.yml", "tsdb")

    def _prometheus_command(self, port: int, config_text: str, config_name: str, tsdb: str) -> list[str]:
        exe = find_tool("prometheus", fix="apt-get install -y --no-install-recommends prometheus")
        config = self.workdir / config_name
        config.write_text(config_text)
        return [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / tsdb}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]


#: What each server logs once it holds its port (the port is filled in).
BOUND = {
    JOB_NODE: 'msg="Listening on" address=127.0.0.1:{port}',
    JOB_PROMETHEUS: 'msg="Listening on" address=127.0.0.1:{port}',
    JOB_APP: "Uvicorn running on http://127.0.0.1:{port}",
    localalerts.JOB_FAULT: "Uvicorn running on http://127.0.0.1:{port}",
    localalerts.JOB_ALERTMANAGER: 'msg="Listening on" address=127.0.0.1:{port}',
    localalerts.JOB_ALERT_PROMETHEUS: 'msg="Listening on" address=127.0.0.1:{port}',
}


def _expect_text(needle: str) -> Callable[[str], None]:
    def check(body: str) -> None:
        assert needle in body, f"response lacks {needle!r}"

    return check


def _summary(targets: dict[Any, dict[str, Any]]) -> str:
    return ", ".join(f"{job}={t.get('health')}" for job, t in targets.items()) or "none"
