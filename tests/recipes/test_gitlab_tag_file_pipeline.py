"""docs/recipes.md's GitLab recipe with a tag-file, run for real: examples/gitlab-tag-file, a new
project.

gitlab-ci-local runs examples/gitlab-tag-file/.gitlab-ci.yml unchanged, on the runner
tests/recipes/gitlab.py describes. It evaluates `rules: changes` as `git diff --name-only
origin/<default branch>` (the work tree against that ref), which is what GitLab compares in a merge
request pipeline; so each change is made on a branch, with origin/main at the commit it starts
from, and merged by moving origin/main. (A branch pipeline on GitLab compares with the previous
push instead; gitlab-ci-local has no notion of pushes.)
"""

from __future__ import annotations

import re
import shutil

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.recipes.conftest import GITLAB_TAG_FILE_EXAMPLE
from tests.recipes.conftest import git
from tests.recipes.gitlab import TEST_JOBS
from tests.recipes.gitlab import assert_tested_in
from tests.recipes.gitlab import default_branch_at
from tests.support.projects import replace_in


if TYPE_CHECKING:
    import contextlib

    from collections.abc import Callable
    from collections.abc import Iterator
    from pathlib import Path

    from tests.recipes.gitlab import Pipeline
    from tests.recipes.gitlab import Project


pytestmark = [pytest.mark.docker, pytest.mark.slow]


def merged(project: Project) -> None:
    """origin/main is HEAD: what a merge request's changes are compared with from now on."""
    default_branch_at(project, "HEAD")


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    adopt: Callable[[Path, Path], contextlib.AbstractContextManager[Project]],
) -> Iterator[Project]:
    """The example as a new project, its lock and tag-file committed on main (never pushed)."""
    with adopt(
        GITLAB_TAG_FILE_EXAMPLE, tmp_path_factory.mktemp("gitlab-tag-file") / "ci-image-tag-file"
    ) as project:
        merged(project)
        yield project


@pytest.fixture(scope="module")
def dependency_change(project: Project) -> Pipeline:
    """A merge request that adds a dependency, locked and tagged as docs/recipes.md says."""
    git(project.directory, "switch", "--quiet", "--create", "tinydep")
    replace_in(
        project.directory / "pyproject.toml",
        '"packaging (>=24)"',
        '"packaging (>=24)", "tinydep (>=1)"',
    )
    (project.directory / "tests" / "test_tinydep.py").write_text(
        "import tinydep\n\n\ndef test_the_new_dependency_is_there() -> None:\n"
        '    assert tinydep.__version__ == "1.0"\n'
    )
    project.poetry("lock")
    project.poetry("image", "tag")
    project.commit("Depend on tinydep")
    return project.run_pipeline()


@pytest.fixture(scope="module")
def code_change(project: Project, dependency_change: Pipeline, docker_client: Any) -> Pipeline:
    """After the merge, a merge request that changes only the code and its tests."""
    assert dependency_change.returncode == 0, dependency_change.output
    merged(project)
    git(project.directory, "switch", "--quiet", "--create", "newest-of-none")
    (project.directory / "tests" / "test_one.py").write_text(
        "from ci_image_example import newest\n\n\ndef test_one_version() -> None:\n"
        '    assert newest(["2.0"]) == "2.0"\n'
    )
    project.commit("Test a single version")
    docker_client.images.remove(project.tag_file_reference(), force=True)
    return project.run_pipeline()


@pytest.fixture(scope="module")
def bot_files(project: Project, code_change: Pipeline, example_wheels: Path) -> list[str]:
    """After that merge, a bot's merge request: `poetry update --lock packaging` alone."""
    assert code_change.returncode == 0, code_change.output
    merged(project)
    git(project.directory, "switch", "--quiet", "--create", "renovate/packaging")
    for wheel in example_wheels.glob("packaging-*.whl"):
        shutil.copy2(wheel, project.index.files_dir / wheel.name)
    project.poetry("update", "--lock", "packaging")
    return project.commit("Update dependency packaging")


def test_a_committed_dependency_change_pushes_its_image_and_tests_in_it(
    dependency_change: Pipeline, project: Project
) -> None:
    """pyproject.toml, poetry.lock and the tag-file changed: deps pushes the tag-file's image and
    the test jobs run in it."""
    assert dependency_change.returncode == 0, dependency_change.output
    reference = project.tag_file_reference()
    assert reference == dependency_change.lock_reference
    assert f"Pushed {reference} in " in dependency_change.job("deps")
    assert_tested_in(dependency_change, reference)
    assert all("2 passed" in dependency_change.job(name) for name in TEST_JOBS)


def test_a_change_of_no_dependency_file_runs_no_deps_job(
    dependency_change: Pipeline, code_change: Pipeline, project: Project
) -> None:
    """Only a test changed: no deps job runs; the test jobs pull the tag-file's image at once."""
    assert code_change.returncode == 0, code_change.output
    assert dependency_change.ran("deps")
    assert not code_change.ran("deps")
    assert "deps" not in code_change.jobs
    reference = project.tag_file_reference()
    for name in TEST_JOBS:
        assert re.search(
            rf"{re.escape(name)}\s+pulled {re.escape(reference)} in ", code_change.output
        )
    assert_tested_in(code_change, reference)
    assert all("3 passed" in code_change.job(name) for name in TEST_JOBS)


def test_a_bots_lock_only_commit_fails_in_the_deps_job_on_the_stale_tag_file(
    bot_files: list[str], project: Project
) -> None:
    """The tag-file recipe's trade-off: the bot changed poetry.lock alone, so deps refuses the
    stale tag-file and says what to run; no test job runs."""
    assert bot_files == ["poetry.lock"]
    bot = project.run_pipeline()
    assert bot.returncode != 0
    deps = bot.job("deps")
    assert "ci-image.yml" in deps
    assert "poetry image tag" in deps
    assert "Pushing" not in deps
    assert not any(bot.ran(name) for name in TEST_JOBS)
