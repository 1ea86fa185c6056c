"""Profiles: the shipped ones load, and every kind of broken profile is a one-line error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_conformance.errors import UsageError
from monitoring_conformance.profile import PROFILES_DIR, load
from monitoring_conformance.requirement import CATALOGUE

pytestmark = pytest.mark.unit

VARIABLES = {"app_namespace": "shop", "monitoring_namespace": "mon", "release": "rel"}
HOST_ONLY = {
    "stack.prometheus_targets", "metrics.cpu", "metrics.memory", "metrics.request_rate", "alerts.fire",
    "app.unchanged",
}


@pytest.mark.parametrize("name", ["host", "kind", "managed"])
def test_shipped_profiles_load(name: str) -> None:
    profile = load(name)

    assert profile.name == name
    assert profile.path == PROFILES_DIR / f"{name}.yaml"
    assert set(profile.ids()) <= set(CATALOGUE)
    for spec in profile.requirements.values():
        assert spec.timeout > 0
        assert 0 < spec.interval <= 0.5


def test_kube_profiles_cover_every_requirement() -> None:
    assert set(load("kind").ids()) == set(CATALOGUE)
    assert set(load("managed").ids()) == set(CATALOGUE)


def test_host_profile_offers_only_what_a_host_has() -> None:
    host = load("host")

    assert set(host.ids()) == HOST_ONLY
    targets = host.spec("stack.prometheus_targets")
    assert targets is not None
    assert targets.texts("jobs") == ["prometheus", "todo-backend"]  # not `node`: see host.yaml
    cpu = host.spec("metrics.cpu")
    assert cpu is not None
    assert set(cpu.mapping("queries").values()) == {
        'node_cpu_seconds_total{job="node"}',
        'process_cpu_seconds_total{job="todo-backend"}',
    }


def test_managed_profile_does_not_require_the_apiserver_job() -> None:
    kind = load("kind").spec("stack.prometheus_targets")
    managed = load("managed").spec("stack.prometheus_targets")
    assert kind is not None
    assert managed is not None

    assert "apiserver" in kind.texts("jobs")
    assert "apiserver" not in managed.texts("jobs")
    assert managed.note


def test_bind_fills_in_namespaces() -> None:
    profile = load("kind").bind(VARIABLES)

    logs = profile.spec("logs.todo_backend")
    assert logs is not None
    assert logs.text("selector") == '{namespace="shop", app="todo-backend"}'
    assert logs.mapping("labels")["namespace"] == "shop"
    cpu = profile.spec("metrics.cpu")
    assert cpu is not None
    assert 'namespace="shop"' in cpu.mapping("queries")["todo_container_cpu"]
    # ${rate_window} is the request-rate check's own (it follows the scrape interval it reads)
    assert "${" not in str(profile.requirements).replace("${rate_window}", "")


def test_a_path_is_loaded_as_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("requirements:\n  metrics.cpu: {timeout: 5, queries: {a: up}}\n")

    profile = load(str(path))

    assert profile.name == "mine"
    spec = profile.spec("metrics.cpu")
    assert spec is not None
    assert spec.threshold == 1
    assert spec.interval == 0.5


def test_unknown_profile_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"--profile nope: no such profile; use one of host, kind, managed"):
        load("nope")


def test_missing_profile_file() -> None:
    with pytest.raises(UsageError, match=r"--profile /no/such.yaml: profile file not found"):
        load("/no/such.yaml")


def test_env_twin_is_named_when_the_value_came_from_it() -> None:
    with pytest.raises(UsageError, match=r"^MC_PROFILE=nope: no such profile"):
        load("nope", "MC_PROFILE=nope")


BAD = {
    "not-yaml": ("requirements: [", ["not valid YAML", "line"]),
    "not-a-mapping": ("- a\n- b\n", ["top level must be a mapping"]),
    "no-requirements": ("name: x\n", ["requirements: missing or empty"]),
    "unknown-top-key": ("requirement: {}\n", ["unknown key 'requirement'"]),
    "unknown-id": (
        "requirements:\n  metrics.disk: {timeout: 5}\n",
        ["requirements.metrics.disk", "unknown requirement id", "metrics.cpu"],
    ),
    "missing-timeout": (
        "requirements:\n  metrics.cpu: {queries: {a: up}}\n",
        ["requirements.metrics.cpu.timeout", "missing", "timeout: 60"],
    ),
    "negative-timeout": (
        "requirements:\n  metrics.cpu: {timeout: -5, queries: {a: up}}\n",
        ["requirements.metrics.cpu.timeout = -5", "must not be negative"],
    ),
    "zero-timeout": (
        "requirements:\n  metrics.cpu: {timeout: 0, queries: {a: up}}\n",
        ["requirements.metrics.cpu.timeout = 0", "greater than 0"],
    ),
    "non-numeric-timeout": (
        "requirements:\n  metrics.cpu: {timeout: soon, queries: {a: up}}\n",
        ["requirements.metrics.cpu.timeout = 'soon'", "not a number"],
    ),
    "bool-timeout": (
        "requirements:\n  metrics.cpu: {timeout: true, queries: {a: up}}\n",
        ["requirements.metrics.cpu.timeout = True", "not a number"],
    ),
    "missing-queries": (
        "requirements:\n  metrics.cpu: {timeout: 5}\n",
        ["requirements.metrics.cpu.queries", "missing"],
    ),
    "queries-not-a-map": (
        "requirements:\n  metrics.cpu: {timeout: 5, queries: [up]}\n",
        ["requirements.metrics.cpu.queries", "must map names to non-empty strings"],
    ),
    "jobs-not-a-list": (
        "requirements:\n  stack.prometheus_targets: {timeout: 5, jobs: prometheus}\n",
        ["requirements.stack.prometheus_targets.jobs", "list of non-empty strings"],
    ),
    "fractional-threshold": (
        "requirements:\n  metrics.cpu: {timeout: 5, threshold: 1.5, queries: {a: up}}\n",
        ["threshold = 1.5", "whole number"],
    ),
    "slow-interval": (
        "requirements:\n  metrics.cpu: {timeout: 5, interval: 5, queries: {a: up}}\n",
        ["interval = 5", "at most 1s"],
    ),
    "unknown-key": (
        "requirements:\n  metrics.cpu: {timeout: 5, queries: {a: up}, budget: 3}\n",
        ["requirements.metrics.cpu.budget", "unknown key", "allowed:"],
    ),
    "entry-not-a-mapping": ("requirements:\n  metrics.cpu: 5\n", ["requirements.metrics.cpu", "mapping"]),
    "unknown-variable": (
        "requirements:\n  metrics.cpu: {timeout: 5, queries: {a: 'up{namespace=\"${ns}\"}'}}\n",
        ["unknown variable ${ns}", "${app_namespace}"],
    ),
    "grafana-over-30": (
        "requirements:\n  grafana.ready_within_30s: {timeout: 60, threshold: 45}\n",
        ["threshold = 45", "at most 30"],
    ),
    "restart-mode": (
        "requirements:\n  app.unchanged: {timeout: 5, restarts: {mode: sometimes}}\n",
        ["restarts", "mode must be one of total, unchanged, process"],
    ),
    "rate-counter-missing": (
        "requirements:\n  metrics.request_rate: {timeout: 5, query: 'sum(rate(x[1m]))'}\n",
        ["requirements.metrics.request_rate.counter", "missing", "method=\"POST\""],
    ),
    "restart-query-missing": (
        "requirements:\n  app.unchanged: {timeout: 5, restarts: {mode: total}}\n",
        ["mode total needs `query`"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_invalid_profile_is_one_line_naming_file_and_key(tmp_path: Path, case: str) -> None:
    text, words = BAD[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)

    with pytest.raises(UsageError) as caught:
        load(str(path))

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert all(word in message for word in words), message


@pytest.mark.parametrize("name", ["host", "kind", "managed"])
def test_rate_queries_leave_out_scrapes_and_health_probes(name: str) -> None:
    spec = load(name).spec("metrics.request_rate")
    assert spec is not None
    assert 'handler!~"/metrics|/healthz"' in spec.text("query")
    assert 'handler="/api/{user_id}/tasks",method="POST"' in spec.text("counter")


def test_a_new_catalogue_entry_is_validated_from_its_own_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a requirement needs no change to profile.py: its catalogue entry carries the schema."""
    from monitoring_conformance import requirement

    disk = requirement.Requirement("metrics.disk", "Disk series", "series", "series", requirement.SERIES)
    monkeypatch.setitem(requirement.CATALOGUE, disk.id, disk)
    good = tmp_path / "disk.yaml"
    good.write_text("requirements:\n  metrics.disk: {timeout: 5, queries: {fs: node_fs_bytes}}\n")
    assert load(str(good)).requirements["metrics.disk"].options["queries"] == {"fs": "node_fs_bytes"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("requirements:\n  metrics.disk: {timeout: 5}\n")
    with pytest.raises(UsageError, match=r"requirements\.metrics\.disk\.queries: missing; add it, e\.g\. "):
        load(str(bad))

