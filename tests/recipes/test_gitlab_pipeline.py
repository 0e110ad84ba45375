"""The README's GitLab recipe, run for real: examples/gitlab copied into a new project, three times.

gitlab-ci-local runs examples/gitlab/.gitlab-ci.yml unchanged. What the command line sets is the
runner, not the recipe: the jobs' network is the host's (to reach the loopback registry, index
and stand-in Docker Hub), pip gets a local wheel directory instead of an index,
CI_REGISTRY/CI_REGISTRY_USER/CI_REGISTRY_PASSWORD name the loopback registry, which needs them,
and POETRY_CI_IMAGE_DOCKER_HUB_MIRROR names the stand-in Docker Hub (there is no Docker Hub
here). No engine is reachable from the deps job: its container has no socket mounted, no
DOCKER_HOST and no docker binary. Test jobs pull their image with a docker login, as GitLab's
runner does with the job token; both matrix jobs run on this amd64 engine.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import unavailable
from tests.recipes.conftest import GITLAB_EXAMPLE
from tests.recipes.conftest import HELPER_IMAGE
from tests.recipes.conftest import commit_all
from tests.recipes.conftest import git
from tests.support.poetry_cli import run_poetry
from tests.support.projects import replace_in
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.proxy import RegistryProxy
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

EXAMPLE_REPOSITORY = "registry.gitlab.example/group/ci-image-example/ci-image"
TEST_JOBS = ("test: [saas-linux-small-amd64]", "test: [saas-linux-small-arm64]")


@dataclass(frozen=True)
class Pipeline:
    """One run of gitlab-ci-local: its exit status, its output, and each job's log."""

    returncode: int
    output: str
    jobs: dict[str, str]
    reference: str  # what the tag-file recorded for this run

    def job(self, name: str) -> str:
        """A job's log; a matrix job by its variable's value (gitlab-ci-local mangles the name)."""
        if name in self.jobs:
            return self.jobs[name]
        value = name.partition("[")[2].rstrip("]")
        (found,) = [log for stem, log in self.jobs.items() if value and value in stem]
        return found


class Project:
    """A new GitLab project made from examples/gitlab, and the runner that runs its pipelines."""

    def __init__(
        self,
        directory: Path,
        *,
        registry: Registry,
        index: PackageIndex,
        env: dict[str, str],
        runner: list[str],
        runner_env: dict[str, str],
    ) -> None:
        self.directory = directory
        self.registry = registry
        self.index = index
        self.env = env
        self.runner = runner
        self.runner_env = runner_env

    def poetry(self, *args: str) -> str:
        result = run_poetry(self.directory, *args, env=self.env)
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    def reference(self) -> str:
        match = re.search(r'CI_IMAGE: "([^"]+)"', (self.directory / "ci-image.yml").read_text())
        assert match is not None
        return match[1]

    def run_pipeline(self) -> Pipeline:
        state = self.directory / ".gitlab-ci-local"
        shutil.rmtree(state, ignore_errors=True)
        result = subprocess.run(
            self.runner,
            cwd=self.directory,
            env=self.runner_env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        logs = state / "output"
        jobs = {log.stem: log.read_text() for log in logs.glob("*.log")} if logs.is_dir() else {}
        return Pipeline(result.returncode, result.stdout + result.stderr, jobs, self.reference())


def new_project(where: Path, registry: Registry, index: PackageIndex, env: dict[str, str]) -> Path:
    """examples/gitlab as a team would adopt it: their registry, their index, a fresh lock."""
    project = where / "ci-image-example"
    shutil.copytree(
        GITLAB_EXAMPLE, project, ignore=shutil.ignore_patterns(".gitlab-ci-local", "__pycache__")
    )
    pyproject = project / "pyproject.toml"
    replace_in(pyproject, EXAMPLE_REPOSITORY, f"{registry.host}/group/ci-image-example/ci-image")
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[[tool.poetry.source]]\nname = "team"\nurl = "{index.url}"\npriority = "primary"\n'
    )
    (project / "poetry.lock").unlink()
    for args in (("lock",), ("image", "tag")):
        result = run_poetry(project, *args, env=env)
        assert result.returncode == 0, result.stderr + result.stdout
    git(project, "init", "--quiet", "--initial-branch", "main")
    git(project, "remote", "add", "origin", "https://gitlab.example/group/ci-image-example.git")
    commit_all(project, "Start from the README's GitLab recipe")
    return project


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    auth_registry: Registry,
    example_index: PackageIndex,
    host_env: dict[str, str],
    job_wheels: Path,
    gitlab_ci_local: str,
    docker_host: str,
    docker_client: Any,
    docker_hub: RegistryProxy,
) -> Iterator[Project]:
    """The project, and gitlab-ci-local set up as a runner whose jobs reach no engine."""
    try:
        docker_client.images.get(HELPER_IMAGE)
    except Exception:
        unavailable(f"the image {HELPER_IMAGE} is missing; run .ci/setup")
    assert auth_registry.auth is not None
    user, password = auth_registry.auth
    where = tmp_path_factory.mktemp("gitlab")
    runner_config = where / "docker-config"
    runner_config.mkdir()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (runner_config / "config.json").write_text(
        json.dumps({"auths": {auth_registry.host: {"auth": token}}})
    )
    runner = [
        gitlab_ci_local,
        "--no-color",
        "--helper-image",
        HELPER_IMAGE,
        "--network",
        "host",
        "--mount-cache",  # the job's `cache:` as a volume, as GitLab's runners keep it
        "--variable",
        f"POETRY_CI_IMAGE_DOCKER_HUB_MIRROR={docker_hub.host}",
        "--volume",
        f"{job_wheels}:/wheels:ro",
        "--variable",
        "PIP_NO_INDEX=1",
        "--variable",
        "PIP_FIND_LINKS=/wheels",
        "--variable",
        f"CI_REGISTRY={auth_registry.host}",
        "--variable",
        f"CI_REGISTRY_USER={user}",
        "--variable",
        f"CI_REGISTRY_PASSWORD={password}",
    ]
    runner_env = {
        "PATH": host_env["PATH"],
        "HOME": str(where),
        "DOCKER_HOST": docker_host,
        "DOCKER_CONFIG": str(runner_config),
    }
    directory = new_project(where, auth_registry, example_index, host_env)
    made = Project(
        directory,
        registry=auth_registry,
        index=example_index,
        env=host_env,
        runner=runner,
        runner_env=runner_env,
    )
    yield made
    for image in docker_client.images.list(name=f"{auth_registry.host}/group/ci-image-example/*"):
        for tag in image.tags:
            docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def first(project: Project) -> Pipeline:
    return project.run_pipeline()


@pytest.fixture(scope="module")
def second(project: Project, first: Pipeline, docker_client: Any) -> Pipeline:
    """The same commit again, with the image gone from the engine: only the registry has it."""
    assert first.returncode == 0, first.output
    docker_client.images.remove(first.reference, force=True)
    return project.run_pipeline()


@pytest.fixture(scope="module")
def changed(project: Project, second: Pipeline) -> Pipeline:
    """A new dependency, locked and tagged as the README says, and a test that imports it."""
    assert second.returncode == 0, second.output
    pyproject = project.directory / "pyproject.toml"
    replace_in(pyproject, '"packaging (>=24)"', '"packaging (>=24)", "tinydep (>=1)"')
    (project.directory / "tests" / "test_tinydep.py").write_text(
        "import tinydep\n\n\ndef test_the_new_dependency_is_there() -> None:\n"
        '    assert tinydep.__version__ == "1.0"\n'
    )
    project.poetry("lock")
    project.poetry("image", "tag")
    commit_all(project.directory, "Depend on tinydep")
    return project.run_pipeline()


def assert_tested_in(pipeline: Pipeline, reference: str) -> None:
    """Both test jobs ran in `reference`, found every dependency there, and their tests passed."""
    for name in TEST_JOBS:
        test = pipeline.job(name)
        assert f"{name} starting {reference} (test)" in pipeline.output
        assert "No dependencies to install or update" in test
        assert "Installing the current project: ci-image-example (0.1.0)" in test
        assert re.search(r"=+ \d+ passed in ", test), test


def test_the_first_pipeline_assembles_pushes_and_tests_in_the_pushed_image(
    first: Pipeline, project: Project
) -> None:
    """deps assembles the tag-file's image with no engine and pushes it with GitLab's registry
    login, for both platforms; the test jobs run in it."""
    assert first.returncode == 0, first.output
    deps = first.job("deps")
    assert "Reading the base image python:3.11-slim-bookworm for linux/arm64" in deps
    assert f"Pushing {first.reference}" in deps
    assert f"Pushed {first.reference} in " in deps
    registry = project.registry
    repository, tag = first.reference.removeprefix(f"{registry.host}/").split(":")
    assert manifest_status(registry.host, repository, tag, auth=registry.auth) == 200
    assert_tested_in(first, first.reference)


def test_the_second_pipeline_builds_nothing_and_pulls_the_image(
    first: Pipeline, second: Pipeline
) -> None:
    """Same lock, second run: deps asks the registry and stops; the test job pulls the image."""
    assert second.returncode == 0, second.output
    assert second.reference == first.reference
    deps = second.job("deps")
    assert f"{second.reference} is already in the registry; nothing to build or push." in deps
    assert "Pushing" not in deps
    for name in TEST_JOBS:
        assert f"{name} pulled {second.reference} in " in second.output
    assert_tested_in(second, second.reference)


def test_a_dependency_change_builds_a_new_image_and_the_tests_run_in_it(
    second: Pipeline, changed: Pipeline
) -> None:
    """After `poetry lock` and `poetry image tag`, deps pushes the new image, test runs in it;
    the layers kept in the job's cache are not written again."""
    assert changed.returncode == 0, changed.output
    assert changed.reference != second.reference
    deps = changed.job("deps")
    assert f"Pushing {changed.reference}" in deps
    assert f"Pushed {changed.reference} in " in deps
    assert "Fetching 1 locked distribution for" in deps  # tinydep; the rest is in the job's cache
    assert "Writing 1 of 6 dependency layers (5 from the cache)" in deps
    assert_tested_in(changed, changed.reference)
    assert all("2 passed" in changed.job(name) for name in TEST_JOBS)
