"""The project: its files, read cheaply, and its facts, read from Poetry's view of it."""

from __future__ import annotations

import json

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.poetry.boundary import poetry_boundary
from poetry_ci_image.poetry.boundary import running_poetry_version
from poetry_ci_image.settings.target import KNOWN_MINORS


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping

    from poetry.poetry import Poetry


class Project:
    """A Poetry project: its files, read cheaply, and the Poetry object, made only when needed."""

    def __init__(self, root: Path, load: Callable[[], Poetry]) -> None:
        self.root = root
        self._load = load
        self._poetry: Poetry | None = None

    @classmethod
    def loaded(cls, poetry: Poetry) -> Project:
        """The project of a Poetry object made already."""
        project = cls(poetry.pyproject_path.parent, lambda: poetry)
        project._poetry = poetry
        return project

    @property
    def poetry(self) -> Poetry:
        """Poetry's view of the project, loaded on first use; a project Poetry refuses (an
        invalid pyproject.toml, a Poetry it does not want) is a ConfigError in Poetry's words."""
        if self._poetry is None:
            self._poetry = _loaded(self._load)
        return self._poetry


_INVALID = "The Poetry configuration is invalid:"
FIX_PYPROJECT = "Fix pyproject.toml (`poetry check` shows the same)."


def _loaded(load: Callable[[], Poetry]) -> Poetry:
    from poetry.exceptions import PoetryError
    from poetry.repositories.exceptions import InvalidSourceError

    try:
        return load()
    except RuntimeError as error:  # poetry-core's schema check, in its words
        text = str(error).strip()
        if not text.startswith(_INVALID):
            raise
        lines = text.removeprefix(_INVALID).strip().splitlines()
        problems = "\n".join(f"  {line.strip()}" for line in lines if line.strip())
        raise ConfigError(
            f"pyproject.toml is not a valid Poetry project:\n{problems}", FIX_PYPROJECT
        ) from None
    except (PoetryError, InvalidSourceError) as error:  # requires-poetry, sources
        raise ConfigError(f"Poetry refuses the project: {error}", FIX_PYPROJECT) from None


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
    if directory is None:  # Poetry 2.0 - 2.1: a private cached property
        directory = application._project_directory
    if callable(directory):  # in case a release made it a method
        directory = directory()
    return Path(directory)


def cache_directory() -> Path:
    """Poetry's cache directory (`cache-dir`, POETRY_CACHE_DIR), where the plugin keeps its own."""
    from poetry.config.config import Config

    return Path(Config.create().get("cache-dir"))


def global_config_file() -> Path:
    """Poetry's global config.toml (it may not exist)."""
    from poetry.locations import CONFIG_DIR

    return Path(CONFIG_DIR) / "config.toml"


@dataclass(frozen=True)
class ProjectFacts:
    """What the plugin needs to know of the project, as plain values."""

    root: Path
    table: Mapping[str, Any]  # [tool.poetry-ci-image]
    python_constraint: str
    allowed_minors: tuple[str, ...]
    poetry_version: str
    name: str | None  # the project's name, if it has one (package-mode = false may not)


def project_facts(poetry: Poetry) -> ProjectFacts:
    from poetry.core.constraints.version import parse_constraint

    with poetry_boundary("reading the project"):
        package = poetry.package
        allowed = tuple(
            minor
            for minor in KNOWN_MINORS
            if package.python_constraint.allows_any(parse_constraint(f"~{minor}"))
        )
        data = poetry.pyproject.data
        tool = data.get("tool", {})
        table = tool.get("poetry-ci-image", {})
        name = data.get("project", {}).get("name") or tool.get("poetry", {}).get("name")
    return ProjectFacts(
        root=poetry.pyproject_path.parent,
        # Plain values: Poetry may hand tomlkit items, which neither compare nor copy as dicts.
        table=json.loads(json.dumps(table)),
        python_constraint=package.python_versions,
        allowed_minors=allowed,
        poetry_version=running_poetry_version(),
        name=str(name) if name else None,
    )
