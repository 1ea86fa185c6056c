"""Options: resolution order (CLI > env > ini > default), validation, and secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring_conformance.errors import UsageError
from monitoring_conformance.settings import OPTIONS, Settings, check_report_dir, parse_time, resolve

pytestmark = pytest.mark.unit


def test_defaults_when_nothing_is_given() -> None:
    settings = resolve({}, {})

    assert settings.target == "urls"
    assert settings.profile == "host"
    assert settings.strict is True
    assert settings.timeout_scale == 1.0
    assert settings.report_dir == Path("reports")
    assert settings.keep_cluster == "on-failure"
    assert settings.sources["target"] == "default"


@pytest.mark.parametrize(
    ("cli", "env", "ini", "expected", "source"),
    [
        ({"timeout_scale": "3"}, {"MC_TIMEOUT_SCALE": "2"}, {"timeout_scale": "4"}, 3.0, "cli"),
        ({}, {"MC_TIMEOUT_SCALE": "2"}, {"timeout_scale": "4"}, 2.0, "env"),
        ({}, {}, {"timeout_scale": "4"}, 4.0, "ini"),
        ({}, {"MC_TIMEOUT_SCALE": ""}, {}, 1.0, "default"),
    ],
    ids=["cli-wins", "env-over-ini", "ini-over-default", "empty-env-is-unset"],
)
def test_resolution_order(
    cli: dict[str, object], env: dict[str, str], ini: dict[str, str], expected: float, source: str
) -> None:
    settings = resolve(cli, env, ini)

    assert settings.timeout_scale == expected
    assert settings.sources["timeout_scale"] == source


def test_profile_default_follows_the_target() -> None:
    assert resolve({"target": "kind"}, {}).profile == "kind"
    assert resolve({"target": "kubeconfig"}, {}).profile == "managed"
    assert resolve({"target": "kind", "profile": "host"}, {}).profile == "host"


def test_no_strict_flag_and_env_twin() -> None:
    assert resolve({"strict": False}, {"MC_STRICT": "true"}).strict is False
    assert resolve({}, {"MC_STRICT": "0"}).strict is False
    assert resolve({}, {"MC_STRICT": "yes"}).strict is True


def test_keep_cluster_is_never_on_ci_unless_given() -> None:
    assert resolve({}, {"CI": "true"}).keep_cluster == "never"
    assert resolve({"keep_cluster": "always"}, {"CI": "true"}).keep_cluster == "always"
    assert resolve({}, {"CI": "false"}).keep_cluster == "on-failure"


def test_deployed_at_accepts_rfc3339_and_epoch() -> None:
    assert parse_time("2026-11-27T10:00:00Z", "x") == 1795773600.0
    assert parse_time("2026-11-27T11:00:00+01:00", "x") == 1795773600.0
    assert parse_time("1795780800.5", "x") == 1795780800.5


def test_urls_lose_their_trailing_slash() -> None:
    assert resolve({"prometheus_url": "http://127.0.0.1:9090/"}, {}).prometheus_url == "http://127.0.0.1:9090"


@pytest.mark.parametrize(
    ("cli", "env", "words"),
    [
        ({"target": "minikube"}, {}, ["--target minikube", "urls, kubeconfig, kind"]),
        ({}, {"MC_TARGET": "nope"}, ["MC_TARGET=nope", "use one of"]),
        ({"timeout_scale": "fast"}, {}, ["--timeout-scale fast", "not a number"]),
        ({"timeout_scale": "-1"}, {}, ["--timeout-scale -1", "greater than 0"]),
        ({"timeout_scale": "nan"}, {}, ["--timeout-scale nan"]),
        ({"prometheus_url": "127.0.0.1:9090"}, {}, ["--prometheus-url 127.0.0.1:9090", "http or https"]),
        ({"grafana_url": "ftp://grafana"}, {}, ["--grafana-url ftp://grafana", "scheme"]),
        ({"loki_url": "http://"}, {}, ["--loki-url http://", "no host"]),
        ({"app_url": "http://h:notaport"}, {}, ["--app-url http://h:notaport", "bad port"]),
        ({"deployed_at": "yesterday"}, {}, ["--deployed-at yesterday", "RFC3339"]),
        ({"deployed_at": "2026-11-27T10:00:00"}, {}, ["--deployed-at", "no time zone"]),
        ({"deployed_at": "-5"}, {}, ["--deployed-at -5", "positive"]),
        ({}, {"MC_STRICT": "maybe"}, ["MC_STRICT=maybe", "true or false"]),
        ({"keep_cluster": "sometimes"}, {}, ["--keep-cluster sometimes", "never, on-failure, always"]),
        ({}, {"MC_GRAFANA_PASSWORD": "pw"}, ["MC_GRAFANA_USER"]),
    ],
)
def test_bad_input_is_one_line_naming_option_value_and_fix(
    cli: dict[str, object], env: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(cli, env)

    message = str(caught.value)
    assert "\n" not in message
    assert all(word in message for word in words), message
    assert ";" in message  # the fix follows the problem


def test_ini_value_is_named_as_ini_in_errors() -> None:
    with pytest.raises(UsageError, match=r"ini mc_timeout_scale = x"):
        resolve({}, {}, {"timeout_scale": "x"})


def test_grafana_secrets_stay_out_of_repr() -> None:
    env = {"MC_GRAFANA_USER": "admin", "MC_GRAFANA_PASSWORD": "s3cr3t-pw", "MC_GRAFANA_TOKEN": "tok-123"}
    settings = resolve({}, env)

    shown = repr(settings)
    assert "s3cr3t-pw" not in shown
    assert "tok-123" not in shown
    assert settings.grafana.present
    assert settings.grafana.describe() == "token from MC_GRAFANA_TOKEN"
    assert sorted(settings.grafana.secrets()) == ["s3cr3t-pw", "tok-123"]


def test_settings_are_frozen() -> None:
    settings = resolve({}, {})

    with pytest.raises(AttributeError):
        settings.target = "kind"  # type: ignore[misc]


def test_every_option_has_flag_env_and_help() -> None:
    for opt in OPTIONS:
        assert opt.flag.startswith("--"), opt
        assert opt.env, opt
        assert opt.help, opt
        assert "\n" not in opt.help, opt
        assert hasattr(Settings, opt.name), opt


def test_report_dir_that_cannot_be_created_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings = resolve({"report_dir": str(blocker / "reports")}, {})

    with pytest.raises(UsageError, match=r"--report-dir .*file/reports: not writable \(Not a directory\)"):
        check_report_dir(settings)


def test_report_dir_is_created(tmp_path: Path) -> None:
    settings = resolve({}, {"MC_REPORT_DIR": str(tmp_path / "a" / "b")})

    assert check_report_dir(settings) == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []


@pytest.mark.parametrize(
    ("cli", "env", "shown"),
    [
        ({"grafana_url": "http://admin:Pa55-w0rd@grafana:3000"}, {}, "--grafana-url http://***@grafana:3000"),
        ({"app_url": "https://Pa55-w0rd@todo.example.org/"}, {}, "--app-url https://***@todo.example.org/"),
        ({}, {"MC_PROMETHEUS_URL": "http://u:Pa55-w0rd/x@prom:9090"}, "MC_PROMETHEUS_URL=http://***@prom:9090"),
        ({"loki_url": "ftp://u:Pa55-w0rd@loki"}, {}, "--loki-url ftp://***@loki"),  # before the scheme check
    ],
)
def test_credentials_in_a_url_are_refused_masked(
    cli: dict[str, str], env: dict[str, str], shown: str
) -> None:
    with pytest.raises(UsageError) as caught:
        resolve(cli, env)

    message = str(caught.value)
    assert message.startswith(f"{shown}: credentials in the URL are not accepted;")
    assert "MC_GRAFANA_USER and MC_GRAFANA_PASSWORD" in message
    assert "Pa55" not in message
    assert "\n" not in message


def test_env_timeout_scale_is_parsed_like_the_option() -> None:
    """The one resolver of MC_TIMEOUT_SCALE for a run without a suite: same parsing, same message."""
    from monitoring_conformance.settings import env_timeout_scale

    assert env_timeout_scale({"MC_TIMEOUT_SCALE": "2.5"}) == 2.5
    assert env_timeout_scale({}) == 1.0
    with pytest.raises(UsageError, match=r"^MC_TIMEOUT_SCALE=fast: not a number"):
        env_timeout_scale({"MC_TIMEOUT_SCALE": "fast"})
