"""Host names, options the target ignores, the report of a kind preflight failure, clean --plan endings, and
the verdicts of runs that did not finish (interrupted, incomplete). The CLI host-typo cases are in
test_cli_bad_input.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from tests.doubles import LokiDouble, PrometheusDouble
from tests.unit.core.helpers import CLEAN_ENV, CPU_QUERY, DoublesPlugin, cpu_run_args

from monitoring_conformance import cli, preflight
from monitoring_conformance import report as reports
from monitoring_conformance.errors import ConformanceError, UsageError
from monitoring_conformance.option_scope import ignored_options
from monitoring_conformance.requirement import PASS, Record
from monitoring_conformance.settings import host_problem, resolve
from monitoring_conformance.targets.urls import UrlsTarget

pytestmark = pytest.mark.unit

@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "prometheus.example.org.", "::1", "kps-prometheus", "a" * 63 + ".b"]
)
def test_good_host_names_pass(host: str) -> None:
    assert host_problem(host) is None


@pytest.mark.parametrize(
    ("host", "problem"),
    [("a..b", "an empty label between dots"), (".a", "an empty label between dots"),
     ("x" * 64, "has 64 characters"), ("a." * 127 + "ab", "256 characters, DNS allows 253")],
)  # fmt: skip
def test_bad_host_names_say_why(host: str, problem: str) -> None:
    assert problem in (host_problem(host) or "")


def test_a_host_the_http_stack_refuses_is_a_usage_error_not_a_traceback() -> None:
    refusing = PrometheusDouble(fail_all=ValueError("label empty or too long"))
    settings = resolve({"prometheus_url": PrometheusDouble.base_url}, {})
    target = UrlsTarget(settings, session_factory=lambda system: refusing.mount(requests.Session()))

    expected = r"^--prometheus-url http://prometheus.test: invalid URL \(label empty"
    with pytest.raises(UsageError, match=expected):
        target.open()


# -- options the target ignores -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cli_values", "env", "expected"),
    [
        ({"kubeconfig": "/tmp/kc", "cluster_name": "c1"}, {},
         ["--kubeconfig /tmp/kc is ignored with --target urls (used by --target kubeconfig)",
          "--cluster-name c1 is ignored with --target urls (used by --target kind)"]),
        ({"target": "kind", "prometheus_url": "http://p:9090"}, {"MC_INSTALL_CHART": "true"},
         ["--prometheus-url http://p:9090 is ignored with --target kind (used by --target urls)",
          "MC_INSTALL_CHART=True is ignored with --target kind (used by --target kubeconfig)"]),
        ({"target": "kubeconfig", "values": "charts/monitoring/ci/kind-values.yaml"}, {},
         ["--values charts/monitoring/ci/kind-values.yaml is ignored without --install-chart (nothing is"
          " installed)"]),
        ({"loki_tenant": "team-a"}, {},
         ["--loki-tenant team-a is ignored without --loki-url (no Loki to send it to)"]),
        ({}, {"KUBECONFIG": "/home/u/.kube/config"}, []),
        ({"target": "kubeconfig", "kubeconfig": "/tmp/kc", "install_chart": True,
          "values": "charts/monitoring/ci/kind-values.yaml"}, {}, []),
    ],
    ids=["urls-with-kube-options", "kind-with-url-and-env", "values-without-install", "tenant-without-loki",
         "kubeconfig-env-is-quiet", "all-used"],
)  # fmt: skip
def test_ignored_options_are_named_one_line_each(
    cli_values: dict[str, object], env: dict[str, str], expected: list[str]
) -> None:
    assert ignored_options(resolve(cli_values, env)) == expected


def test_the_cli_warns_at_once_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [*cpu_run_args(tmp_path, monkeypatch), "--report-dir", str(tmp_path / "r"), "--cluster-name", "c9"]
    doubles = DoublesPlugin({"Prometheus": PrometheusDouble(vectors={CPU_QUERY: [({}, 1.0)]})})

    code = cli.main(args, plugins=[doubles])

    captured = capsys.readouterr()
    assert code == cli.EXIT_PASS, captured
    assert captured.err.splitlines() == [
        "warning: --cluster-name c9 is ignored with --target urls (used by --target kind)"
    ]
    assert json.loads((tmp_path / "r" / "acceptance.json").read_text())["verdict"] == "pass"


# -- reports of runs that did not finish ------------------------------------------------------------------


def test_a_kind_preflight_failure_writes_an_incomplete_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in CLEAN_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "acceptance.json").write_text('{"verdict": "pass"}')
    (folder / "junit.xml").write_text("<testsuites/>")
    failed = [preflight.Check("docker", False, "docker engine not reachable", fix="start Docker",
                              missing="docker engine not reachable")]  # fmt: skip
    monkeypatch.setattr(preflight, "run_preflight", lambda runner, host=None: failed)

    code = cli.main(["--target", "kind", "--report-dir", str(folder)])

    err = capsys.readouterr().err
    assert code == cli.EXIT_INCOMPLETE
    assert err.splitlines() == [
        "kind target cannot start: docker engine not reachable",
        "  - docker engine not reachable: start Docker",
    ]
    report = json.loads((folder / "acceptance.json").read_text())
    assert report["verdict"] == "incomplete"
    assert (report["target"], report["profile"], report["requirements"]) == ("kind", "kind", [])
    assert report["diagnostics"]["session"] == [
        "kind target cannot start: docker engine not reachable",
        "  - docker engine not reachable: start Docker",
    ]
    assert (folder / "acceptance.md").read_text().startswith("# Acceptance report: INCOMPLETE")
    assert not (folder / "junit.xml").exists()


def test_a_stopped_verdict_overrides_the_records_and_keeps_the_problems() -> None:
    record = Record.new("metrics.cpu")
    record.add_case("test_cpu_series_exist", PASS, "")
    common = {"strict": True, "target": "urls", "profile": "host", "started": 0.0, "duration_s": 1.0}
    assert reports.build([record], **common)["verdict"] == "pass"  # type: ignore[arg-type]

    built = reports.build([record], **common, session_problems=["interrupted by SIGTERM"],  # type: ignore[arg-type]
                          stopped=reports.INTERRUPTED)  # fmt: skip

    assert built["verdict"] == "interrupted"
    assert built["diagnostics"] == {"session": ["interrupted by SIGTERM"]}
    assert reports.to_markdown(built).startswith("# Acceptance report: INTERRUPTED")
    with pytest.raises(ValueError, match="stopped must be"):
        reports.build([], strict=True, target="urls", profile="host", started=0.0, duration_s=1.0,
                      stopped="pass")  # fmt: skip


def test_no_stopped_verdict_keeps_pass_and_fail() -> None:
    assert reports.build([], strict=True, target="urls", profile="host", started=0.0,
                         duration_s=1.0)["verdict"] == "fail"  # fmt: skip



def test_plan_ends_cleanly_without_pytest_exit_banner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [*cpu_run_args(tmp_path, monkeypatch), "--report-dir", str(tmp_path / "r"), "--plan"]

    code = cli.main(args, plugins=[DoublesPlugin({"Prometheus": PrometheusDouble()})])

    captured = capsys.readouterr()
    assert code == cli.EXIT_PASS
    assert captured.err == ""
    assert "(the urls target runs no commands)" in captured.out
    assert "!!!" not in captured.out
    assert "_pytest.outcomes.Exit" not in captured.out
    assert not (tmp_path / "r" / "junit.xml").exists()


def test_a_plan_that_cannot_be_made_is_one_line_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [*cpu_run_args(tmp_path, monkeypatch), "--report-dir", str(tmp_path / "r"), "--plan"]

    def no_plan(self: object) -> list[list[str]]:
        raise ConformanceError("helm not found\n  fix: install helm")

    monkeypatch.setattr(UrlsTarget, "plan", no_plan)

    code = cli.main(args, plugins=[DoublesPlugin({"Prometheus": PrometheusDouble()})])

    captured = capsys.readouterr()
    assert code == cli.EXIT_INCOMPLETE
    assert captured.err == "--plan: helm not found fix: install helm\n"
    assert "!!!" not in captured.out


@pytest.mark.parametrize(
    ("extra", "code", "err"),
    [
        ((), cli.EXIT_USAGE,
         "--loki-url http://loki.test: Loki answered 401 (no org id) to GET /loki/api/v1/labels: it needs a"
         " tenant (auth_enabled: true); pass --loki-tenant TENANT or set MC_LOKI_TENANT\n"),
        (("--loki-tenant", "team-a"), cli.EXIT_PASS, ""),
    ],
    ids=["without-tenant", "with-tenant"],
)  # fmt: skip
def test_a_loki_that_needs_a_tenant_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...], code: int, err: str,
) -> None:
    args = [*cpu_run_args(tmp_path, monkeypatch), "--report-dir", str(tmp_path / "r"),
            "--loki-url", LokiDouble.base_url, *extra]  # fmt: skip
    loki = LokiDouble(tenant="team-a")
    doubles = {"Prometheus": PrometheusDouble(vectors={CPU_QUERY: [({}, 1.0)]}), "Loki": loki}

    result = cli.main(args, plugins=[DoublesPlugin(doubles)])

    captured = capsys.readouterr()
    assert (result, captured.err) == (code, err), captured.out
    assert set(loki.tenants_seen) == ({"team-a"} if extra else {None})
