"""Bad input through the real CLI: one line on stderr naming the option or file, exit 2, no traceback.

Cases that stop before any network run ``python -m monitoring_conformance`` in a subprocess (the user's
view, all at once in a thread pool). Cases that need an answering server (connection refused, Grafana 401,
Loki 404) run ``cli.main`` in process, with doubles handed to the urls target through the plugin's hook.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests import REPO_ROOT
from tests.doubles import GrafanaDouble, LokiDouble, PrometheusDouble, connection_refused
from tests.doubles.transport import RecordedTransport
from tests.unit.core.helpers import CLEAN_ENV, CPU_QUERY, DoublesPlugin, clean_env, cpu_run_args

from monitoring_conformance import cli
from monitoring_conformance.errors import UsageError
from monitoring_conformance.settings import OPTIONS
from monitoring_conformance.tools.runner import Result, SubprocessRunner

pytestmark = pytest.mark.unit

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: kind-a, context: {cluster: c, user: u}}]
current-context: kind-a
"""


SECRET = "S3cret-Pw/9@x"  # a password as a user might paste it into a URL ("/" and "@" included)


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    words: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


def cases(tmp: Path) -> dict[str, Case]:
    (tmp / "blocker").write_text("a file, not a folder")
    (tmp / "kubeconfig").write_text(KUBECONFIG)
    bad_yaml = tmp / "bad-yaml.yaml"
    bad_yaml.write_text("requirements: [\n")
    unknown_id = tmp / "unknown-id.yaml"
    unknown_id.write_text("requirements:\n  metrics.disk: {timeout: 5}\n")
    negative = tmp / "negative.yaml"
    negative.write_text("requirements:\n  metrics.cpu: {timeout: -1, queries: {a: up}}\n")
    text_timeout = tmp / "text-timeout.yaml"
    text_timeout.write_text("requirements:\n  metrics.cpu: {timeout: later, queries: {a: up}}\n")
    url = ("--prometheus-url", "http://127.0.0.1:9")
    return {
        "missing-url": Case(("--target", "urls"), ("--prometheus-url is missing", "MC_PROMETHEUS_URL")),
        "malformed-url": Case(
            ("--prometheus-url", "localhost:9090"), ("--prometheus-url localhost:9090", "http")
        ),
        "profile-missing": Case(
            (*url, "--profile", "/no/such.yaml"), ("--profile /no/such.yaml", "not found")
        ),
        "profile-unknown-name": Case(
            (*url, "--profile", "staging"), ("--profile staging", "host, kind, managed")
        ),
        "profile-invalid": Case((*url, "--profile", str(bad_yaml)), (str(bad_yaml), "not valid YAML")),
        "unknown-requirement": Case(
            (*url, "--profile", str(unknown_id)), ("metrics.disk", "unknown requirement")
        ),
        "negative-timeout": Case(
            (*url, "--profile", str(negative)), ("timeout = -1", "must not be negative")
        ),
        "non-numeric-timeout": Case(
            (*url, "--profile", str(text_timeout)), ("timeout = 'later'", "not a number")
        ),
        "unknown-target": Case(("--target", "minikube"), ("--target minikube", "urls, kubeconfig, kind")),
        "report-dir-not-writable": Case(
            (*url, "--report-dir", str(tmp / "blocker" / "reports")), ("--report-dir", "not writable")
        ),
        "bad-timeout-scale": Case(
            (*url, "--timeout-scale", "fast"), ("--timeout-scale fast", "not a number")
        ),
        "bad-deployed-at": Case((*url, "--deployed-at", "yesterday"), ("--deployed-at yesterday", "RFC3339")),
        "missing-kubeconfig": Case(
            ("--target", "kubeconfig", "--kubeconfig", "/no/kubeconfig"),
            ("--kubeconfig /no/kubeconfig", "not found"),
        ),
        "unknown-context": Case(
            ("--target", "kubeconfig", "--kubeconfig", str(tmp / "kubeconfig"), "--context", "prod"),
            ("--context prod", "kind-a"),
        ),
        "unknown-option": Case((*url, "--tagret", "kind"), ("unrecognized arguments: --tagret", "--help")),
        "password-in-grafana-url": Case(
            (*url, "--grafana-url", f"http://admin:{SECRET}@127.0.0.1:3000"),
            ("--grafana-url http://***@127.0.0.1:3000: credentials in the URL", "MC_GRAFANA_PASSWORD"),
        ),
        "password-in-prometheus-url": Case(
            ("--prometheus-url", f"https://admin:{SECRET}@prometheus.example.org"),
            ("--prometheus-url https://***@prometheus.example.org", "MC_GRAFANA_USER"),
        ),
        "user-in-loki-env": Case(
            url,
            ("MC_LOKI_URL=http://***@127.0.0.1:3100", "not accepted"),
            env=(("MC_LOKI_URL", f"http://{SECRET}@127.0.0.1:3100"),),
        ),
        "host-empty-label": Case(
            ("--prometheus-url", "http://127..0.1:9090"),
            ("--prometheus-url http://127..0.1:9090: bad host name (an empty label between dots)",),
        ),
        "host-label-over-63": Case(
            ("--prometheus-url", f"http://{'a' * 64}.example.org:9090"),
            ("--prometheus-url http://aaaa", "has 64 characters, DNS allows 63"),
        ),
        "host-typo-in-env-twin": Case(
            url, ("MC_LOKI_URL=http://loki..example.org: bad host name",),
            env=(("MC_LOKI_URL", "http://loki..example.org"),),
        ),
    }


CASE_NAMES = [  # the ids, in order, without building the files
    "missing-url", "malformed-url", "profile-missing", "profile-unknown-name", "profile-invalid",
    "unknown-requirement", "negative-timeout", "non-numeric-timeout", "unknown-target",
    "report-dir-not-writable",
    "bad-timeout-scale", "bad-deployed-at", "missing-kubeconfig", "unknown-context", "unknown-option",
    "password-in-grafana-url", "password-in-prometheus-url", "user-in-loki-env",
    "host-empty-label", "host-label-over-63", "host-typo-in-env-twin",
]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Case, Result]]:
    """Every subprocess case, run side by side (each is a fresh interpreter: about a second)."""
    tmp = tmp_path_factory.mktemp("bad-input")
    work = tmp_path_factory.mktemp("cwd")
    table = cases(tmp)
    runner = SubprocessRunner()

    def run(case: Case) -> Result:
        argv = [sys.executable, "-m", "monitoring_conformance", *case.args]
        if "--report-dir" not in case.args:
            argv += ["--report-dir", str(work / "reports")]
        return runner.run(argv, timeout=60, check=False, cwd=work, env=CLEAN_ENV | dict(case.env))

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(run, case) for name, case in table.items()}
        return {name: (table[name], future.result()) for name, future in futures.items()}


def assert_one_line_usage_error(returncode: int, stdout: str, stderr: str, words: tuple[str, ...]) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    shown = f"exit {returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert returncode == cli.EXIT_USAGE, shown
    assert len(lines) == 1, shown
    assert stdout == "", shown  # nothing but the error: no pytest header before it
    assert all(word in lines[0] for word in words), shown
    assert "Traceback" not in stdout + stderr, shown
    assert not lines[0].startswith("ERROR"), shown


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_in_a_subprocess(runs: dict[str, tuple[Case, Result]], name: str) -> None:
    case, result = runs[name]

    assert_one_line_usage_error(result.returncode, result.stdout, result.stderr, case.words)


@pytest.mark.parametrize("name", [n for n in CASE_NAMES if "url" in n and ("password" in n or "user" in n)])
def test_a_password_in_a_url_is_never_shown(runs: dict[str, tuple[Case, Result]], name: str) -> None:
    _, result = runs[name]

    for part in (SECRET, SECRET.split("/")[0], "admin:"):
        assert part not in result.stdout + result.stderr, result.stderr


def test_every_case_has_an_id(tmp_path: Path) -> None:
    assert list(cases(tmp_path)) == CASE_NAMES


IN_PROCESS: dict[str, tuple[dict[str, RecordedTransport], tuple[str, ...], tuple[str, ...]]] = {
    "connection-refused": (
        {"Prometheus": PrometheusDouble(fail_all=connection_refused())},
        (),
        ("--prometheus-url http://prometheus.test: connection refused; start Prometheus there",),
    ),
    "grafana-401": (
        {"Prometheus": PrometheusDouble(), "Grafana": GrafanaDouble(credentials=("admin", "right"))},
        ("--grafana-url", GrafanaDouble.base_url),
        ("--grafana-url http://grafana.test: Grafana answered 401", "MC_GRAFANA_PASSWORD"),
    ),
    "loki-404": (
        {
            "Prometheus": PrometheusDouble(),
            "Loki": LokiDouble(status_overrides={"/loki/api/v1/status/buildinfo": 404}),
        },
        ("--loki-url", LokiDouble.base_url),
        ("--loki-url http://loki.test", "404 Not Found", "port 3100"),
    ),
}


@pytest.mark.parametrize("name", list(IN_PROCESS))
def test_bad_input_against_doubles_in_process(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env(monkeypatch, tmp_path)
    doubles, extra, words = IN_PROCESS[name]
    args = [
        "--prometheus-url",
        PrometheusDouble.base_url,
        "--report-dir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
    ]

    code = cli.main([*args, *extra], plugins=[DoublesPlugin(doubles)])

    captured = capsys.readouterr()
    assert_one_line_usage_error(code, captured.out, captured.err, words)


def test_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0

    text = capsys.readouterr().out
    for opt in OPTIONS:
        assert opt.env in text
    assert "--strict / --no-strict" in text
    assert "exit codes: 0 pass, 1 verdict fail, 2 bad input, 3 run incomplete" in text


@pytest.mark.parametrize(
    ("pytest_code", "expected"),
    [(0, 0), (1, 1), (4, 2), (2, 3), (3, 3), (5, 3)],
    ids=["ok", "failed", "usage", "interrupted", "internal", "no-tests"],
)
def test_exit_code_mapping(pytest_code: int, expected: int) -> None:
    assert cli.exit_code(pytest_code) == expected


def test_suite_dir_is_the_repository_one() -> None:
    assert cli.SUITE_DIR == REPO_ROOT / "tests" / "conformance"
    assert (cli.SUITE_DIR / "test_metrics.py").is_file()


def test_a_usage_error_from_the_target_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.setenv("MC_GRAFANA_USER", "admin")
    monkeypatch.setenv("MC_GRAFANA_PASSWORD", "Zebra-Quartz-77")

    def leaky_open(self: object) -> object:  # a target whose error text carries the password
        raise UsageError("--grafana-url http://grafana.test: login as admin/Zebra-Quartz-77 refused; fix it")

    monkeypatch.setattr("monitoring_conformance.targets.urls.UrlsTarget.open", leaky_open)
    args = [
        "--prometheus-url",
        PrometheusDouble.base_url,
        "--report-dir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
    ]

    code = cli.main(args, plugins=[DoublesPlugin({"Prometheus": PrometheusDouble()})])

    captured = capsys.readouterr()
    assert_one_line_usage_error(code, captured.out, captured.err, ("login as admin/*** refused",))
    assert "Zebra-Quartz-77" not in captured.out + captured.err


def test_cli_removes_stale_reports_and_leaves_no_junit_after_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env(monkeypatch, tmp_path)
    reports = tmp_path / "reports"
    reports.mkdir()
    for name in ("acceptance.json", "acceptance.md", "junit.xml"):
        (reports / name).write_text('{"verdict": "pass"}')
    (reports / "keep.txt").write_text("not ours")
    doubles = {"Prometheus": PrometheusDouble(fail_all=connection_refused())}
    args = [
        "--prometheus-url",
        PrometheusDouble.base_url,
        "--report-dir",
        str(reports),
        "-p",
        "no:cacheprovider",
    ]

    code = cli.main(args, plugins=[DoublesPlugin(doubles)])

    captured = capsys.readouterr()
    assert_one_line_usage_error(code, captured.out, captured.err, ("connection refused",))
    assert sorted(p.name for p in reports.iterdir()) == ["keep.txt"]


def test_cli_exits_non_zero_when_the_report_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [*cpu_run_args(tmp_path, monkeypatch), "--report-dir", str(tmp_path / "r")]

    def refuse(report: object, directory: Path) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("monitoring_conformance.report.write", refuse)
    series = {CPU_QUERY: [({}, 1.0)]}

    code = cli.main(args, plugins=[DoublesPlugin({"Prometheus": PrometheusDouble(vectors=series)})])

    captured = capsys.readouterr()
    assert code == cli.EXIT_INCOMPLETE, captured.out + captured.err
    assert "the report could not be written" in captured.out
