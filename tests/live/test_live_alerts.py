"""alerts.fire against a real Prometheus and Alertmanager, with rules rendered from the chart by helm.

One local stack loads versions of the chart's TodoBackendDown and TodoBackendHighErrorRate, each under its
own name:

* ``TodoBackendDown``: the shipped rule with ``for`` shortened from 2m to 5s, so the tier stays fast
  (the full 2m rule runs in ``--target local``, see README "Targets");
* ``TodoBackendDownWrongJob``: its job matcher broken (``job="todo"``), so ``absent()`` always holds;
* ``TodoBackendDownSlow``: ``for: 10m``, longer than the check's budget;
* ``TodoBackendHighErrorRate``: the shipped rule with ``for`` 5m -> 5s and its [5m] windows -> [20s];
* ``TodoBackendHighErrorRateWrongStatus``: the same with its status matcher broken (``6..``), so it
  never sees the 5xx burst.

The healthy ones pass; the broken ones fail alerts.fire with the rule's state history.
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
from monitoring_conformance.stack import Fault
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.runner import SubprocessRunner, find_tool
from tests.live.live_support import FIGURES, require_tools

pytestmark = pytest.mark.live

SHIPPED = "TodoBackendDown"
ERRORS = "TodoBackendHighErrorRate"
SHORT_WINDOW = ("[5m]", "[20s]")
#: name -> (the chart's alert it is made from, for, expression replacements)
VARIANTS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    SHIPPED: (SHIPPED, "5s", ()),
    "TodoBackendDownWrongJob": (SHIPPED, "5s", (('job="todo-backend"', 'job="todo"'),)),
    "TodoBackendDownSlow": (SHIPPED, "10m", ()),
    ERRORS: (ERRORS, "5s", (SHORT_WINDOW,)),
    "TodoBackendHighErrorRateWrongStatus": (ERRORS, "5s", (SHORT_WINDOW, ('status=~"5.."', 'status=~"6.."'))),
}
#: The host profile's margin (fixtures/profiles/host.yaml), for the 5xx runs: their fault restarts a backend.
HOST_MARGIN = 10


def variants(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chart's groups plus a group of variants (the shipped rules, changed as named)."""
    shipped = {r["alert"]: r for g in groups for r in g["rules"] if r.get("alert") in (SHIPPED, ERRORS)}
    rules = []
    for name, (base, duration, replacements) in VARIANTS.items():
        rule = {**shipped[base], "alert": name, "for": duration}
        for old, new in replacements:
            assert old in rule["expr"], f"the chart's {base} no longer has {old}"
            rule["expr"] = rule["expr"].replace(old, new)
        rules.append(rule)
    others = [{**g, "rules": [r for r in g["rules"] if r.get("alert") not in shipped]} for g in groups]
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


def run_check(stack: LocalStack, alert: str, *, timeout: float, fault: Fault | None = None,
              margin: float = 5) -> Record:
    spec = Spec("alerts.fire", timeout=timeout, interval=0.5, threshold=None,
                options={"alert": alert, "margin": margin})
    record = Record.new("alerts.fire")
    prometheus = Prometheus(Endpoint(stack.url(localalerts.JOB_ALERT_PROMETHEUS), name="Prometheus"))
    alertmanager = Alertmanager(Endpoint(stack.url(localalerts.JOB_ALERTMANAGER), name="Alertmanager"))
    alerts.fire(prometheus, alertmanager, fault or localalerts.BackendDown(stack), spec, record)
    return record


def backend_answers(stack: LocalStack) -> bool:
    return requests.get(f"{stack.url(localalerts.JOB_FAULT)}/healthz", timeout=5).status_code == 200


def list_answers(stack: LocalStack) -> int:
    return requests.get(f"{stack.url(localalerts.JOB_FAULT)}{localalerts.ERROR_PATH}", timeout=5).status_code


def test_the_rule_file_holds_the_charts_rules(alert_stack: LocalStack) -> None:
    assert alert_stack.spec.rule_file is not None
    text = Path(alert_stack.spec.rule_file).read_text()
    for name in ("TodoBackendCrashLooping", *VARIANTS):
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



def test_the_shipped_error_rate_rule_fires_on_a_5xx_burst(alert_stack: LocalStack) -> None:
    record = run_check(alert_stack, ERRORS, timeout=40, fault=localalerts.ErrorBurst(alert_stack),
                       margin=HOST_MARGIN)

    assert record.threshold == 5 + 2 * 1 + HOST_MARGIN
    assert record.measured is not None
    assert 5 <= float(record.measured) <= float(record.threshold)
    assert "TODO_LIST_STATUS=500" in record.evidence[0]["fault"]
    assert list_answers(alert_stack) == 200, "the 5xx switch was not undone"
    FIGURES["alerts.fire (5xx, for 5s, [20s]): seconds to firing / to Alertmanager"] = (
        record.evidence[0]["prometheus_firing_s"], record.evidence[0]["alertmanager_listed_s"],
    )  # fmt: skip


def test_a_wrong_status_label_fails_naming_the_alert_and_the_5xx_is_undone(alert_stack: LocalStack) -> None:
    name = "TodoBackendHighErrorRateWrongStatus"
    with pytest.raises(CheckFailed) as failed:
        run_check(alert_stack, name, timeout=12, fault=localalerts.ErrorBurst(alert_stack),
                  margin=HOST_MARGIN)

    message = str(failed.value)
    assert message.startswith("alerts.fire FAILED after 12."), message
    assert f"{name} firing in Prometheus and listed by Alertmanager" in message
    history = message.split("state history:")[1]
    assert "prometheus inactive at +" in history
    assert "pending" not in history
    assert "firing" not in history
    assert list_answers(alert_stack) == 200, "the 5xx switch was not undone after the failure"
