"""The project: its files, read cheaply, and its facts, read from Poetry's view of it."""

from __future__ import annotations

import json

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.plan_cache import ProjectInputs
from poetry_ci_image.plan_cache import poetry_settings


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping

    from poetry.poetry import Poetry


KNOWN_MINORS = tuple(f"3.{minor}" for minor in range(8, 17))


class Project:
    """A Poetry project: its files, read cheaply, and the Poetry object, made only when needed."""

    def __init__(self, root: Path, load: Callable[[], Poetry]) -> None:
        self.root = root
        self._load = load
        self._poetry: Poetry | None = None

    @property
    def poetry(self) -> Poetry:
        if self._poetry is None:
            self._poetry = self._load()
        return self._poetry

    def inputs(self, env: Mapping[str, str]) -> ProjectInputs:
        """What the facts and the plan are computed from, for the plan cache's key."""
        from poetry.__version__ import __version__ as poetry_version
        from poetry.locations import CONFIG_DIR

        return ProjectInputs(
            pyproject=(self.root / "pyproject.toml").read_bytes(),
            lock=_read(self.root / "poetry.lock"),
            local_config=_read(self.root / "poetry.toml"),
            global_config=_read(Path(CONFIG_DIR) / "config.toml"),
            poetry_settings=poetry_settings(env),
            poetry_version=poetry_version,
        )


def project_root(directory: Path) -> Path:
    """The directory of the pyproject.toml Poetry uses for `directory` (it searches upwards)."""
    from poetry.core.factory import Factory

    try:
        return Factory.locate(directory).parent
    except RuntimeError as error:  # Poetry's own words: no pyproject.toml found
        raise ConfigError(str(error), "Run the command in a Poetry project, or pass -C.") from None


def application_directory(application: Any) -> Path:
    """The project directory Poetry's application was given (-C/--directory, -P/--project)."""
    directory = getattr(application, "project_directory", None)
    if directory is None:  # Poetry 2.0 - 2.1: a method
        directory = application._project_directory()
    return Path(directory)


def plan_cache_directory() -> Path:
    from poetry.config.config import Config

    return Path(Config.create().get("cache-dir")) / "ci-image" / "plans"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class ProjectFacts:
    """What the plugin needs to know of the project, as plain values."""

    root: Path
    table: Mapping[str, Any]  # [tool.poetry-ci-image]
    python_constraint: str
    allowed_minors: tuple[str, ...]
    poetry_version: str


def project_facts(poetry: Poetry) -> ProjectFacts:
    from poetry.__version__ import __version__ as poetry_version
    from poetry.core.constraints.version import parse_constraint

    package = poetry.package
    allowed = tuple(
        minor
        for minor in KNOWN_MINORS
        if package.python_constraint.allows_any(parse_constraint(f"~{minor}"))
    )
    tool = poetry.pyproject.data.get("tool", {})
    table = tool.get("poetry-ci-image", {})
    return ProjectFacts(
        root=poetry.pyproject_path.parent,
        # Plain values: Poetry may hand tomlkit items, which neither compare nor copy as dicts.
        table=json.loads(json.dumps(table)),
        python_constraint=package.python_versions,
        allowed_minors=allowed,
        poetry_version=poetry_version,
    )
