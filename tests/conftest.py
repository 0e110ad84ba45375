"""Shared fixtures: every test runs with an isolated Poetry home, a Poetry cache of its own and no
CI environment; and the options that run the suite in another order.

The fixtures that need real services (Docker engine, registry, package index) live in
tests/integration/conftest.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.caches import cache_sharing_inputs
from tests.support.order import arranged
from tests.support.order import reversed_order
from tests.support.order import shuffled


if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("order", "the order the tests run in")
    group.addoption(
        "--shuffle",
        type=int,
        metavar="SEED",
        help="run the modules, and the tests within each, in an order shuffled by SEED; a "
        "module's (and a class's) tests stay together, so their fixtures are made once",
    )
    group.addoption(
        "--reverse",
        action="store_true",
        help="run the modules, and the tests within each, in the reverse of the files' order",
    )


@pytest.hookimpl(tryfirst=True)  # before pytest groups the tests of a parametrized fixture
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed, reverse = config.getoption("shuffle"), config.getoption("reverse")
    if seed is not None and reverse:
        raise pytest.UsageError("--shuffle and --reverse are two orders: give one.")
    if seed is not None:
        items[:] = arranged(items, scopes, shuffled(seed))
    elif reverse:
        items[:] = arranged(items, scopes, reversed_order)


def scopes(item: pytest.Item) -> Sequence[pytest.Module | pytest.Class]:
    """The module and the classes `item` is in, outermost first."""
    return [node for node in item.listchain() if isinstance(node, (pytest.Module, pytest.Class))]


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = config.getoption("shuffle")
    if seed is not None:
        return f"test order: shuffled (--shuffle {seed} runs it again)"
    if config.getoption("reverse"):
        return "test order: reversed"
    return None


@pytest.fixture(scope="session")
def poetry_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Poetry's config and data directories, shared by the session, empty at its start (no test
    writes Poetry's configuration)."""
    return tmp_path_factory.mktemp("poetry-home")


@pytest.fixture(scope="session")
def shared_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inputs every Poetry cache of the session shares, named by their content
    (tests/support/caches.py says which): Poetry's downloads, its wheels for the image, the
    bases' interpreters and the facts of their files."""
    return tmp_path_factory.mktemp("shared-inputs")


@pytest.fixture
def poetry_cache(tmp_path_factory: pytest.TempPathFactory, shared_inputs: Path) -> Path:
    """This test's own Poetry cache directory (POETRY_CACHE_DIR): nothing another test wrote,
    but the shared inputs."""
    return cache_sharing_inputs(tmp_path_factory.mktemp("poetry-cache"), shared_inputs)


@pytest.fixture(scope="module")
def module_poetry_cache(tmp_path_factory: pytest.TempPathFactory, shared_inputs: Path) -> Path:
    """A module's own Poetry cache directory, for the module-scoped fixtures that build once
    for the module's tests (each says that it uses it): nothing another module wrote, but the
    shared inputs."""
    return cache_sharing_inputs(tmp_path_factory.mktemp("module-poetry-cache"), shared_inputs)


@pytest.fixture(autouse=True)
def isolated_poetry(poetry_home: Path, poetry_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's Poetry configuration, cache or CI environment, nor the
    cache another test wrote."""
    monkeypatch.setenv("POETRY_CONFIG_DIR", str(poetry_home / "config"))
    monkeypatch.setenv("POETRY_CACHE_DIR", str(poetry_cache))
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
