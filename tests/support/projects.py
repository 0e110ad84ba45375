"""Projects for tests: fixture projects copied to a temporary place, and Poetry loaded on them."""

from __future__ import annotations

import shutil

from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry.poetry import Poetry

    from poetry_ci_image.settings.merge import Options
    from poetry_ci_image.tag.plan_cache import PlanCache
    from poetry_ci_image.tag.resolve import Resolved


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LOCKS = FIXTURES / "locks"


def copy_project(scenario: str, destination: Path) -> Path:
    """The fixture project `scenario` (pyproject.toml + poetry.lock) copied to `destination`."""
    shutil.copytree(LOCKS / scenario, destination, ignore=shutil.ignore_patterns("*.md"))
    return destination


def load_poetry(project: Path) -> Poetry:
    """Poetry for `project`, as a fresh `poetry` process would load it.

    Poetry keeps one Config per process and merges each project's poetry.toml into it, so the
    global configuration is reloaded first: one test's poetry.toml must not leak into the next.
    """
    from poetry.config.config import Config
    from poetry.factory import Factory

    Config.create(reload=True)
    return Factory().create_poetry(project)


def resolve_project(
    project: Path,
    options: Options | None = None,
    cache: PlanCache | None = None,
    env: Mapping[str, str] | None = None,
) -> Resolved:
    """What every command computes first, for the project at `project` (no environment)."""
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.settings.merge import Options
    from poetry_ci_image.tag.resolve import resolve

    loaded = Project(project, lambda: load_poetry(project))
    return resolve(loaded, options or Options(), dict(env or {}), cache)


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit a file as a person would; fail loudly if the text to replace is not there."""
    text = path.read_text()
    if old not in text:
        raise AssertionError(f"{old!r} not found in {path}")
    path.write_text(text.replace(old, new, 1))
