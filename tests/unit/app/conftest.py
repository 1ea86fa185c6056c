"""Fixtures for the Todo backend's unit tests: the app module loaded from its file, a fresh app per test."""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_FILE = REPO_ROOT / "fixtures" / "todo-backend" / "app" / "main.py"


def load_app_module() -> ModuleType:
    """Import fixtures/todo-backend/app/main.py under a name of its own (it is not a package)."""
    name = "todo_backend_main"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, APP_FILE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the Todo backend from {APP_FILE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def todo_module() -> ModuleType:
    return load_app_module()


@pytest.fixture
def log_stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def todo_client(todo_module: ModuleType, log_stream: io.StringIO) -> Iterator[TestClient]:
    """A fresh app (own store, own registry) whose JSON request lines go to ``log_stream``."""
    with TestClient(todo_module.create_app(log_stream=log_stream)) as client:
        yield client
