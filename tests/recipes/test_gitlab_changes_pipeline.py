"""docs/recipes.md's GitLab recipe with no deps job when no dependency changes, run for real:
examples/gitlab-changes, a new project, through four pipelines.

gitlab-ci-local runs examples/gitlab-changes/.gitlab-ci.yml unchanged, on the runner
tests/recipes/gitlab.py describes. It evaluates `rules: changes` as `git diff --name-only
origin/<default branch>` and ignores `compare_to` (see docs/recipes.md), which for a branch is
what `compare_to: refs/heads/main` asks of GitLab: so origin/main stands for the default
branch's tip, and is moved as pushes to main would move it. The default branch's first pipeline
compares with an empty commit, as a new project's first push runs every job.

1. main's first pipeline: deps pushes the lock's image and points the alias `main` at it; the
   tests run in the lock's image.
2. a branch that changes code only: no deps job; the tests run in the alias, main's image.
3. a branch whose bot bumps a dependency: deps pushes that lock's image (the alias stays); the
   tests run in it.
4. the bump merged into main: deps moves the alias to the new image.
"""

from __future__ import annotations

import shutil

from typing import TYPE_CHECKING

import pytest

from tests.recipes.conftest import GITLAB_CHANGES_EXAMPLE
from tests.recipes.conftest import git
from tests.recipes.gitlab import assert_tested_in
from tests.recipes.gitlab import default_branch_at
from tests.support.registry import manifest_digest


if TYPE_CHECKING:
    import contextlib

    from collections.abc import Callable
    from collections.abc import Iterator
    from pathlib import Path

    from tests.recipes.gitlab import Pipeline
    from tests.recipes.gitlab import Project


pytestmark = [pytest.mark.docker, pytest.mark.slow]


def digest_of(project: Project, reference: str) -> str:
    """The digest `reference` (in the project's repository) names, as the registry says."""
    registry = project.registry
    path, tag = reference.removeprefix(f"{registry.host}/").split(":")
    return manifest_digest(registry.host, path, tag, auth=registry.auth)


def alias_digest(project: Project) -> str:
    """The digest the moving alias `main` points at."""
    return digest_of(project, f"{project.repository}:main")


def lock_digest(project: Project, pipeline: Pipeline) -> str:
    return digest_of(project, pipeline.lock_reference)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    adopt: Callable[[Path, Path], contextlib.AbstractContextManager[Project]],
) -> Iterator[Project]:
    """The example as a new project on main, never pushed: origin/main is an empty commit."""
    with adopt(
        GITLAB_CHANGES_EXAMPLE, tmp_path_factory.mktemp("gitlab-changes") / "ci-image-changes"
    ) as project:
        empty_tree = git(project.directory, "hash-object", "-t", "tree", "/dev/null").strip()
        empty = git(project.directory, "commit-tree", empty_tree, "-m", "Empty").strip()
        default_branch_at(project, empty)
        yield project


@pytest.fixture(scope="module")
def first(project: Project) -> Pipeline:
    pipeline = project.run_pipeline()
    assert pipeline.returncode == 0, pipeline.output
    default_branch_at(project, "HEAD")  # pushed
    return pipeline


@pytest.fixture(scope="module")
def code_only(project: Project, first: Pipeline) -> Pipeline:
    git(project.directory, "switch", "--quiet", "--create", "code-only")
    (project.directory / "tests" / "test_more.py").write_text(
        "def test_more() -> None:\n    pass\n"
    )
    project.commit("A test more")
    pipeline = project.run_pipeline()
    git(project.directory, "switch", "--quiet", "main")
    return pipeline


@pytest.fixture(scope="module")
def bot_branch(project: Project, code_only: Pipeline, example_wheels: Path) -> Pipeline:
    """packaging's newest release reaches the index; a bot's branch locks it, alone."""
    git(project.directory, "switch", "--quiet", "--create", "renovate/packaging")
    for wheel in example_wheels.glob("packaging-*.whl"):
        shutil.copy2(wheel, project.index.files_dir / wheel.name)
    project.poetry("update", "--lock", "packaging")
    assert project.commit("Update dependency packaging") == ["poetry.lock"]
    return project.run_pipeline()


@pytest.fixture(scope="module")
def merged_bump(project: Project, bot_branch: Pipeline) -> Pipeline:
    """The bot's branch merged into main (fast-forward), main's pipeline compared with main's
    previous tip."""
    git(project.directory, "switch", "--quiet", "main")
    git(project.directory, "merge", "--quiet", "--ff-only", "renovate/packaging")
    pipeline = project.run_pipeline()
    default_branch_at(project, "HEAD")
    return pipeline


def test_the_default_branchs_first_pipeline_pushes_the_image_and_points_the_alias(
    project: Project, first: Pipeline
) -> None:
    assert first.ran("deps")
    assert first.handed_on == {"CI_IMAGE": first.lock_reference}
    assert_tested_in(first, first.lock_reference)
    assert alias_digest(project) == lock_digest(project, first)


def test_a_branch_that_changes_no_dependency_runs_no_deps_job_and_tests_in_the_alias(
    project: Project, first: Pipeline, code_only: Pipeline
) -> None:
    assert code_only.returncode == 0, code_only.output
    assert not code_only.ran("deps")
    assert code_only.lock_reference == first.lock_reference
    assert_tested_in(code_only, f"{project.repository}:main")


def test_a_bots_branch_pushes_its_own_image_and_leaves_the_alias(
    project: Project, first: Pipeline, bot_branch: Pipeline
) -> None:
    assert bot_branch.returncode == 0, bot_branch.output
    assert bot_branch.ran("deps")
    assert bot_branch.lock_reference != first.lock_reference
    assert bot_branch.handed_on == {"CI_IMAGE": bot_branch.lock_reference}
    assert_tested_in(bot_branch, bot_branch.lock_reference)
    assert alias_digest(project) == lock_digest(project, first)


def test_merged_into_main_the_alias_moves_to_the_new_image(
    project: Project, bot_branch: Pipeline, merged_bump: Pipeline
) -> None:
    """The image is in the registry already (the branch pushed it): deps only moves the alias."""
    assert merged_bump.returncode == 0, merged_bump.output
    assert merged_bump.lock_reference == bot_branch.lock_reference
    deps = merged_bump.job("deps")
    assert "is already in the registry" in deps
    assert alias_digest(project) == lock_digest(project, bot_branch)
    assert_tested_in(merged_bump, merged_bump.lock_reference)
