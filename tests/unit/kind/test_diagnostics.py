"""Diagnostics: the files written, secrets masked, and a failing collector never stopping the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.doubles import RecordedTransport, Reply
from tests.doubles.runner import RecordingRunner

from monitoring_conformance.api.http import Endpoint
from monitoring_conformance.diagnostics import Sources, collect, redact_values
from monitoring_conformance.redact import register_secret
from monitoring_conformance.release import ClusterHelm
from monitoring_conformance.tools.kubectl import Kubectl

from .conftest import answer, kind_payload

pytestmark = pytest.mark.unit


def service(payload: object, status: int = 200) -> RecordedTransport:
    transport = RecordedTransport()
    transport.route("GET", r"/.*", lambda call, match: Reply(status, payload))
    return transport


def sources(runner: RecordingRunner, endpoints: dict[str, Endpoint | None] | None = None) -> Sources:
    return Sources(
        kubectl=Kubectl(runner, "/bin/kubectl", kubeconfig="/k"),
        helm=ClusterHelm(runner, "/bin/helm", kubeconfig="/k"),
        endpoints=endpoints or {},
        versions={"kind": "v0.32.0", "helm": "v4.1.4"},
    )


def cluster_runner() -> RecordingRunner:
    runner = RecordingRunner()
    answer(
        runner,
        lambda a: "--all-namespaces" in a and "json" in a,
        stdout=kind_payload("pods-monitoring-pending.json"),
    )
    answer(
        runner, lambda a: "wide" in a, stdout="NAMESPACE NAME READY STATUS\nmonitoring loki-0 0/1 Pending\n"
    )
    answer(
        runner,
        lambda a: "events" in a,
        stdout="NAMESPACE LAST TYPE REASON\nmonitoring 1m Warning FailedMount\n",
    )
    answer(runner, lambda a: "describe" in a, stdout="Name: loki-0\nEvents: FailedMount\n")
    answer(runner, lambda a: "logs" in a and "--previous" not in a, stdout="level=info msg=starting\n")
    answer(
        runner,
        lambda a: "logs" in a and "--previous" in a,
        returncode=1,
        stderr='Error from server (BadRequest): previous terminated container "loki" not found\n',
    )
    answer(runner, lambda a: a[:2] == ("helm", "status"), stdout="NAME: monitoring\nSTATUS: deployed\n")
    answer(runner, lambda a: a[:3] == ("helm", "get", "values"), stdout=kind_payload("helm-values-all.json"))
    return runner


def test_cluster_files_are_written_for_pods_that_are_not_ready(tmp_path: Path) -> None:
    runner = cluster_runner()

    summary = collect(tmp_path, sources(runner))

    assert summary["pods"] == "7 pods, 1 not ready: monitoring/loki-0 (ContainerCreating in container loki)"
    assert summary["events"] == "1 events, 1 warnings"
    assert summary["helm"] == "release status: deployed"
    assert (tmp_path / "describe" / "monitoring_loki-0.txt").read_text().startswith("Name: loki-0")
    assert (tmp_path / "logs" / "monitoring_loki-0.log").read_text() == "level=info msg=starting\n"
    assert (
        "previous terminated container" in (tmp_path / "logs" / "monitoring_loki-0.previous.log").read_text()
    )
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    described = [c for c in runner.commands() if "describe" in c]
    assert described == [
        ("kubectl", "--kubeconfig", "/k", "describe", "pod", "loki-0", "--namespace", "monitoring")
    ]


def test_helm_values_are_written_with_secrets_masked(tmp_path: Path) -> None:
    collect(tmp_path, sources(cluster_runner()))

    text = (tmp_path / "helm-values.json").read_text()
    values = json.loads(text)
    grafana = values["kube-prometheus-stack"]["grafana"]
    assert grafana["adminPassword"] == "***"
    assert grafana["grafana.ini"]["security"]["secret_key"] == "***"
    assert grafana["admin"]["passwordKey"] == "admin-password"
    assert values["loki"]["loki"]["storage"]["s3"]["secretAccessKey"] == "***"
    assert "s3cr3t-from-values" not in text
    assert "wJalrEXAMPLEKEY" not in text


def test_registered_secrets_never_reach_a_file(tmp_path: Path) -> None:
    register_secret("hunter2-registered")
    runner = cluster_runner()
    answer(
        runner, lambda a: "logs" in a and "--previous" not in a, stdout="login with hunter2-registered ok\n"
    )

    collect(tmp_path, sources(runner))

    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert "hunter2-registered" not in path.read_text(), path


def test_service_diagnostics_come_from_the_endpoints(tmp_path: Path) -> None:
    prometheus = service(
        {
            "status": "success",
            "data": {
                "activeTargets": [
                    {"labels": {"job": "kubelet"}, "health": "up"},
                    {"labels": {"job": "todo-backend"}, "health": "down"},
                ]
            },
        }
    )
    grafana = service([{"uid": "todo-overview", "type": "dash-db"}, {"uid": "todo-logs", "type": "dash-db"}])
    loki = service({"status": "success", "data": ["namespace", "pod"]})
    endpoints: dict[str, Endpoint | None] = {
        "prometheus": prometheus.endpoint(name="Prometheus"),
        "grafana": grafana.endpoint(name="Grafana"),
        "loki": loki.endpoint(name="Loki"),
    }

    summary = collect(tmp_path, sources(cluster_runner(), endpoints))

    assert summary["prometheus targets"] == "2 active targets, 1 not up: todo-backend"
    assert summary["grafana search"] == "2 dashboards: todo-overview, todo-logs"
    assert summary["loki labels"] == "2 labels: namespace, pod"
    assert prometheus.calls[0].path == "/api/v1/targets"
    assert json.loads((tmp_path / "grafana-search.json").read_text())[0]["uid"] == "todo-overview"


def test_a_failing_collector_is_reported_and_the_rest_still_run(tmp_path: Path) -> None:
    runner = cluster_runner()
    runner.on(["kubectl"], returncode=1, stderr="The connection to the server 127.0.0.1:6443 was refused")
    endpoints: dict[str, Endpoint | None] = {"loki": service("boom", status=503).endpoint(name="Loki")}

    summary = collect(tmp_path, sources(runner, endpoints))

    assert summary["pods"].startswith(
        "unavailable: `/bin/kubectl --kubeconfig /k get pods --all-namespaces -o json` exited 1"
    )
    assert summary["loki labels"].startswith("unavailable: GET http://double.test/loki/api/v1/labels -> 503")
    assert summary["grafana search"] == "unavailable: no grafana endpoint for this target"
    assert summary["helm"] == "release status: deployed"
    assert summary["versions"] == "helm v4.1.4, kind v0.32.0"


def test_no_cluster_tools_means_cluster_sections_unavailable(tmp_path: Path) -> None:
    summary = collect(tmp_path, Sources())

    assert summary["pods"] == "unavailable: no kubectl for this target"
    assert summary["helm"] == "unavailable: no helm for this target"


def test_redact_values_keeps_names_and_masks_values() -> None:
    masked = redact_values(
        {
            "admin": {"existingSecret": "grafana-admin", "password": "x"},
            "apiKey": 12345,
            "tokenTTL": "",
            "ok": True,
        }
    )

    assert masked == {
        "admin": {"existingSecret": "grafana-admin", "password": "***"},
        "apiKey": "***",
        "tokenTTL": "",
        "ok": True,
    }


def test_a_failed_hook_jobs_pod_gets_its_describe_and_logs(tmp_path: Path) -> None:
    runner = cluster_runner()
    answer(
        runner,
        lambda a: "--all-namespaces" in a and "json" in a,
        stdout=kind_payload("pods-monitoring-hook-failed.json"),
    )

    summary = collect(tmp_path, sources(runner))

    assert summary["pods"] == "3 pods, all ready; 1 failed: monitoring/kps-admission-create-5kq2d (Failed)"
    assert (tmp_path / "describe" / "monitoring_kps-admission-create-5kq2d.txt").is_file()
    assert (tmp_path / "logs" / "monitoring_kps-admission-create-5kq2d.previous.log").is_file()
