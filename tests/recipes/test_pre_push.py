"""The pre-push hook, as pre-commit runs it and as a plain git hook, on real pushes.

Each test makes a project with a tag-file, a bare remote, and the hook installed the way
docs/recipes.md says: examples/pre-commit/.pre-commit-config.yaml as written, but for its
`repo:`, which names this repository's git history (the public URL is not reachable here: the
pinned `rev:` must be a commit of it that pre-commit can install), and `pre-commit install
--hook-type pre-push`; or examples/git-hooks/pre-push copied to .git/hooks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from typing import TYPE_CHECKING

import pytest

from tests.integration.conftest import write_project
from tests.recipes.conftest import BIN
from tests.recipes.conftest import PRE_COMMIT_CONFIG
from tests.recipes.conftest import PRE_PUSH_SCRIPT
from tests.recipes.conftest import ROOT
from tests.recipes.conftest import commit_all
from tests.recipes.conftest import git
from tests.recipes.conftest import git_env
from tests.support.poetry_cli import clean_env
from tests.support.poetry_cli import run_poetry
from tests.support.projects import replace_in


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex


pytestmark = pytest.mark.slow

STALE = (
    "ci-image.env is out of date.",
    "Run `poetry image tag` and commit ci-image.env.",
)


class Repository:
    """A project under git with a remote, pushed to through the installed pre-push hook."""

    def __init__(self, directory: Path, remote: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.remote = remote
        self.env = env

    def poetry(self, *args: str) -> None:
        result = run_poetry(self.directory, *args, env=self.env)
        assert result.returncode == 0, result.stderr + result.stdout

    def commit(self, message: str) -> str:
        return commit_all(self.directory, message, env=self.env)

    def push(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "push", "origin", "main"],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def remote_head(self) -> str:
        return git(self.remote, "rev-parse", "main", env=self.env)

    def add_dependency(self) -> None:
        """A new locked dependency, committed without running `poetry image tag`."""
        replace_in(
            self.directory / "pyproject.toml", '"alpha (==1.0)"', '"alpha (==1.0)", "native"'
        )
        self.poetry("lock")
        self.commit("Depend on native")


def install_pre_commit_hook(project: Path, env: dict[str, str]) -> None:
    """docs/recipes.md's .pre-commit-config.yaml; `pre-commit install --hook-type pre-push`."""
    config = PRE_COMMIT_CONFIG.read_text()
    public = "repo: https://github.com/poetry-ci-image/poetry-ci-image\n"
    assert public in config
    (project / ".pre-commit-config.yaml").write_text(config.replace(public, f"repo: {ROOT}\n"))
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install", "--hook-type", "pre-push"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def install_git_hook(project: Path) -> None:
    """The plain alternative: examples/git-hooks/pre-push copied into .git/hooks."""
    shutil.copy(PRE_PUSH_SCRIPT, project / ".git" / "hooks" / "pre-push")


@pytest.fixture(params=["pre-commit", "git hook"])
def repository(request: pytest.FixtureRequest, tmp_path: Path, index: PackageIndex) -> Repository:
    """A committed project whose tag-file is current, with the pre-push hook installed."""
    home = tmp_path / "home"
    env = git_env(
        clean_env(home),
        PATH=f"{BIN}:{clean_env(home)['PATH']}",  # the developer's `poetry`, with the plugin
        PRE_COMMIT_HOME=str(home / "pre-commit"),
    )
    project = write_project(
        tmp_path / "shop",
        index_url=index.url,
        dependencies='"alpha (==1.0)"',
        table='repository = "registry.example/shop/ci-image"\ntag-file = "ci-image.env"',
    )
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote), env=env)
    git(project, "init", "--quiet", "--initial-branch", "main", env=env)
    git(project, "remote", "add", "origin", str(remote), env=env)
    made = Repository(project, remote, env)
    made.poetry("lock")
    made.poetry("image", "tag")
    if request.param == "pre-commit":
        install_pre_commit_hook(project, env)
    else:
        install_git_hook(project)
    made.commit("A project with its tag-file")
    return made


def test_a_push_with_a_current_tag_file_goes_through(repository: Repository) -> None:
    """The tag-file records the lock's image: the hook passes and the remote gets the commit."""
    pushed = repository.push()
    assert pushed.returncode == 0, pushed.stderr + pushed.stdout
    assert repository.remote_head() == git(repository.directory, "rev-parse", "HEAD")


def test_a_push_whose_lock_changed_without_poetry_image_tag_is_refused(
    repository: Repository,
) -> None:
    """A new dependency without `poetry image tag`: refused with the remedy; after it, pushed."""
    assert repository.push().returncode == 0
    before = repository.remote_head()
    repository.add_dependency()

    refused = repository.push()
    assert refused.returncode != 0
    for line in STALE:
        assert line in refused.stdout + refused.stderr
    assert repository.remote_head() == before

    repository.poetry("image", "tag")
    head = repository.commit("Record the new image")
    pushed = repository.push()
    assert pushed.returncode == 0, pushed.stderr + pushed.stdout
    assert repository.remote_head() == head
