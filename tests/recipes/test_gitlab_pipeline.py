"""The README's default GitLab recipe, run for real: examples/gitlab as a new project, three times.

gitlab-ci-local runs examples/gitlab/.gitlab-ci.yml unchanged, on the runner tests/recipes/gitlab.py
describes. Nobody commits a tag-file: the deps job hands the reference on in a dotenv report, and
the test jobs' `image: $CI_IMAGE` expands to it through `needs`. The third pipeline is a bot's:
Renovate's `poetry update --lock packaging` after a new release, committed alone, and nobody runs
`poetry image tag`. No engine is reachable from the deps job: its container (the stand-in for uv's
image) has no socket mounted, no DOCKER_HOST and no docker.
"""

from __future__ import annotations

import re
import shutil

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.recipes.conftest import GITLAB_EXAMPLE
from tests.recipes.gitlab import TEST_JOBS
from tests.recipes.gitlab import assert_tested_in
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    import contextlib

    from collections.abc import Callable
    from collections.abc import Iterator
    from pathlib import Path

    from tests.recipes.gitlab import Pipeline
    from tests.recipes.gitlab import Project
    from tests.recipes.gitlab import Runner


pytestmark = [pytest.mark.docker, pytest.mark.slow]

UV_INSTALLED = re.compile(r"Installed \d+ packages? in ")


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    adopt: Callable[[Path, Path], contextlib.AbstractContextManager[Project]],
) -> Iterator[Project]:
    """The example as a new project, locked while its index has packaging's previous release."""
    with adopt(GITLAB_EXAMPLE, tmp_path_factory.mktemp("gitlab") / "ci-image-example") as project:
        yield project


@pytest.fixture(scope="module")
def first(project: Project) -> Pipeline:
    return project.run_pipeline()


@pytest.fixture(scope="module")
def second(project: Project, first: Pipeline, docker_client: Any) -> Pipeline:
    """The same commit again, with the image gone from the engine: only the registry has it."""
    assert first.returncode == 0, first.output
    docker_client.images.remove(first.handed_on["CI_IMAGE"], force=True)
    return project.run_pipeline()


@pytest.fixture(scope="module")
def bot_files(project: Project, second: Pipeline, example_wheels: Path) -> list[str]:
    """packaging's newest release reaches the index, and a bot locks it as Renovate does:
    `poetry update --lock packaging`, committed alone; nobody runs `poetry image tag`."""
    assert second.returncode == 0, second.output
    for wheel in example_wheels.glob("packaging-*.whl"):
        shutil.copy2(wheel, project.index.files_dir / wheel.name)
    project.poetry("update", "--lock", "packaging")
    return project.commit("Update dependency packaging")


@pytest.fixture(scope="module")
def bot(project: Project, bot_files: list[str]) -> Pipeline:
    return project.run_pipeline()


def test_the_deps_job_runs_in_an_image_that_reaches_no_engine(
    uv_image: str, docker_client: Any, gitlab_runner: Runner
) -> None:
    """The deps job's image has no docker client, and the runner mounts no socket into it nor
    gives it a DOCKER_HOST."""
    found = docker_client.containers.run(
        uv_image, ["sh", "-c", "command -v docker; uv --version"], remove=True, network_mode="none"
    )
    assert bytes(found).decode().startswith("uv 0.13.")
    assert not any("docker.sock" in word or "DOCKER_HOST" in word for word in gitlab_runner.command)


def test_the_first_pipeline_pushes_the_image_and_hands_its_reference_to_the_test_jobs(
    first: Pipeline, project: Project
) -> None:
    """deps installs Poetry and the plugin with uv, assembles the lock's image with no engine,
    pushes it with GitLab's registry login and reports CI_IMAGE; the test jobs run in it."""
    assert first.returncode == 0, first.output
    reference = first.lock_reference
    assert first.handed_on == {"CI_IMAGE": reference}
    deps = first.job("deps")
    assert UV_INSTALLED.search(deps), deps
    assert "Reading the base image python:3.11-slim-bookworm for linux/arm64" in deps
    assert f"Pushed {reference} in " in deps
    registry = project.registry
    repository, tag = reference.removeprefix(f"{registry.host}/").split(":")
    assert manifest_status(registry.host, repository, tag, auth=registry.auth) == 200
    assert_tested_in(first, reference)


def test_the_second_pipeline_installs_nothing_pushes_nothing_and_pulls_the_image(
    first: Pipeline, second: Pipeline
) -> None:
    """Same lock, second run: uv installs Poetry and the plugin anew (the recipe keeps no CI
    cache), deps asks the registry and stops, and the test jobs pull the image from the
    registry."""
    assert second.returncode == 0, second.output
    reference = first.handed_on["CI_IMAGE"]
    assert second.handed_on == {"CI_IMAGE": reference}
    deps = second.job("deps")
    assert UV_INSTALLED.search(deps), deps
    assert f"{reference} is already in the registry; nothing to build or push." in deps
    assert "Pushing" not in deps
    for name in TEST_JOBS:
        assert re.search(rf"{re.escape(name)}\s+pulled {re.escape(reference)} in ", second.output)
    assert_tested_in(second, reference)


def test_a_bots_lock_only_commit_is_green_and_tested_in_the_new_locks_image(
    first: Pipeline, bot_files: list[str], bot: Pipeline
) -> None:
    """The bot's commit changes poetry.lock alone; its pipeline pushes the new lock's image,
    fetching and sending only packaging's layer (the deps job keeps nothing between pipelines:
    the rest is found in the registry's layer cache), and tests in it."""
    assert bot_files == ["poetry.lock"]
    assert bot.returncode == 0, bot.output
    reference = bot.lock_reference
    assert reference != first.handed_on["CI_IMAGE"]
    assert bot.handed_on == {"CI_IMAGE": reference}
    deps = bot.job("deps")
    assert f"Pushed {reference} in " in deps
    assert "Fetching 1 locked distribution for" in deps  # packaging; the rest in the registry
    # Sent: packaging's layer (pure Python: one blob for both platforms) and each config.
    uploaded = re.search(r"Blobs: (\d+) uploaded", deps)
    assert uploaded is not None, deps
    assert int(uploaded[1]) <= 3, deps
    assert_tested_in(bot, reference)
