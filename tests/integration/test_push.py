"""`poetry image push` and `poetry image tag --remote` against real registries."""

from __future__ import annotations

import base64
import json
import os
import subprocess

from typing import TYPE_CHECKING

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import lock
from tests.integration.conftest import write_project
from tests.support.poetry_cli import POETRY
from tests.support.poetry_cli import run_poetry
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

NO_ENGINE = "unix:///nonexistent/docker.sock"


def make_project(
    where: Path, index: PackageIndex, registry: Registry, env: dict[str, str], extra: str = ""
) -> Path:
    project = write_project(
        where,
        index_url=index.url,
        dependencies='"alpha (==1.0)", "delta (>=1)", "native (>=1)"',
        dev_dependencies='devtool = "^1.0"',
        table=f'repository = "{registry.host}/shop/ci-image"\nbase = "{BASE_IMAGE}"\n' + extra,
    )
    lock(project, env)
    return project


def docker_config(where: Path, registry: Registry, password: str | None = None) -> Path:
    """A Docker config directory with a `docker login` for `registry`."""
    assert registry.auth is not None
    user, real_password = registry.auth
    token = base64.b64encode(f"{user}:{password or real_password}".encode()).decode()
    where.mkdir(parents=True, exist_ok=True)
    (where / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return where


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
) -> Path:
    return make_project(tmp_path_factory.mktemp("push") / "shop", index, registry, tool_env)


@pytest.fixture(scope="module")
def pushed(project: Path, registry: Registry, tool_env: dict[str, str]) -> str:
    result = run_poetry(project, "image", "push", env=tool_env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_push_puts_the_manifest_in_the_registry(pushed: str, registry: Registry) -> None:
    """After a push, the registry lists the tag."""
    repository, tag = pushed.removeprefix(f"{registry.host}/").split(":")
    assert manifest_status(registry.host, repository, tag) == 200


def test_second_push_is_a_no_op_without_an_engine(
    pushed: str, project: Path, tool_env: dict[str, str]
) -> None:
    """When the registry has the tag, push asks nothing of the Docker engine."""
    result = run_poetry(project, "image", "push", env={**tool_env, "DOCKER_HOST": NO_ENGINE})
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{pushed}\n",
        f"{pushed} is already in the registry; nothing to build or push.\n",
    )


def test_remote_check_after_push(pushed: str, project: Path, tool_env: dict[str, str]) -> None:
    """`tag --remote` is green after the push, without an engine."""
    result = run_poetry(
        project, "image", "tag", "--remote", env={**tool_env, "DOCKER_HOST": NO_ENGINE}
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{pushed}\n",
        f"{pushed} is in the registry.\n",
    )


def test_remote_check_of_a_missing_image(project: Path, tool_env: dict[str, str]) -> None:
    """Another fingerprint is not in the registry: exit 1 and the remedy."""
    result = run_poetry(project, "image", "tag", "--remote", "--build-arg", "X=1", env=tool_env)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.endswith(
        " is not in the registry.\nRun `poetry image push` to build and push it.\n"
    )


def test_unreachable_registry(project: Path, tool_env: dict[str, str]) -> None:
    """A registry nobody answers for: exit 2, one message, no traceback."""
    result = run_poetry(
        project, "image", "tag", "--remote", "--repository", "127.0.0.1:9/shop", env=tool_env
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: The registry 127.0.0.1:9 cannot be reached: ")
    assert "Traceback" not in result.stderr


def test_push_refuses_a_stale_tag_file(
    project: Path, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """A tag-file naming another image stops the push before anything is built or pushed."""
    (tmp_path / "ci-image.env").write_text(f"CI_IMAGE={registry.host}/shop/ci-image:old\n")
    result = run_poetry(
        project,
        "image",
        "push",
        "--tag-file",
        str(tmp_path / "ci-image.env"),
        "--build-arg",
        "NEVER=1",
        env={**tool_env, "DOCKER_HOST": NO_ENGINE},
    )
    assert result.returncode == 2
    name = os.path.relpath(tmp_path / "ci-image.env", project)
    assert result.stderr.startswith(
        f"Error: {name} is out of date.\n  recorded: {registry.host}/shop/ci-image:old\n"
    )
    assert result.stderr.endswith(
        "The test jobs would run in another image than the lock's.\n"
        f"Run `poetry image tag` and commit {name}. Then push again.\n"
    )


@pytest.fixture(scope="module")
def private(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    auth_registry: Registry,
    tool_env: dict[str, str],
) -> Path:
    return make_project(tmp_path_factory.mktemp("auth") / "shop", index, auth_registry, tool_env)


class TestAuthenticatedRegistry:
    """A registry with basic authentication: Docker config, GitLab variables, wrong passwords."""

    def test_push_with_docker_login(
        self, private: Path, auth_registry: Registry, tool_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Credentials from the Docker config push, and the manifest is there."""
        config = docker_config(tmp_path / "docker", auth_registry)
        result = run_poetry(
            private, "image", "push", env={**tool_env, "DOCKER_CONFIG": str(config)}
        )
        assert result.returncode == 0, result.stderr
        repository, tag = result.stdout.strip().removeprefix(f"{auth_registry.host}/").split(":")
        assert manifest_status(auth_registry.host, repository, tag, auth=auth_registry.auth) == 200

        check = run_poetry(
            private, "image", "tag", "--remote", env={**tool_env, "DOCKER_CONFIG": str(config)}
        )
        assert check.returncode == 0, check.stderr

    def test_gitlab_variables_without_docker_login(
        self, private: Path, auth_registry: Registry, tool_env: dict[str, str]
    ) -> None:
        """In GitLab CI, CI_REGISTRY_USER/PASSWORD work on $CI_REGISTRY with no docker login."""
        assert auth_registry.auth is not None
        user, password = auth_registry.auth
        env = {
            **tool_env,
            "CI_REGISTRY": auth_registry.host,
            "CI_REGISTRY_USER": user,
            "CI_REGISTRY_PASSWORD": password,
        }
        result = run_poetry(private, "image", "push", "--force", env=env)
        assert result.returncode == 0, result.stderr
        assert password not in result.stdout + result.stderr

    def test_no_credentials(
        self, private: Path, auth_registry: Registry, tool_env: dict[str, str]
    ) -> None:
        """Without credentials the check is an error (exit 2) that says how to log in."""
        result = run_poetry(private, "image", "tag", "--remote", env=tool_env)
        assert result.returncode == 2
        assert result.stderr == (
            f"Error: The registry {auth_registry.host} needs credentials, and none were found.\n"
            f"Run `docker login {auth_registry.host}` (GitLab CI: CI_REGISTRY_USER/"
            "CI_REGISTRY_PASSWORD are used on $CI_REGISTRY).\n"
        )

    def test_wrong_password(
        self, private: Path, auth_registry: Registry, tool_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Refused credentials: exit 2, and the password is not printed."""
        config = docker_config(tmp_path / "docker", auth_registry, password="wrong-password-1")
        result = run_poetry(
            private, "image", "push", env={**tool_env, "DOCKER_CONFIG": str(config)}
        )
        assert result.returncode == 2
        assert "refused access" in result.stderr
        assert "wrong-password-1" not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


def test_two_jobs_pushing_the_same_new_tag_both_succeed(
    project: Path, tool_env: dict[str, str], registry: Registry
) -> None:
    """Two pipelines racing on one new fingerprint: both build or reuse, both push, both exit 0."""
    command = [str(POETRY), "--no-ansi", "image", "push", "--no-poetry", "--build-arg", "RACE=1"]
    jobs = [
        subprocess.Popen(
            command,
            cwd=project,
            env=tool_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(job.wait(timeout=600), *job.communicate()) for job in jobs]
    assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    references = {out.strip() for _, out, _ in results}
    assert len(references) == 1
    repository, tag = references.pop().removeprefix(f"{registry.host}/").split(":")
    assert manifest_status(registry.host, repository, tag) == 200
