"""KindRun's inputs: the image tag from the build folder's content, the chart repositories added before the
dependency build, and pods that are finished for good (none of them may hold a wait up)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from tests.doubles import FakeClock

from monitoring_conformance.orchestrate import KindOptions
from monitoring_conformance.preflight import Host

from .conftest import answer, happy_runner, kind_payload, pods_of
from .test_orchestrate import make_run, up_fails

pytestmark = pytest.mark.unit


# -- the image tag -------------------------------------------------------------------------------------------


def test_image_tag_follows_the_build_folder_content(options: KindOptions) -> None:
    folder = options.app_context
    (folder / "app").mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (folder / "app" / "main.py").write_text("app = 1\n")
    first = options.image_tag

    (folder / "manifests").mkdir()
    (folder / "manifests" / "deployment.yaml").write_text("kind: Deployment\n")
    (folder / "app" / "__pycache__").mkdir()
    (folder / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    assert options.image_tag == first  # what does not go into the image does not change its tag

    (folder / "app" / "main.py").write_text("app = 2\n")
    assert options.image_tag != first
    assert options.image_tag.startswith("todo-backend:0.1.0-")
    assert len(options.image_tag.rsplit("-", 1)[1]) == 8


def test_rerun_on_a_kept_cluster_points_the_deployment_at_the_new_image(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    (options.app_context / "app").mkdir(parents=True)
    (options.app_context / "app" / "main.py").write_text("version = 1\n")
    first = options.image_tag
    (options.app_context / "app" / "main.py").write_text("version = 2\n")
    runner = happy_runner()
    runner.on(["kind", "get", "clusters"], stdout="mc-test\n")

    make_run(options, runner, clock, host).up()

    set_image = [c for c in runner.commands() if c[3:5] == ("set", "image")]
    assert [c[-3] for c in set_image] == [f"todo-backend={options.image_tag}"]
    assert options.image_tag != first
    assert ("kind", "load", "docker-image", "--name", "mc-test", "todo-backend:0.1.0", options.image_tag) in (
        runner.commands()
    )


# -- chart repositories (a clean machine has none added) -----------------------------------------------------


def test_repositories_are_added_into_run_local_files_next_to_the_kubeconfig(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()

    make_run(options, runner, clock, host).up()

    helm = [c for c in runner.commands() if c[0] == "helm" and c[1] in ("repo", "dependency")]
    assert [c[3] for c in helm[:-1]] == ["prometheus-community", "grafana-community", "grafana"]
    folder = options.kubeconfig_path.parent / "helm"
    for command in helm:
        assert command[-4:] == (
            "--repository-config", str(folder / "repositories.yaml"),
            "--repository-cache", str(folder / "repository-cache"),
        )  # fmt: skip
    assert helm[-1][:3] == ("helm", "dependency", "build")


def test_unreachable_repository_names_the_url_and_what_to_do(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["helm", "repo", "add", "grafana-community"], returncode=1, stderr=(
        'Error: looks like "https://grafana-community.github.io/helm-charts" is not a valid chart '
        'repository or cannot be reached: Get "https://grafana-community.github.io/helm-charts/index.yaml": '
        "dial tcp: lookup grafana-community.github.io on 10.255.255.53:53: no such host"))

    failure = up_fails(options, runner, clock, host)

    assert failure.phase == "dependency build"
    url = "https://grafana-community.github.io/helm-charts"
    assert failure.fix.startswith(f"{url} could not be reached")
    assert "curl -sI https://grafana-community.github.io/helm-charts/index.yaml" in failure.fix
    assert all(c[:2] != ("helm", "dependency") for c in runner.commands())


def test_no_repository_definition_is_explained(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    runner = happy_runner()
    runner.on(["helm", "dependency", "build"], returncode=1, stderr=(
        "Error: no repository definition for https://charts.example.test. Please add the missing "
        "repos via 'helm repo add'"))

    failure = up_fails(options, runner, clock, host)

    assert "no repository definition" in failure.reason
    assert failure.fix.startswith("helm found no repository entry for a dependency of")
    assert "could not be reached" not in failure.fix


# -- pods that are finished for good do not block the wait ---------------------------------------------------


def test_failed_pods_left_to_their_controller_do_not_block_the_wait(
    options: KindOptions, tools: Path, clock: FakeClock, host: Host
) -> None:
    listing = json.loads(kind_payload("pods-monitoring-ready.json"))
    evicted = copy.deepcopy(listing["items"][0])
    evicted["metadata"]["name"] = "grafana-6d5f7c9b8d-evict"
    owner = {"kind": "ReplicaSet", "name": "grafana-6d5f7c9b8d", "controller": True}
    evicted["metadata"]["ownerReferences"] = [owner]
    evicted["status"] = {"phase": "Failed", "reason": "Evicted", "conditions": []}
    retried = copy.deepcopy(evicted)
    retried["metadata"]["name"] = "kps-admission-create-old"
    retried["metadata"]["ownerReferences"] = []
    retried["metadata"]["labels"] = {"job-name": "kps-admission-create"}
    listing["items"] += [evicted, retried]
    runner = happy_runner()
    answer(runner, pods_of("monitoring"), stdout=json.dumps(listing))

    make_run(options, runner, clock, host).up()

    assert clock.sleeps == []
