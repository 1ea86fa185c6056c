"""The README's options table names every option with its environment twin, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitoring_conformance.cli import pytest_args
from monitoring_conformance.settings import OPTIONS

pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[3] / "README.md"


def options_table(text: str) -> dict[str, str]:
    """{flag: env cell} from the rows of the table under '## Options'."""
    section = text.split("\n## Options", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`--"):
            continue
        flags = re.findall(r"`(--[a-z-]+)`", cells[0])
        envs = re.findall(r"`([A-Z_]+)`", cells[1])
        for index, flag in enumerate(flags):
            rows[flag] = envs[index] if index < len(envs) else (envs[0] if envs else "")
    return rows


def test_every_option_is_in_the_readme_with_its_environment_twin() -> None:
    rows = options_table(README.read_text(encoding="utf-8"))

    for option in OPTIONS:
        assert option.flag in rows, f"README options table lacks {option.flag}"
        documented = rows[option.flag]
        assert documented == option.env, f"{option.flag}: README says {documented}, code says {option.env}"
    assert set(rows) - {"--no-strict"} == {o.flag for o in OPTIONS}


def test_the_table_reader_notices_a_missing_row() -> None:
    text = README.read_text(encoding="utf-8")
    broken = "\n".join(line for line in text.splitlines() if not line.startswith("| `--cluster-name`"))

    assert "--cluster-name" not in options_table(broken)


def test_a_plan_run_writes_no_junit(tmp_path: Path) -> None:
    assert not any(a.startswith("--junitxml") for a in pytest_args(["--plan"], tmp_path, plan=True))
    assert f"--junitxml={tmp_path / 'junit.xml'}" in pytest_args([], tmp_path)
