"""Broken local stacks: the suite fails exactly the requirements each one breaks, and says what is missing.

Each scenario gets a stack of its own. The stacks start and the suite runs go side by side, in the pool
the whole live session shares (tests/live/background.py: threads; each run is a subprocess), because
Prometheus needs about 5 s before its first scrape and each failing requirement polls until its budget
ends: one after the other, the module would take six times as long. The runs use a reduced timeout
scale; that shortens the budgets of the requirements that must fail, and the requirements that must
still pass meet theirs in a second or two on a ready stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from monitoring_conformance.localstack import DECOY, JOB_APP, LocalStack, StackSpec
from tests.live.background import Background, record_seconds
from tests.live.balancer import Balancer
from tests.live.live_support import SuiteRun, SuiteRunner, host_requirements, require_tools

pytestmark = pytest.mark.live

#: Budget factor of the broken runs: the host profile's 30 s budgets become 4.5 s, i.e. 4 scrape intervals
#: for the requirements that must still pass (they need one scrape after the traffic), and a failing
#: requirement costs 4.5 s instead of 30 s.
BROKEN_TIMEOUT_SCALE = 0.15

#: The requirements whose evidence must come from the app the suite reaches (profile key app_job).
IDENTITY_BOUND = frozenset(
    {"stack.prometheus_targets", "metrics.cpu", "metrics.memory", "metrics.request_rate"}
)


@dataclass(frozen=True)
class Scenario:
    """A broken stack, the requirements it must fail, and words each failure message must contain."""

    spec: StackSpec
    fails: frozenset[str]
    words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stop_app: bool = False
    stale_node: bool = False  # node_exporter dies, then Prometheus restarts on the same data
    remove_node: bool = False  # a configuration reload removes the node job
    #: The suite reaches the app through a round-robin balancer over the backend and the decoy
    balanced: bool = False
    #: Requirements that must end not_verified (strict: a failing case, but not a "fail" of their own)
    unverified: frozenset[str] = frozenset()


SCENARIOS: dict[str, Scenario] = {
    # node_exporter is not scraped: the node half of the cpu and memory queries finds no series. The `node`
    # job is not a required job of the host profile, so stack.prometheus_targets still passes.
    "node-not-scraped": Scenario(
        StackSpec(scrape_node=False),
        frozenset({"metrics.cpu", "metrics.memory"}),
        {"metrics.cpu": ("node_cpu_seconds_total",), "metrics.memory": ("node_memory_MemAvailable_bytes",)},
    ),
    # The backend runs and answers, but Prometheus has no todo-backend job: the required job is missing,
    # and every series that comes from the backend (process_*, http_requests_total) is absent. The app's
    # own checks (health, round trip) still pass, and with no restart series nothing shows a restart.
    "backend-not-scraped": Scenario(
        StackSpec(scrape_app=False),
        frozenset({"stack.prometheus_targets", "metrics.request_rate", "metrics.cpu", "metrics.memory"}),
        {
            "stack.prometheus_targets": (JOB_APP,),
            "metrics.cpu": ("process_cpu_seconds_total",),
            "metrics.memory": ("process_resident_memory_bytes",),
            "metrics.request_rate": ("http_requests_total",),
        },
    ),
    # The backend process is stopped after the stack became ready (and Prometheus has seen its target go
    # down). That breaks more than app.unchanged, and a correct suite must say so:
    # - stack.prometheus_targets: the required job todo-backend has no healthy target (up == 0);
    # - metrics.cpu / metrics.memory: a failed scrape marks the target's series stale at once, so the
    #   process_* series of the backend are gone from instant queries;
    # - metrics.request_rate: no traffic can be generated, and no new samples arrive;
    # - app.unchanged: /healthz and the CRUD round trip get "connection refused".
    # Only the node half of cpu/memory still has data; every requirement of the host profile fails.
    "backend-stopped": Scenario(
        StackSpec(),
        frozenset(
            {
                "stack.prometheus_targets",
                "metrics.cpu",
                "metrics.memory",
                "metrics.request_rate",
                "app.unchanged",
            }
        ),
        {
            "stack.prometheus_targets": (JOB_APP, "connection refused"),
            "metrics.cpu": ("process_cpu_seconds_total",),
            "metrics.memory": ("process_resident_memory_bytes",),
            "metrics.request_rate": ("http_requests_total", "connection refused"),
            "app.unchanged": ("/healthz", "connection refused"),
        },
        stop_app=True,
    ),
    # Prometheus's todo-backend job scrapes a second backend, not the one the suite sends traffic to
    # (another deployment, a staging copy). Every requirement that counts the app's series must fail on
    # identity (process_start_time_seconds differs), naming the scraped instance and the app reached;
    # the app itself is healthy.
    "other-backend-scraped": Scenario(
        StackSpec(scrape_decoy=True),
        IDENTITY_BOUND,
        dict.fromkeys(IDENTITY_BOUND, ("Prometheus scrapes job=todo-backend at instance=127.0.0.1:",
                                       "another process's")),
    ),
    # node_exporter dies, then Prometheus restarts on the same data: no staleness markers, so the node
    # series' last samples stay visible for 5 minutes. Only cpu and memory count them, and must not.
    "stale-node-series": Scenario(
        StackSpec(),
        frozenset({"metrics.cpu", "metrics.memory"}),
        {
            "metrics.cpu": ("node_cpu_seconds_total", "stale:", "newest sample", "job=node"),
            "metrics.memory": ("node_memory_MemAvailable_bytes", "stale:", "newest sample", "job=node"),
        },
        stale_node=True,
    ),
    # A configuration reload removes the node job (node_exporter still runs). Its series may stay visible
    # for a while; with no active target of their job they are stale whatever their age.
    "node-job-removed": Scenario(
        StackSpec(lifecycle=True),
        frozenset({"metrics.cpu", "metrics.memory"}),
        {
            "metrics.cpu": ("node_cpu_seconds_total", "0 fresh"),
            "metrics.memory": ("node_memory_MemAvailable_bytes", "0 fresh"),
        },
        remove_node=True,
    ),
    # Two backend processes behind the one address the suite reaches (uvicorn --workers 2, a balancer):
    # each has its own task store and metrics registry, and Prometheus scrapes one of them. The start
    # times read on new connections come back A, B, A: every requirement tied to the app's identity fails
    # naming several processes, and app.unchanged cannot tell a restart from the other process.
    "two-processes-one-address": Scenario(
        StackSpec(scrape_decoy=True),
        IDENTITY_BOUND,
        dict.fromkeys(IDENTITY_BOUND | {"app.unchanged"},
                      ("answered with different process_start_time_seconds", "several processes serve it")),
        balanced=True,
        unverified=frozenset({"app.unchanged"}),
    ),
}


def _run_scenario(name: str, scenario: Scenario, stack: LocalStack, suite: SuiteRunner) -> SuiteRun:
    try:
        stack.start()
        if scenario.stop_app:
            stack.stop_app()
            stack.wait_target_health(JOB_APP, "down")
        if scenario.stale_node:
            stack.kill_node_and_restart_prometheus()
        if scenario.remove_node:
            stack.remove_node_job()
        if not scenario.balanced:
            return suite.run(name, prometheus_url=stack.prometheus_url, app_url=stack.app_url,
                             timeout_scale=BROKEN_TIMEOUT_SCALE)
        with Balancer([stack.app_url, stack.url(DECOY)]) as balancer:
            run = suite.run(name, prometheus_url=stack.prometheus_url, app_url=balancer.url,
                            timeout_scale=BROKEN_TIMEOUT_SCALE)
            assert min(balancer.connections) > 0, f"{name}: a backend got none: {balancer.connections}"
            return run
    finally:
        stack.stop()


def submit_scenarios(background: Background, group: str, scenarios: dict[str, Scenario]) -> None:
    """Each scenario's stack start and suite run, into the session's shared pool (tests/live/background.py);
    each stack stops as soon as its run ends, its logs stay in the pytest temp folder."""
    for name, scenario in scenarios.items():
        stack = background.stack(scenario.spec, name)
        background.submit(group, name, _run_scenario, name, scenario, stack, background.suite)


def scenario_runs(background: Background, group: str) -> dict[str, SuiteRun | BaseException]:
    """The runs of ``group`` by name (or the error that kept one from running); their seconds to FIGURES."""
    require_tools()
    results = background.results(group)
    record_seconds(group, results)
    return results


def start_in_background(background: Background) -> None:
    submit_scenarios(background, "broken", SCENARIOS)


@pytest.fixture(scope="module")
def broken_runs(background: Background) -> dict[str, SuiteRun | BaseException]:
    """Every scenario's suite run (or the error that kept it from running), keyed by scenario name."""
    return scenario_runs(background, "broken")


def run_of(broken_runs: dict[str, SuiteRun | BaseException], name: str) -> SuiteRun:
    result = broken_runs[name]
    if isinstance(result, BaseException):
        raise result
    return result


def test_scenarios_expect_only_host_requirements() -> None:
    for name, scenario in SCENARIOS.items():
        unknown = scenario.fails - host_requirements()
        assert not unknown, f"{name} expects failures of requirements not in the host profile: {unknown}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_suite_exits_non_zero(broken_runs: dict[str, SuiteRun | BaseException], name: str) -> None:
    run = run_of(broken_runs, name)
    assert run.returncode != 0, run.describe()
    assert run.report["verdict"] == "fail", run.describe()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_exactly_the_broken_requirements_fail(
    broken_runs: dict[str, SuiteRun | BaseException], name: str
) -> None:
    run = run_of(broken_runs, name)
    failed = run.ids_with("fail")
    report = "\n".join(
        f"  {rid}: {e['status']}: {e['message']}" for rid, e in sorted(run.requirements.items())
    )
    scenario = SCENARIOS[name]
    assert failed == scenario.fails, f"{name}: failed {sorted(failed)}\n{report}\n{run.describe()}"
    assert run.ids_with("not_verified") == scenario.unverified, f"{name}: not_verified differs\n{report}"
    others = host_requirements() - scenario.fails - scenario.unverified
    assert run.ids_with("pass") >= others, f"{name}: these should still pass\n{report}"


@pytest.mark.parametrize(
    ("name", "rid"),
    [(name, rid) for name, scenario in SCENARIOS.items() for rid in sorted(scenario.words)],
)
def test_failure_message_names_what_is_missing(
    broken_runs: dict[str, SuiteRun | BaseException], name: str, rid: str
) -> None:
    entry = run_of(broken_runs, name).requirements[rid]
    missing = [word for word in SCENARIOS[name].words[rid] if word not in entry["message"]]
    assert not missing, f"{name}: the {rid} message lacks {missing}:\n{entry['message']}"
