"""Shared fixtures: every test runs with an isolated Poetry home and no CI environment.

The fixtures that need real services (Docker engine, registry, package index) live in
tests/integration/conftest.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest


if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="session")
def poetry_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Poetry's config, cache and data directories, shared by the session, empty at its start."""
    return tmp_path_factory.mktemp("poetry-home")


@pytest.fixture(autouse=True)
def isolated_poetry(poetry_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's Poetry configuration, cache or CI environment."""
    monkeypatch.setenv("POETRY_CONFIG_DIR", str(poetry_home / "config"))
    monkeypatch.setenv("POETRY_CACHE_DIR", str(poetry_home / "cache"))
    monkeypatch.setenv("POETRY_DATA_DIR", str(poetry_home / "data"))
    for name in (
        "POETRY_CI_IMAGE_REPOSITORY",
        "CI_REGISTRY",
        "CI_REGISTRY_IMAGE",
        "CI_REGISTRY_USER",
        "CI_REGISTRY_PASSWORD",
        "GITHUB_ACTIONS",
        "GITHUB_REPOSITORY",
        "GITHUB_OUTPUT",
        "GITHUB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
