"""Diagnostics of a kube target, saved when something failed.

Files in the diagnostics folder: ``pods.txt`` (every pod and its status), ``describe/<ns>_<pod>.txt`` and
``logs/<ns>_<pod>.log`` / ``.previous.log`` for every pod that is not ready or has failed (a hook Job's
pod), ``events.txt``, ``helm-status.txt``, ``helm-values.json`` (secret values masked),
``prometheus-targets.json``, ``grafana-search.json``, ``loki-labels.json`` and ``versions.txt``. Each
collector runs on its own: one that fails is reported as unavailable and the others still run, so
diagnostics never hide the original failure. Everything written goes through
:func:`monitoring_conformance.redact.redact`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.redact import MASK, redact
from monitoring_conformance.stack import Stack
from monitoring_conformance.tools.helm import Helm
from monitoring_conformance.tools.kubectl import Kubectl, pod_state

#: Keys whose values are secrets in helm values; names of Secrets and of their keys are kept readable.
SECRET_KEY = re.compile(r"password|passwd|secret|token|api[_-]?key|credential|private[_-]?key|cookie", re.I)
KEEP_KEYS = frozenset({"existingSecret", "existingSecretName", "secretName", "userKey", "passwordKey",
                       "secretKey", "tokenKey"})
MAX_POD_DETAILS = 20


def redact_values(values: Any) -> Any:
    """A copy of helm values with every secret-looking string value replaced by ``***``."""
    if isinstance(values, Mapping):
        masked: dict[str, Any] = {}
        for key, value in values.items():
            secret = SECRET_KEY.search(str(key)) and str(key) not in KEEP_KEYS
            scalar = isinstance(value, str | int | float) and not isinstance(value, bool)
            if secret and scalar and value != "":
                masked[str(key)] = MASK
            else:
                masked[str(key)] = redact_values(value)
        return masked
    if isinstance(values, list):
        return [redact_values(item) for item in values]
    return values


@dataclass
class Sources:
    """Where diagnostics come from; any of them may be missing (None)."""

    kubectl: Kubectl | None = None
    helm: Helm | None = None
    release: str = "monitoring"
    monitoring_namespace: str = "monitoring"
    endpoints: Mapping[str, Endpoint | None] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    #: The progress lines printed while helm waited (monitoring_conformance.helm_wait).
    helm_wait: Sequence[str] = ()


def stack_endpoints(stack: Stack | None) -> dict[str, Endpoint | None]:
    """The stack's endpoints by system name (none before a stack exists)."""
    if stack is None:
        return {}
    return {"prometheus": stack.prometheus, "grafana": stack.grafana, "loki": stack.loki, "app": stack.app}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


class Collector:
    """Writes the diagnostics files into ``directory`` and returns {name: one-line summary}."""

    def __init__(self, directory: Path, sources: Sources):
        self.directory = directory
        self.sources = sources

    def write(self, relative: str, text: str) -> Path:
        path = self.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(redact(text), encoding="utf-8")
        return path

    def collect(self) -> dict[str, str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        steps: dict[str, Callable[[], str]] = {
            "pods": self.pods, "events": self.events, "helm": self.helm, "helm wait": self.helm_wait,
            "prometheus targets": self.prometheus_targets, "grafana search": self.grafana_search,
            "loki labels": self.loki_labels, "versions": self.versions,
        }  # fmt: skip
        summary: dict[str, str] = {}
        for name, step in steps.items():
            try:
                summary[name] = redact(step())
            except Exception as exc:  # a failing collector must not stop the others
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                summary[name] = f"unavailable: {redact(first)}"
        self.write("summary.json", json.dumps(summary, indent=2) + "\n")
        return summary

    # -- cluster ----------------------------------------------------------------------------------------

    def _kubectl(self) -> Kubectl:
        if self.sources.kubectl is None:
            raise RuntimeError("no kubectl for this target")
        return self.sources.kubectl

    def pods(self) -> str:
        kubectl = self._kubectl()
        self.write("pods.txt", kubectl.text("get", "pods", "--all-namespaces", "-o", "wide"))
        pods = kubectl.pods(None)
        states = list(map(pod_state, pods))
        waiting = [state for state in states if state.blocks]
        failed = [state for state in states if state.phase == "Failed" and not state.blocks]  # hook Job pods
        for state in [*waiting, *failed][:MAX_POD_DETAILS]:
            stem = f"{_safe(state.namespace)}_{_safe(state.name)}"
            self.write(f"describe/{stem}.txt", kubectl.text("describe", "pod", state.name,
                                                            "--namespace", state.namespace))
            self.write(f"logs/{stem}.log", kubectl.logs(state.name, state.namespace))
            self.write(f"logs/{stem}.previous.log", kubectl.logs(state.name, state.namespace, previous=True))
        tail = f"; {len(failed)} failed: " + ", ".join(s.describe() for s in failed[:5]) if failed else ""
        names = ", ".join(state.describe() for state in waiting[:5])
        return f"{len(pods)} pods, {f'{len(waiting)} not ready: {names}' if waiting else 'all ready'}{tail}"

    def events(self) -> str:
        text = self._kubectl().text("get", "events", "--all-namespaces", "--sort-by=.lastTimestamp")
        self.write("events.txt", text)
        lines = [line for line in text.splitlines()[1:] if line.strip()]
        warnings = sum(1 for line in lines if " Warning " in f" {line} ")
        return f"{len(lines)} events, {warnings} warnings"

    def helm(self) -> str:
        helm = self.sources.helm
        if helm is None:
            raise RuntimeError("no helm for this target")
        release, namespace = self.sources.release, self.sources.monitoring_namespace
        argv = helm.argv("status", release, "--namespace", namespace)
        status = helm.runner.run(argv, timeout=60, check=False)
        self.write("helm-status.txt", status.stdout or status.stderr)
        values = helm.get_values(release, namespace)
        self.write("helm-values.json", json.dumps(redact_values(values), indent=2, sort_keys=True) + "\n")
        first = next((line for line in status.stdout.splitlines() if line.startswith("STATUS:")), "")
        said = first.replace("STATUS:", "release status:").strip()
        return said or status.stderr.strip()[:120] or "no status"

    def helm_wait(self) -> str:
        lines = list(self.sources.helm_wait)
        if not lines:
            return "no report (helm finished within one report period, or did not run)"
        self.write("helm-wait.txt", "\n".join(lines) + "\n")
        return f"{len(lines)} reports; last: {lines[-1]}"

    # -- services -------------------------------------------------------------------------------------

    def _get(self, key: str, path: str, filename: str) -> Any:
        endpoint = self.sources.endpoints.get(key)
        if endpoint is None:
            raise RuntimeError(f"no {key} endpoint for this target")
        response = endpoint.get(path)
        self.write(filename, response.text)
        return response.json()

    def prometheus_targets(self) -> str:
        data = self._get("prometheus", "api/v1/targets", "prometheus-targets.json")
        active = (data.get("data") or {}).get("activeTargets") or []
        down = [t for t in active if t.get("health") != "up"]
        jobs = sorted({str((t.get("labels") or {}).get("job", "?")) for t in down})
        tail = f": {', '.join(jobs)}" if jobs else ""
        return f"{len(active)} active targets, {len(down)} not up{tail}"

    def grafana_search(self) -> str:
        data = self._get("grafana", "api/search", "grafana-search.json")
        items = data if isinstance(data, list) else []
        titles = [str(item.get("uid")) for item in items if isinstance(item, dict)]
        return f"{len(titles)} dashboards: {', '.join(titles[:10])}" if titles else "no dashboards"

    def loki_labels(self) -> str:
        data = self._get("loki", "loki/api/v1/labels", "loki-labels.json")
        labels = data.get("data") or []
        return f"{len(labels)} labels: {', '.join(map(str, labels[:10]))}" if labels else "no labels"

    def versions(self) -> str:
        lines = [f"{name}: {value}" for name, value in sorted(self.sources.versions.items())]
        if self.sources.kubectl is not None:
            server = self.sources.kubectl.text("version", "-o", "json", timeout=20)
            lines += ["", "kubectl version -o json:", server]
        self.write("versions.txt", "\n".join(lines) + "\n")
        return ", ".join(f"{k} {v}" for k, v in sorted(self.sources.versions.items())) or "none recorded"


def collect(directory: Path, sources: Sources) -> dict[str, str]:
    """Write every diagnostics file into ``directory``; returns {name: summary}."""
    return Collector(directory, sources).collect()
