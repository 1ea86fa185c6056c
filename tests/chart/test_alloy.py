"""The Alloy config in the values: well-formed, wired, and what stream the Todo backend's logs land in.

There is no Alloy binary offline: the config is read structurally, and the stream is derived by applying its
discovery.relabel rules to the Todo backend pod's discovery labels (from its Deployment manifest).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest

from monitoring_conformance.tools.helm_offline import Manifest
from tests.chart.chartcheck.alloy import check_brackets, parse
from tests.chart.chartcheck.findings import Finding, format_findings
from tests.chart.chartcheck.logs import read_alloy, todo_stream
from tests.chart.chartcheck.relabel import Rule, apply, expand, pod_targets, sanitize
from tests.chart.chartcheck.values import Values
from tests.chart.support import KIND_SCENARIO, NAMESPACE, RELEASE, SCENARIOS, ScenarioValues, source_of

pytestmark = pytest.mark.chart

KEY = "alloy.alloy.configMap.content"


def _edited(values: Values, change: Callable[[str], str]) -> Values:
    edited = copy.deepcopy(values)
    config = edited["alloy"]["alloy"]["configMap"]
    before = config["content"]
    config["content"] = change(before)
    assert config["content"] != before, "the edit changed nothing: the test would prove nothing"
    return edited


def _findings(values: Values, app_manifests: list[Manifest]) -> list[Finding]:
    pipeline = read_alloy(values, "v", release=RELEASE, namespace=NAMESPACE)
    _, stream_findings = todo_stream(pipeline, app_manifests, "v")
    return pipeline.findings + stream_findings


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_alloy_config_is_well_formed_and_wired(
    scenario_values: ScenarioValues, scenario: str, app_manifests: list[Manifest]
) -> None:
    pipeline = read_alloy(
        scenario_values(scenario), source_of(scenario), release=RELEASE, namespace=NAMESPACE
    )
    assert pipeline.config is not None, format_findings(pipeline.findings)
    assert not pipeline.findings, format_findings(pipeline.findings)
    names = {block.name for block in pipeline.config.blocks}
    assert {"discovery.kubernetes", "discovery.relabel", "loki.source.kubernetes", "loki.write"} <= names


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_todo_backend_logs_get_namespace_pod_container_and_app(
    scenario_values: ScenarioValues, scenario: str, app_manifests: list[Manifest]
) -> None:
    pipeline = read_alloy(
        scenario_values(scenario), source_of(scenario), release=RELEASE, namespace=NAMESPACE
    )
    stream, findings = todo_stream(pipeline, app_manifests, source_of(scenario))
    assert not findings, format_findings(findings)
    assert stream == {
        "namespace": "todo",
        "pod": "todo-backend-7d4b9c8f6-x2x5q",
        "container": "todo-backend",
        "app": "todo-backend",
    }


def test_the_pod_labels_come_from_the_deployment(app_manifests: list[Manifest]) -> None:
    (target,) = pod_targets(app_manifests, "todo-backend")
    assert target["__meta_kubernetes_namespace"] == "todo"
    assert target["__meta_kubernetes_pod_name"].startswith("todo-backend-")
    assert target["__meta_kubernetes_pod_container_name"] == "todo-backend"
    assert target["__meta_kubernetes_pod_label_app_kubernetes_io_name"] == "todo-backend"
    assert target["__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name"] == "true"
    assert target["__meta_kubernetes_pod_container_port_name"] == "http"
    assert sanitize("app.kubernetes.io/name") == "app_kubernetes_io_name"


# --- negative cases ---------------------------------------------------------------------------------------


def test_a_wrong_source_label_loses_the_app_label(
    scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = _edited(
        scenario_values(KIND_SCENARIO),
        lambda c: c.replace(
            "__meta_kubernetes_pod_label_app_kubernetes_io_name", "__meta_kubernetes_pod_label_app"
        ),
    )
    (finding,) = _findings(values, app_manifests)
    assert (finding.file, finding.where) == ("v", KEY)
    assert "the todo-backend pod's logs get no app label, expected app='todo-backend'" in finding.message


def test_a_misspelled_receiver_is_reported(
    scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = _edited(
        scenario_values(KIND_SCENARIO), lambda c: c.replace("default.receiver", "defualt.receiver")
    )
    (finding,) = _findings(values, app_manifests)
    assert finding.where == KEY
    assert re.search(
        r"line \d+: forward_to = loki\.write\.defualt\.receiver names no declared", finding.message
    )
    assert 'loki.write "defualt"' in finding.message
    assert 'declared: discovery.kubernetes "pods"' in finding.message


def test_a_missing_closing_brace_is_reported(
    scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = _edited(scenario_values(KIND_SCENARIO), lambda c: c.rstrip().removesuffix("}"))
    lines = values["alloy"]["alloy"]["configMap"]["content"].splitlines()
    opened = next(n for n, line in enumerate(lines, start=1) if line.startswith('loki.write "default" {'))
    findings = _findings(values, app_manifests)
    assert [f.message for f in findings] == [f"line {opened}: '{{' is never closed"]


def test_node_name_instead_of_hostname_is_reported(
    scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = _edited(
        scenario_values(KIND_SCENARIO), lambda c: c.replace('sys.env("HOSTNAME")', 'sys.env("NODE_NAME")')
    )
    (finding,) = _findings(values, app_manifests)
    assert (
        'the node filter reads sys.env("NODE_NAME"), but the alloy chart puts the node name'
        in finding.message
    )
    assert 'use "spec.nodeName=" + sys.env("HOSTNAME")' in finding.message


def test_a_daemonset_without_a_node_filter_is_reported(
    scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = _edited(
        scenario_values(KIND_SCENARIO), lambda c: re.sub(r"\n\s*selectors \{[^}]*\}", "", c, count=1)
    )
    (finding,) = _findings(values, app_manifests)
    assert (
        'discovery.kubernetes "pods" has no selectors block with field = "spec.nodeName="' in finding.message
    )


def test_forward_to_must_be_a_list(scenario_values: ScenarioValues, app_manifests: list[Manifest]) -> None:
    values = _edited(
        scenario_values(KIND_SCENARIO),
        lambda c: c.replace(
            "forward_to = [loki.write.default.receiver]", "forward_to = loki.write.default.receiver"
        ),
    )
    (finding,) = _findings(values, app_manifests)
    assert "forward_to = loki . write . default . receiver is not a list" in finding.message


def test_a_rule_that_drops_the_todo_pod_is_reported(
    scenario_values: ScenarioValues, app_manifests: list[Manifest]
) -> None:
    values = _edited(
        scenario_values(KIND_SCENARIO), lambda c: c.replace('"Succeeded|Failed"', '"Running|Failed"')
    )
    (finding,) = _findings(values, app_manifests)
    assert finding.message == "the relabel rules drop every target of the todo-backend pod"


def test_braces_inside_strings_and_comments_do_not_count() -> None:
    text = 'a "x" {\n  // a } in a comment\n  s = "{ not a block"\n  /* { */\n  r = `}`\n}\n'
    assert check_brackets(text) == []
    assert check_brackets(text + "}\n") == ["line 7: '}' closes nothing"]
    assert check_brackets('a "x" {\n  b = [1, 2}\n}\n') == ["line 2: '}' closes the '[' of line 2"]
    assert check_brackets('a "x" {\n  s = "open\n}\n') == ["line 2: a string is never closed"]
    assert parse(text).blocks[0].attributes["s"].string() == "{ not a block"


# --- relabelling semantics --------------------------------------------------------------------------------


def test_rule_defaults_copy_the_source_label() -> None:
    """action replace, regex (.*), replacement $1, separator ;"""
    rule = Rule(line=1, source_labels=("a", "b"), target_label="both")
    assert apply([rule], {"a": "x", "b": "y"}) == {"a": "x", "b": "y", "both": "x;y"}


def test_an_empty_replacement_deletes_the_target_label_and_no_match_leaves_it() -> None:
    drop = Rule(line=1, source_labels=("missing",), target_label="app")
    assert apply([drop], {"app": "old"}) == {}
    keep = Rule(line=1, source_labels=("a",), regex="z+", target_label="app")
    assert apply([keep], {"a": "x", "app": "old"}) == {"a": "x", "app": "old"}


def test_keep_drop_and_labelmap() -> None:
    labels = {"__meta_kubernetes_pod_label_team": "web", "__meta_kubernetes_namespace": "todo"}
    assert (
        apply(
            [Rule(line=1, source_labels=("__meta_kubernetes_namespace",), regex="kube-.*", action="keep")],
            labels,
        )
        is None
    )
    assert (
        apply(
            [Rule(line=1, source_labels=("__meta_kubernetes_namespace",), regex="todo", action="drop")],
            labels,
        )
        is None
    )
    mapped = apply([Rule(line=1, regex="__meta_kubernetes_pod_label_(.+)", action="labelmap")], labels)
    assert mapped is not None
    assert mapped["team"] == "web"


def test_expand_follows_go_regexp_rules() -> None:
    match = re.fullmatch(r"(?P<first>a)(b)", "ab")
    assert match is not None
    assert expand("$1-${2}-$first-$$", match) == "a-b-a-$"
    assert expand("$1x", match) == ""  # Go reads the group name "1x", which does not exist
