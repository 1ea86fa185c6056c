"""Root conftest: only what must live at the root."""

pytest_plugins = ["pytester"]
