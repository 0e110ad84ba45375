"""gitlab-ci-local as the recipe tests' GitLab runner, and the projects whose pipelines it runs.

What the command line sets is the runner, not the recipe (conftest.py's `gitlab_runner`): the
jobs' network is the host's (to reach the loopback registry, index and stand-in Docker Hub), the
job's `cache:` is a volume kept between pipelines (`--mount-cache`, as GitLab's runners keep it),
uv and pip get the loopback index of Poetry and plugin wheels made by the session
(UV_DEFAULT_INDEX, PIP_INDEX_URL: containers have no other network here),
CI_REGISTRY/CI_REGISTRY_USER/CI_REGISTRY_PASSWORD name the loopback registry, as GitLab gives
them to every job, and POETRY_CI_IMAGE_DOCKER_HUB_MIRROR names the stand-in Docker Hub. Test jobs
pull their image with a docker login, as GitLab's runner does with the job token; both matrix jobs
run on this amd64 engine.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from tests.recipes.conftest import commit_all
from tests.recipes.conftest import git
from tests.recipes.conftest import serve_example_index
from tests.support.poetry_cli import run_poetry
from tests.support.projects import replace_in


if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


# What the example's pyproject.toml names, if anything: a team's $CI_REGISTRY_IMAGE/ci-image.
EXAMPLE_REPOSITORY = "registry.gitlab.example/group/ci-image-example/ci-image"
TEST_JOBS = ("test: [saas-linux-small-amd64]", "test: [saas-linux-small-arm64]")


@dataclass(frozen=True)
class Pipeline:
    """One run of gitlab-ci-local: its exit status, its output, each job's log, the deps job's
    dotenv report (what the test jobs got through `needs`), if it wrote one, and the reference
    of the image of the commit's poetry.lock, computed on the host before the run (so that a
    later change to the project does not move it)."""

    returncode: int
    output: str
    jobs: dict[str, str]
    handed_on: dict[str, str]
    lock_reference: str

    def job(self, name: str) -> str:
        """A job's log; a matrix job by its variable's value (gitlab-ci-local mangles the name)."""
        if name in self.jobs:
            return self.jobs[name]
        value = name.partition("[")[2].rstrip("]")
        (found,) = [log for stem, log in self.jobs.items() if value and value in stem]
        return found

    def ran(self, name: str) -> bool:
        return re.search(rf"^{re.escape(name)}\s+starting ", self.output, re.MULTILINE) is not None

    def image(self, name: str) -> str:
        """The image the runner started the job in, as it says ("<job> starting <image> ...")."""
        found = re.search(rf"^{re.escape(name)}\s+starting (\S+) \(", self.output, re.MULTILINE)
        assert found is not None, f"{name} did not start:\n{self.output}"
        return found[1]


@dataclass(frozen=True)
class Runner:
    """gitlab-ci-local's command line and environment: the runner the recipes run on."""

    command: list[str]
    env: dict[str, str]

    def run(self, directory: Path, lock_reference: str) -> Pipeline:
        """The pipeline of `directory`'s commit, whose lock's image is `lock_reference`."""
        state = directory / ".gitlab-ci-local"
        shutil.rmtree(state, ignore_errors=True)
        result = subprocess.run(
            self.command,
            cwd=directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        logs = state / "output"
        jobs = {log.stem: log.read_text() for log in logs.glob("*.log")} if logs.is_dir() else {}
        handed_on: dict[str, str] = {}
        for report in (state / "artifacts" / "deps" / ".gitlab-ci-reports" / "dotenv").glob("*"):
            for line in report.read_text().splitlines():
                name, _, value = line.partition("=")
                handed_on[name] = value
        output = result.stdout + result.stderr
        return Pipeline(result.returncode, output, jobs, handed_on, lock_reference)


@dataclass(frozen=True)
class Project:
    """A new GitLab project made from an example directory, with its registry and runner."""

    directory: Path  # its work tree and git repository
    registry: Registry  # $CI_REGISTRY
    index: PackageIndex  # the team's index
    env: dict[str, str]  # a developer's, for Poetry on the host
    runner: Runner

    @property
    def repository(self) -> str:
        """$CI_REGISTRY_IMAGE/ci-image, as gitlab-ci-local names the project from its remote."""
        return f"{self.registry.host}/group/{self.directory.name}/ci-image"

    def poetry(self, *args: str) -> str:
        result = run_poetry(self.directory, *args, env=self.env)
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    def lock_reference(self) -> str:
        """The reference of the image of poetry.lock as it is, computed on the host (offline)."""
        return self.poetry("image", "tag", "--no-tag-file", "--repository", self.repository).strip()

    def tag_file_reference(self) -> str:
        match = re.search(r'CI_IMAGE: "([^"]+)"', (self.directory / "ci-image.yml").read_text())
        assert match is not None
        return match[1]

    def commit(self, message: str) -> list[str]:
        """Commit everything; return the files the commit changed."""
        commit_all(self.directory, message)
        return git(self.directory, "show", "--name-only", "--format=", "HEAD").splitlines()

    def run_pipeline(self) -> Pipeline:
        return self.runner.run(self.directory, self.lock_reference())


@contextlib.contextmanager
def adopted(
    example: Path, where: Path, *, registry: Registry, wheels: Path, env: dict[str, str],
    runner: Runner, docker_client: Any,
) -> Iterator[Project]:  # fmt: skip
    """`example` adopted as `where.name` (new_project), its index serving packaging's previous
    release; the project's images are removed from the engine afterwards."""
    with serve_example_index(where.parent, wheels, previous_packaging=True) as index:
        directory = new_project(example, where, registry=registry, index=index, env=env)
        yield Project(directory, registry, index, env, runner)
    for image in docker_client.images.list(name=f"{registry.host}/group/{where.name}/*"):
        for tag in image.tags:
            docker_client.images.remove(tag, force=True)


def new_project(
    example: Path, directory: Path, *, registry: Registry, index: PackageIndex, env: dict[str, str]
) -> Path:
    """An example as a team would adopt it: their registry, their index, a fresh lock (and
    tag-file, if the example has one), committed on main, with a GitLab remote."""
    shutil.copytree(
        example, directory, ignore=shutil.ignore_patterns(".gitlab-ci-local", "__pycache__")
    )
    pyproject = directory / "pyproject.toml"
    if EXAMPLE_REPOSITORY in pyproject.read_text():
        repository = f"{registry.host}/group/{directory.name}/ci-image"
        replace_in(pyproject, EXAMPLE_REPOSITORY, repository)
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[[tool.poetry.source]]\nname = "team"\nurl = "{index.url}"\npriority = "primary"\n'
    )
    (directory / "poetry.lock").unlink()
    commands = [("lock",), ("image", "tag")] if (example / "ci-image.yml").exists() else [("lock",)]
    for args in commands:
        result = run_poetry(directory, *args, env=env)
        assert result.returncode == 0, result.stderr + result.stdout
    git(directory, "init", "--quiet", "--initial-branch", "main")
    # What gitlab-ci-local leaves in the work tree: its state, and the artifacts it copies back.
    (directory / ".git" / "info" / "exclude").write_text(".gitlab-ci-local/\nci-image.env\n")
    git(directory, "remote", "add", "origin", f"https://gitlab.example/group/{directory.name}.git")
    commit_all(directory, "Start from the README's GitLab recipe")
    return directory


def assert_tested_in(pipeline: Pipeline, reference: str) -> None:
    """Both test jobs ran in `reference`, found every dependency there, and their tests passed."""
    for name in TEST_JOBS:
        test = pipeline.job(name)
        assert pipeline.image(name) == reference
        assert "No dependencies to install or update" in test
        assert "Installing the current project: ci-image-example (0.1.0)" in test
        assert re.search(r"=+ \d+ passed in ", test), test


def default_branch_at(project: Project, commit: str) -> None:
    """origin/main (the default branch's tip, what changes are compared with) at `commit`."""
    directory = project.directory
    git(directory, "update-ref", "refs/remotes/origin/main", commit)
    git(directory, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
