"""The Todo backend refuses several workers: each would hold its own tasks and metrics registry."""

from __future__ import annotations

import pytest
from tests.unit.app.conftest import load_app_module

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("argv", "env", "workers"),
    [
        (["uvicorn", "main:app", "--workers", "2"], {}, 2),
        (["uvicorn", "main:app", "--workers=3"], {}, 3),
        (["gunicorn", "-w", "4", "main:app"], {}, 4),
        (["uvicorn", "main:app"], {"WEB_CONCURRENCY": "2"}, 2),
        (["uvicorn", "main:app", "--port", "8000"], {}, 1),
    ],
)
def test_worker_count_reads_the_server_command_line_and_web_concurrency(
    argv: list[str], env: dict[str, str], workers: int
) -> None:
    assert load_app_module().worker_count(argv, env) == workers


def test_several_workers_are_refused_saying_why(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        load_app_module().refuse_several_workers(["uvicorn", "main:app", "--workers", "2"], {})

    assert caught.value.code == 3
    err = capsys.readouterr().err
    assert "refusing to run with 2 workers" in err
    assert "per-process registries" in err


def test_one_process_is_accepted() -> None:
    load_app_module().refuse_several_workers(["uvicorn", "main:app"], {})
