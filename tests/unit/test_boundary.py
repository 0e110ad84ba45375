"""Where an unexpected error is said to be Poetry's: only in calls into Poetry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.projects import copy_project
from tests.support.projects import load_poetry

from poetry_ci_image.errors import UnsupportedPoetryError
from poetry_ci_image.poetry import planner
from poetry_ci_image.settings.merge import GroupSelection
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target


if TYPE_CHECKING:
    from pathlib import Path


TARGET = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36)))


def test_a_bug_of_the_plugin_in_planning_is_not_blamed_on_poetry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TypeError in the plugin's own making of the plan is raised as itself (a bug to
    report), not as an unsupported Poetry."""

    def broken(*args: object) -> None:
        raise TypeError("a bug of the plugin")

    monkeypatch.setattr(planner, "PlannedPackage", broken)
    poetry = load_poetry(copy_project("base", tmp_path / "webapp"))
    with pytest.raises(TypeError, match="a bug of the plugin"):
        planner.plan_install(poetry, TARGET, GroupSelection())


def test_poetry_misbehaving_is_an_unsupported_poetry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same kind of error from Poetry's own installer names Poetry and where to report it."""

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a changed signature")

    monkeypatch.setattr(planner, "Installer", broken)
    poetry = load_poetry(copy_project("base", tmp_path / "webapp"))
    with pytest.raises(UnsupportedPoetryError) as raised:
        planner.plan_install(poetry, TARGET, GroupSelection())
    assert "failed unexpectedly while planning the install from poetry.lock" in raised.value.message
