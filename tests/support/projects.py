"""Projects for tests: fixture projects copied to a temporary place, and Poetry loaded on them."""

from __future__ import annotations

import shutil

from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from poetry.poetry import Poetry


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LOCKS = FIXTURES / "locks"


def copy_project(scenario: str, destination: Path) -> Path:
    """The fixture project `scenario` (pyproject.toml + poetry.lock) copied to `destination`."""
    shutil.copytree(LOCKS / scenario, destination, ignore=shutil.ignore_patterns("*.md"))
    return destination


def load_poetry(project: Path) -> Poetry:
    from poetry.factory import Factory

    return Factory().create_poetry(project)


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit a file as a person would; fail loudly if the text to replace is not there."""
    text = path.read_text()
    if old not in text:
        raise AssertionError(f"{old!r} not found in {path}")
    path.write_text(text.replace(old, new, 1))
