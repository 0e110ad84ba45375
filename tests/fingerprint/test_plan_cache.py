"""The plan cache gives exactly what the computation gives, and never outlives its inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from poetry_ci_image.poetry.project import Project
from poetry_ci_image.settings.merge import Options
from poetry_ci_image.tag.plan_cache import CachedFacts
from poetry_ci_image.tag.plan_cache import PlanCache
from poetry_ci_image.tag.plan_cache import ProjectInputs
from poetry_ci_image.tag.resolve import resolve
from tests.support.projects import copy_project
from tests.support.projects import load_poetry
from tests.support.projects import replace_in


if TYPE_CHECKING:
    from pathlib import Path

    from poetry.poetry import Poetry

    from poetry_ci_image.tag.resolve import Resolved


class CountingProject(Project):
    """A project that counts how often Poetry had to be loaded."""

    def __init__(self, root: Path) -> None:
        self.loads = 0

        def load() -> Poetry:
            self.loads += 1
            return load_poetry(root)

        super().__init__(root, load)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project("base", tmp_path / "webapp")


def run(
    project: Path, cache: PlanCache, env: dict[str, str] | None = None, **options: str
) -> tuple[Resolved, int]:
    counting = CountingProject(project)
    resolved = resolve(counting, Options(options), env or {}, cache)
    return resolved, counting.loads


def test_a_hit_is_what_the_computation_gives_without_loading_poetry(
    project: Path, tmp_path: Path
) -> None:
    """The second run loads no Poetry and returns the same plan and fingerprint."""
    cache = PlanCache(tmp_path / "cache")
    first, first_loads = run(project, cache)
    second, second_loads = run(project, cache)
    uncached, _ = run(project, PlanCache(None))
    assert (first_loads, second_loads) == (1, 0)
    assert second.plan == first.plan == uncached.plan
    assert second.fingerprint == first.fingerprint == uncached.fingerprint


@pytest.mark.parametrize(
    ("change", "options", "env"),
    [
        pytest.param(
            lambda p: replace_in(
                p / "poetry.lock",
                'name = "certifi"\nversion = "2026.10.18"',
                'name = "certifi"\nversion = "2026.11.1"',
            ),
            {},
            {},
            id="a re-resolution in the lock",
        ),
        pytest.param(
            lambda p: (p / "poetry.toml").write_text('[installer]\nno-binary = ["numpy"]\n'),
            {},
            {},
            id="the project's poetry.toml",
        ),
        pytest.param(
            lambda p: None, {}, {"POETRY_INSTALLER_NO_BINARY": "numpy"}, id="an installer variable"
        ),
        pytest.param(lambda p: None, {"python": "3.12"}, {}, id="another target"),
    ],
)
def test_a_changed_input_is_a_miss(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: object,
    options: dict[str, str],
    env: dict[str, str],
) -> None:
    """Whatever the plan is computed from is in the key: a change loads Poetry again."""
    cache = PlanCache(tmp_path / "cache")
    run(project, cache)
    assert callable(change)
    change(project)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _, loads = run(project, cache, env, **options)
    assert loads == 1


def test_installer_settings_change_the_plan_and_the_tag(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`installer.no-binary` makes Poetry pick numpy's sdist: the cache must not hide that."""
    cache = PlanCache(tmp_path / "cache")
    wheels, _ = run(project, cache)
    monkeypatch.setenv("POETRY_INSTALLER_NO_BINARY", "numpy")
    sdist, loads = run(project, cache, {"POETRY_INSTALLER_NO_BINARY": "numpy"})
    numpy = {p.name: p.distribution for p in sdist.plan.packages}["numpy"]
    assert loads == 1
    assert numpy is not None
    assert numpy.filename == "numpy-2.2.6.tar.gz"
    assert sdist.fingerprint.tag != wheels.fingerprint.tag


def test_a_damaged_entry_is_ignored(project: Path, tmp_path: Path) -> None:
    """A truncated cache file is a miss, not an error."""
    cache_dir = tmp_path / "cache"
    first, _ = run(project, PlanCache(cache_dir))
    for entry in cache_dir.glob("*.json"):
        entry.write_text(entry.read_text()[:10])
    again, loads = run(project, PlanCache(cache_dir))
    assert loads == 1
    assert again.fingerprint == first.fingerprint


INPUTS = ProjectInputs(b"[project]", b"lock", None, None, (), "2.5.1")


def test_a_cache_that_cannot_be_written_is_only_a_slower_run(tmp_path: Path) -> None:
    """A cache directory that cannot be made (a file is in the way): nothing stored, no error."""
    (tmp_path / "taken").write_text("")
    cache = PlanCache(tmp_path / "taken" / "plans")
    cache.store_facts(INPUTS, CachedFacts({}, ">=3.10", ("3.10",), "webapp"))
    assert cache.facts(INPUTS) is None


def test_a_bug_in_what_is_stored_is_not_hidden(tmp_path: Path) -> None:
    """Only the file system's errors are forgiven: a value that is not JSON raises."""
    cache = PlanCache(tmp_path / "plans")
    with pytest.raises(TypeError):
        cache.store_facts(INPUTS, CachedFacts({"bad": {1, 2}}, ">=3.10", ("3.10",), "webapp"))
