"""Which Loki stream the Todo backend's logs land in, derived from the Alloy config itself.

The Todo backend pod's discovery labels (``__meta_kubernetes_*``) are computed from its Deployment in
``fixtures/todo-backend/manifests``; the ``rule`` blocks of each ``discovery.relabel`` between
``discovery.kubernetes`` and ``loki.source.kubernetes`` are applied to them with Prometheus relabelling
semantics (action ``replace``, regex ``(.*)`` fully anchored, replacement ``$1``, separator ``;`` by default);
the labels left that do not start with ``__`` are the stream's labels.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitoring_conformance.tools.helm_offline import Manifest
from tests.chart.chartcheck.alloy import AlloyConfig, Block

#: Stand-ins for what only a running cluster knows (the pod name follows the Deployment's pattern).
POD_TEMPLATE_HASH = "7d4b9c8f6"
POD_SUFFIX = "x2x5q"
NODE_NAME = "monitoring-conformance-control-plane"
ACTIONS = (
    "replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop", "labelkeep",
    "lowercase", "uppercase",
)  # fmt: skip

_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_GROUP = re.compile(r"\$(?:\{(\w+)\}|(\w+)|(\$))")


class RelabelError(ValueError):
    """A rule this check cannot evaluate (unknown action, a non-literal attribute, a bad regex)."""


@dataclass(frozen=True)
class Rule:
    """One ``rule`` block of ``discovery.relabel``, defaults filled in."""

    line: int
    source_labels: tuple[str, ...] = ()
    separator: str = ";"
    regex: str = "(.*)"
    target_label: str = ""
    replacement: str = "$1"
    action: str = "replace"
    modulus: int = 0


def sanitize(name: str) -> str:
    """Kubernetes label or annotation name -> the suffix of its ``__meta_kubernetes_pod_label_`` label."""
    return _UNSAFE.sub("_", name)


def pod_targets(manifests: Sequence[Manifest], deployment: str) -> list[dict[str, str]]:
    """``discovery.kubernetes`` (role pod) targets of one pod of ``deployment``: one per container port."""
    found = [m for m in manifests if m.kind == "Deployment" and m.name == deployment]
    if not found:
        raise RelabelError(f"no Deployment named {deployment!r} in the Todo backend manifests")
    obj = found[0].obj
    namespace = str((obj.get("metadata") or {}).get("namespace") or "default")
    template: Mapping[str, Any] = (obj.get("spec") or {}).get("template") or {}
    metadata: Mapping[str, Any] = template.get("metadata") or {}
    labels = {**{str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
              "pod-template-hash": POD_TEMPLATE_HASH}  # fmt: skip
    pod = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": f"{deployment}-{POD_TEMPLATE_HASH}-{POD_SUFFIX}",
        "__meta_kubernetes_pod_ip": "10.244.0.21",
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_node_name": NODE_NAME,
        "__meta_kubernetes_pod_host_ip": "172.18.0.2",
        "__meta_kubernetes_pod_uid": "5e0b7a31-2c4d-4f6e-8a9b-0c1d2e3f4a5b",
        "__meta_kubernetes_pod_controller_kind": "ReplicaSet",
        "__meta_kubernetes_pod_controller_name": f"{deployment}-{POD_TEMPLATE_HASH}",
    }
    for kind, values in (("label", labels), ("annotation", metadata.get("annotations") or {})):
        for key, value in values.items():
            pod[f"__meta_kubernetes_pod_{kind}_{sanitize(str(key))}"] = str(value)
            pod[f"__meta_kubernetes_pod_{kind}present_{sanitize(str(key))}"] = "true"
    targets: list[dict[str, str]] = []
    for container in (template.get("spec") or {}).get("containers") or []:
        base = {
            **pod,
            "__meta_kubernetes_pod_container_name": str(container.get("name", "")),
            "__meta_kubernetes_pod_container_image": str(container.get("image", "")),
            "__meta_kubernetes_pod_container_init": "false",
            "__address__": pod["__meta_kubernetes_pod_ip"],
        }
        ports = container.get("ports") or []
        for port in ports:
            targets.append({
                **base,
                "__address__": f"{pod['__meta_kubernetes_pod_ip']}:{port.get('containerPort')}",
                "__meta_kubernetes_pod_container_port_name": str(port.get("name", "")),
                "__meta_kubernetes_pod_container_port_number": str(port.get("containerPort", "")),
                "__meta_kubernetes_pod_container_port_protocol": str(port.get("protocol", "TCP")),
            })  # fmt: skip
        if not ports:
            targets.append(base)
    return targets


def rules_of(block: Block) -> list[Rule]:
    """The ``rule`` blocks of a ``discovery.relabel`` block; RelabelError for what cannot be evaluated."""
    rules: list[Rule] = []
    for rule in block.children("rule"):
        values: dict[str, Any] = {"line": rule.line}
        for name, attribute in rule.attributes.items():
            if name == "source_labels":
                labels = attribute.strings()
                if labels is None:
                    raise RelabelError(f"line {attribute.line}: source_labels must be a list of strings")
                values[name] = tuple(labels)
            elif name == "modulus":
                if not attribute.text().isdigit():
                    raise RelabelError(f"line {attribute.line}: modulus must be a number")
                values[name] = int(attribute.text())
            elif name in ("separator", "regex", "target_label", "replacement", "action"):
                text = attribute.string()
                if text is None:
                    raise RelabelError(f"line {attribute.line}: {name} must be a string literal")
                values[name] = text
            else:
                raise RelabelError(f"line {attribute.line}: unknown rule attribute {name!r}")
        if values.get("action", "replace") not in ACTIONS:
            raise RelabelError(
                f"line {rule.line}: unknown action {values['action']!r} (one of {', '.join(ACTIONS)})"
            )
        rules.append(Rule(**values))
    return rules


def expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""

    def group(found: re.Match[str]) -> str:
        if found.group(3):
            return "$"
        name = found.group(1) or found.group(2)
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group: Go expands it to nothing
            return ""
        return value or ""

    return _GROUP.sub(group, template)


def _compile(rule: Rule) -> re.Pattern[str]:
    try:
        return re.compile(rule.regex)
    except re.error as exc:
        raise RelabelError(f"line {rule.line}: regex {rule.regex!r} does not compile: {exc}") from exc


def apply(rules: Sequence[Rule], labels: Mapping[str, str]) -> dict[str, str] | None:
    """The labels after ``rules``; None when a rule drops the target."""
    current = dict(labels)
    for rule in rules:
        pattern = _compile(rule)
        value = rule.separator.join(current.get(name, "") for name in rule.source_labels)
        match = pattern.fullmatch(value)
        if (rule.action == "drop" and match) or (rule.action == "keep" and not match):
            return None
        if rule.action in ("keepequal", "dropequal"):
            equal = value == current.get(rule.target_label, "")
            if equal == (rule.action == "dropequal"):
                return None
        elif rule.action == "replace" and match:
            target = expand(rule.target_label, match)
            if _LABEL_NAME.match(target):
                result = expand(rule.replacement, match)
                if result:
                    current[target] = result
                else:
                    current.pop(target, None)
        elif rule.action in ("lowercase", "uppercase"):
            current[rule.target_label] = value.lower() if rule.action == "lowercase" else value.upper()
        elif rule.action == "hashmod":
            if rule.modulus <= 0:
                raise RelabelError(f"line {rule.line}: hashmod needs a modulus > 0")
            digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
            current[rule.target_label] = str(int.from_bytes(digest[8:], "big") % rule.modulus)
        elif rule.action == "labelmap":
            for name, label_value in list(current.items()):
                found = pattern.fullmatch(name)
                if found:
                    current[expand(rule.replacement, found)] = label_value
        elif rule.action in ("labeldrop", "labelkeep"):
            drop = rule.action == "labeldrop"
            current = {k: v for k, v in current.items() if (pattern.fullmatch(k) is not None) != drop}
    return current


def _source_chain(config: AlloyConfig, source: Block) -> tuple[list[Block], Block]:
    """The discovery.relabel blocks feeding ``source`` (discovery order) and the discovery block itself."""
    chain: list[Block] = []
    current = source
    for _ in range(len(config.blocks) + 1):
        targets = current.attributes.get("targets")
        references = targets.references() if targets is not None else []
        if len(references) != 1:
            raise RelabelError(
                f"line {current.line}: {current.describe()} takes `targets` from "
                f"{targets.text() if targets else 'nothing'}; expected one component's targets/output"
            )
        parts = references[0].split(".")
        upstream = config.find(".".join(parts[:-2]), parts[-2]) if len(parts) >= 3 else None
        if upstream is None:
            raise RelabelError(f"line {current.line}: {references[0]} is not declared")
        if upstream.name == "discovery.kubernetes":
            return list(reversed(chain)), upstream
        if upstream.name != "discovery.relabel":
            raise RelabelError(
                f"line {upstream.line}: {upstream.describe()} feeds {current.describe()}; "
                "expected discovery.relabel or discovery.kubernetes"
            )
        chain.append(upstream)
        current = upstream
    raise RelabelError(f"line {source.line}: the targets of {source.describe()} go round in a circle")


def log_streams(config: AlloyConfig, targets: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The streams the given pod targets end up in, over every ``loki.source.kubernetes`` of the config."""
    sources = config.components("loki.source.kubernetes")
    if not sources:
        raise RelabelError("no loki.source.kubernetes block: nothing tails pod logs")
    streams: list[dict[str, str]] = []
    for source in sources:
        chain, discovery = _source_chain(config, source)
        role = discovery.attributes.get("role")
        if role is None or role.string() != "pod":
            raise RelabelError(f'line {discovery.line}: {discovery.describe()} must have role = "pod"')
        rules = [rule for block in chain for rule in rules_of(block)]
        for target in targets:
            result = apply(rules, target)
            if result is not None:
                stream = {k: v for k, v in sorted(result.items()) if not k.startswith("__")}
                if stream not in streams:
                    streams.append(stream)
    return streams
