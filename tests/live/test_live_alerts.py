"""alerts.fire against a real Prometheus and Alertmanager, with rules rendered from the chart by helm.

One local stack loads three versions of the chart's TodoBackendDown, each under its own name:

* ``TodoBackendDown``: the shipped rule with ``for`` shortened from 2m to 5s, so the tier stays fast
  (the full 2m rule runs in ``--target local``, see README "Targets");
* ``TodoBackendDownWrongJob``: its job matcher broken (``job="todo"``), so ``absent()`` always holds;
* ``TodoBackendDownSlow``: ``for: 10m``, longer than the check's budget.

The healthy one passes; the broken ones fail alerts.fire with the rule's state history.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from monitoring_conformance import localalerts
from monitoring_conformance.api.alertmanager import Alertmanager
from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.api.prometheus import Prometheus
from monitoring_conformance.checks import alerts
from monitoring_conformance.checks.base import CheckFailed
from monitoring_conformance.errors import ToolError
from monitoring_conformance.localstack import LocalStack, StackSpec
from monitoring_conformance.profile import Spec
from monitoring_conformance.requirement import Record
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.runner import SubprocessRunner, find_tool
from tests.live.live_support import FIGURES, require_tools

pytestmark = pytest.mark.live

SHIPPED = "TodoBackendDown"
#: name -> (for, expression replacement or None)
VARIANTS: dict[str, tuple[str, tuple[str, str] | None]] = {
    SHIPPED: ("5s", None),
    "TodoBackendDownWrongJob": ("5s", ('job="todo-backend"', 'job="todo"')),
    "TodoBackendDownSlow": ("10m", None),
}


def variants(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chart's groups plus a group of TodoBackendDown variants (the shipped rule, changed as named)."""
    (down,) = [r for g in groups for r in g["rules"] if r.get("alert") == SHIPPED]
    rules = []
    for name, (duration, replace) in VARIANTS.items():
        rule = {**down, "alert": name, "for": duration}
        if replace is not None:
            assert replace[0] in rule["expr"], f"the chart's {SHIPPED} no longer has {replace[0]}"
            rule["expr"] = rule["expr"].replace(*replace)
        rules.append(rule)
    others = [{**g, "rules": [r for r in g["rules"] if r.get("alert") != SHIPPED]} for g in groups]
    return [*others, {"name": "live-variants", "rules": rules}]


@pytest.fixture(scope="module")
def alert_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    require_tools()
    try:
        helm = Helm(SubprocessRunner(), find_tool("helm", fix=localalerts.HELM_FIX))
        find_tool("prometheus-alertmanager", fix=localalerts.AM_FIX)
    except ToolError as exc:
        pytest.skip(str(exc))
    workdir = tmp_path_factory.mktemp("stack-alerts")
    groups = localalerts.chart_rule_groups(helm)
    rule_file = localalerts.write_rule_file(variants(groups), workdir / "rules.yaml")
    with LocalStack(StackSpec(rule_file=rule_file), workdir=workdir / "stack") as stack:
        FIGURES["alerting stack start-up (s per phase)"] = {k: round(v, 2) for k, v in stack.timings.items()}
        yield stack


def run_check(stack: LocalStack, alert: str, *, timeout: float) -> Record:
    spec = Spec("alerts.fire", timeout=timeout, interval=0.5, threshold=None,
                options={"alert": alert, "margin": 5})
    record = Record.new("alerts.fire")
    prometheus = Prometheus(Endpoint(stack.url(localalerts.JOB_ALERT_PROMETHEUS), name="Prometheus"))
    alertmanager = Alertmanager(Endpoint(stack.url(localalerts.JOB_ALERTMANAGER), name="Alertmanager"))
    alerts.fire(prometheus, alertmanager, localalerts.BackendDown(stack), spec, record)
    return record


def backend_answers(stack: LocalStack) -> bool:
    return requests.get(f"{stack.url(localalerts.JOB_FAULT)}/healthz", timeout=5).status_code == 200


def test_the_rule_file_holds_the_charts_rules(alert_stack: LocalStack) -> None:
    assert alert_stack.spec.rule_file is not None
    text = Path(alert_stack.spec.rule_file).read_text()
    for name in ("TodoBackendHighErrorRate", "TodoBackendCrashLooping", *VARIANTS):
        assert f"alert: {name}" in text


def test_the_shipped_rule_fires_and_reaches_alertmanager(alert_stack: LocalStack) -> None:
    record = run_check(alert_stack, SHIPPED, timeout=40)

    assert record.threshold == 5 + 2 * 1 + 5
    assert record.measured is not None
    assert 5 <= float(record.measured) <= float(record.threshold)
    timeline = record.evidence[0]["timeline"]
    fault_at = record.evidence[0]["fault_at"]
    prometheus = [e["state"] for e in timeline if e["source"] == "prometheus" and e["t"] >= fault_at]
    assert prometheus[-2:] == ["pending", "firing"]
    assert any(e["source"] == "alertmanager" and e["state"] == "firing" for e in timeline)
    assert backend_answers(alert_stack), "the fault was not undone"
    FIGURES["alerts.fire (for 5s): seconds to firing / to Alertmanager"] = (
        record.evidence[0]["prometheus_firing_s"], record.evidence[0]["alertmanager_listed_s"],
    )  # fmt: skip


def test_a_wrong_job_label_fails_before_any_fault(alert_stack: LocalStack) -> None:
    with pytest.raises(CheckFailed) as failed:
        run_check(alert_stack, "TodoBackendDownWrongJob", timeout=40)

    message = str(failed.value)
    assert "TodoBackendDownWrongJob inactive before the fault" in message
    assert 'job="todo"' in message
    assert "state history: prometheus " in message
    assert "prometheus inactive" not in message.split("state history:")[1], message


def test_a_for_longer_than_the_budget_fails_with_the_pending_history(alert_stack: LocalStack) -> None:
    with pytest.raises(CheckFailed) as failed:
        run_check(alert_stack, "TodoBackendDownSlow", timeout=12)

    message = str(failed.value)
    assert message.startswith("alerts.fire FAILED after")
    history = message.split("state history:")[1]
    assert "prometheus pending at +" in history
    assert "firing" not in history
    assert backend_answers(alert_stack), "the fault was not undone after the failure"

