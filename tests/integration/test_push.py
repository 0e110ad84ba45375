"""`poetry image push` with no Docker engine, against real registries, then run with the engine.

The push runs with DOCKER_HOST pointing nowhere and no `docker` on PATH; the engine only pulls
and runs what was pushed, as a CI runner would. The base comes from the stand-in Docker Hub (a
registry behind a token-flow proxy), the image goes to the loopback test registries.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import NO_ENGINE
from tests.integration.conftest import lock
from tests.integration.conftest import run_in_image
from tests.integration.conftest import write_project
from tests.support.poetry_cli import POETRY
from tests.support.poetry_cli import run_poetry
from tests.support.proxy import Fault
from tests.support.proxy import RegistryProxy
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([d.metadata['Name'].lower(), d.version] for d in m.distributions())))"
)


def engine_free(env: dict[str, str], where: Path) -> dict[str, str]:
    """`env` with no engine reachable: DOCKER_HOST nowhere, and PATH without a `docker`."""
    bin_dir = where / "bin-without-docker"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("git", "sh"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    return {**env, "DOCKER_HOST": NO_ENGINE, "PATH": str(bin_dir)}


def make_project(
    where: Path,
    index: PackageIndex,
    registry: Registry,
    env: dict[str, str],
    extra: str = "",
    name: str = "push",
) -> Path:
    project = write_project(
        where,
        index_url=index.url,
        dependencies='"alpha (==1.0)", "delta (>=1)", "native (>=1)"',
        dev_dependencies='devtool = "^1.0"',
        table=f'repository = "{registry.host}/{name}/ci-image"\nbase = "{BASE_IMAGE}"\n' + extra,
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
    module_env: dict[str, str],
) -> Path:
    """The project the module's tests push, locked with the module's cache."""
    return make_project(tmp_path_factory.mktemp("push") / "shop", index, registry, module_env)


@pytest.fixture(scope="module")
def pushed(
    project: Path, module_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """The push, with no engine anywhere, by a runner that never pushed before (an empty cache
    of its own, so nothing is mounted from what other tests pushed), the only push to the
    project's repository (the others name their own, so none put the base there before): the
    reference, and what it said."""
    where = tmp_path_factory.mktemp("no-engine")
    env = {**engine_free(module_env, where), "POETRY_CACHE_DIR": str(where / "cache")}
    result = run_poetry(project, "image", "push", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr


def test_push_needs_no_engine(pushed: tuple[str, str], registry: Registry) -> None:
    """The registry lists the tag; the base's layers were copied across from Docker Hub."""
    reference, stderr = pushed
    repository, tag = reference.removeprefix(f"{registry.host}/").split(":")
    assert manifest_status(registry.host, repository, tag) == 200
    from tests.integration.test_build import http_get

    manifest = json.loads(http_get(f"{registry.url}/v2/{repository}/manifests/{tag}"))
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"  # not an index
    assert f"Reading the base image {BASE_IMAGE} for linux/amd64" in stderr
    assert "1 copied from the base's registry" in stderr
    assert f"Pushed {reference} in " in stderr


def test_the_pushed_image_runs_with_exactly_the_locked_set(
    pushed: tuple[str, str], project: Path, tool_env: dict[str, str], docker_client: Any
) -> None:
    """Pulled and run: the locked set (dev group included), no project, no pip; Poetry works."""
    reference, _ = pushed
    docker_client.images.pull(reference)
    output = run_in_image(docker_client, reference, ["python", "-c", LIST_DISTRIBUTIONS])
    assert [tuple(item) for item in json.loads(output)] == [
        ("alpha", "1.0"),
        ("beta", "2.0"),
        ("delta", "1.0"),
        ("devtool", "1.0"),
        ("native", "1.0"),
    ]
    versions = run_in_image(
        docker_client,
        reference,
        ["sh", "-c", "python -c 'import alpha, beta, delta, native, devtool' && poetry --version"],
    )
    from poetry.__version__ import __version__

    assert versions == f"Poetry (version {__version__})\n"


def test_poetry_install_in_the_pushed_image_installs_only_the_project(
    pushed: tuple[str, str], project: Path, docker_client: Any, tmp_path: Path
) -> None:
    """A CI job's `poetry install`, with no network: every dependency is there already."""
    reference, _ = pushed
    docker_client.images.pull(reference)
    checkout = tmp_path / "checkout"
    shutil.copytree(project, checkout)
    output = run_in_image(
        docker_client,
        reference,
        ["poetry", "install", "--no-interaction", "--no-ansi"],
        volumes={str(checkout): {"bind": "/builds/shop", "mode": "rw"}},
        working_dir="/builds/shop",
    )
    assert "No dependencies to install or update" in output
    assert "Installing the current project: shop (0.1.0)" in output


def test_second_push_is_a_no_op_without_an_engine(
    pushed: tuple[str, str], project: Path, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """When the registry has the tag, push says so, and that is all."""
    reference, _ = pushed
    result = run_poetry(project, "image", "push", env=engine_free(tool_env, tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{reference}\n",
        f"{reference} is already in the registry; nothing to build or push.\n",
    )


def test_remote_check_after_push(
    pushed: tuple[str, str], project: Path, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """`tag --remote` is green after the push, without an engine, and hands the reference
    on (`--dotenv`) as push would."""
    reference, _ = pushed
    dotenv = tmp_path / "ci-image.env"
    result = run_poetry(
        project, "image", "tag", "--remote", "--dotenv", str(dotenv),
        env=engine_free(tool_env, tmp_path),
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"{reference}\n",
        f"{reference} is in the registry.\n",
    )
    assert dotenv.read_text() == f"CI_IMAGE={reference}\n"


def test_remote_check_of_a_missing_image(
    project: Path, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """Another fingerprint is not in the registry: exit 1 and the remedy, no dotenv."""
    dotenv = tmp_path / "ci-image.env"
    result = run_poetry(
        project, "image", "tag", "--remote", "--layers", "7", "--dotenv", str(dotenv),
        env=tool_env,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert not dotenv.exists()
    assert result.stdout == ""
    assert result.stderr.endswith(
        " is not in the registry.\nRun `poetry image push` to build and push it.\n"
    )


def test_unreachable_registry(project: Path, tool_env: dict[str, str]) -> None:
    """A registry nobody answers for: exit 2, one message, no traceback (after the retries)."""
    result = run_poetry(
        project, "image", "tag", "--remote", "--repository", "127.0.0.1:9/shop", env=tool_env
    )
    assert result.returncode == 2
    assert result.stderr == (
        "Error: The registry 127.0.0.1:9 cannot be reached: connection refused (nothing listens "
        "at that address and port)\n"
        "Check the network, the registry host name and port, and any proxy settings.\n"
    )


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
        "--layers",
        "9",
        env=engine_free(tool_env, tmp_path),
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


def test_a_base_in_the_same_registry_is_mounted_not_copied(
    project: Path,
    registry: Registry,
    hub_registry: Registry,
    tool_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """The base in the target registry: its layer is mounted (no bytes move); a second
    repository of the same registry mounts it again, and the layers this runner pushed to the
    first too, so nothing is uploaded; a third push finds everything there."""
    from tests.support.base_images import push_base_image
    from tests.support.base_images import rootfs_tarball

    base = push_base_image(
        registry.host,
        "mirror/python",
        "3.11-slim-bookworm",
        {"linux/amd64": rootfs_tarball("linux/amd64")},
    )
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    mounted = f"{registry.host}/mounted/ci-image"
    first = run_poetry(
        project, "image", "push", "--base", base.reference, "--repository", mounted, env=env
    )
    assert first.returncode == 0, first.stderr
    assert "0 copied from the base's registry, 1 mounted," in first.stderr
    other = run_poetry(
        project,
        "image",
        "push",
        "--base",
        base.reference,
        "--repository",
        f"{registry.host}/other/ci-image",
        env=env,
    )
    assert other.returncode == 0, other.stderr
    assert "0 uploaded (0 kB), 0 copied from the base's registry, " in other.stderr
    again = run_poetry(
        project,
        "image",
        "push",
        "--base",
        base.reference,
        "--repository",
        mounted,
        "--force",
        env=env,
    )
    assert again.returncode == 0, again.stderr
    assert "0 uploaded (0 kB), 0 copied from the base's registry, 0 mounted" in again.stderr


def test_a_docker_hub_mirror_that_is_the_target_registry_mounts_the_base(
    project: Path, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """POETRY_CI_IMAGE_DOCKER_HUB_MIRROR names the target's registry: `python:...` is read
    from there, so its layer is mounted, not copied (a runner that never pushed before, so
    nothing else is mounted)."""
    from tests.support.base_images import push_base_image
    from tests.support.base_images import rootfs_tarball

    push_base_image(
        registry.host,
        "library/python",
        "3.11-slim-bookworm",
        {"linux/amd64": rootfs_tarball("linux/amd64")},
    )
    env = {
        **engine_free(tool_env, tmp_path),
        "POETRY_CI_IMAGE_DOCKER_HUB_MIRROR": registry.host,
        "POETRY_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = run_poetry(
        project, "image", "push", "--repository", f"{registry.host}/hub-mirror/ci-image", env=env
    )
    assert result.returncode == 0, result.stderr
    assert "0 copied from the base's registry, 1 mounted," in result.stderr


def test_a_base_missing_from_the_docker_hub_mirror_names_the_mirror(
    project: Path, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """The base is asked of the mirror, which does not have it: the message says where it was
    asked, and what the mirror must hold."""
    env = {**engine_free(tool_env, tmp_path), "POETRY_CI_IMAGE_DOCKER_HUB_MIRROR": registry.host}
    result = run_poetry(project, "image", "push", "--base", "python:3.11-slim-absent", env=env)
    assert result.returncode == 2
    assert result.stderr.endswith(
        "Error: docker.io/library/python:3.11-slim-absent does not exist "
        f"(asked {registry.host}).\n"
        f"The mirror {registry.host} (POETRY_CI_IMAGE_DOCKER_HUB_MIRROR) must hold it under that "
        "path (push a copy there), or check `base` in [tool.poetry-ci-image].\n"
    )


def test_a_base_from_another_registry_is_copied_once(
    project: Path, registry: Registry, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """From Docker Hub to a repository of its own in the test registry: copied the first time,
    there the next."""
    env = engine_free(tool_env, tmp_path)
    repository = f"{registry.host}/copied-once/ci-image"
    first = run_poetry(
        project, "image", "push", "--layers", "11", "--repository", repository, env=env
    )
    assert first.returncode == 0, first.stderr
    assert "1 copied from the base's registry" in first.stderr
    second = run_poetry(
        project, "image", "push", "--layers", "13", "--repository", repository, env=env
    )
    assert second.returncode == 0, second.stderr
    assert "0 copied from the base's registry" in second.stderr


@pytest.fixture(scope="module")
def private(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    auth_registry: Registry,
    module_env: dict[str, str],
) -> Path:
    """The project pushed to the registry with authentication, locked with the module's cache."""
    return make_project(tmp_path_factory.mktemp("auth") / "shop", index, auth_registry, module_env)


class TestAuthenticatedRegistry:
    """A registry with basic authentication: Docker config, GitLab variables, wrong passwords."""

    def test_push_with_docker_login(
        self, private: Path, auth_registry: Registry, tool_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Credentials from the Docker config push over plain HTTP to loopback, no engine."""
        config = docker_config(tmp_path / "docker", auth_registry)
        env = engine_free({**tool_env, "DOCKER_CONFIG": str(config)}, tmp_path)
        result = run_poetry(private, "image", "push", env=env)
        assert result.returncode == 0, result.stderr
        repository, tag = result.stdout.strip().removeprefix(f"{auth_registry.host}/").split(":")
        assert manifest_status(auth_registry.host, repository, tag, auth=auth_registry.auth) == 200
        check = run_poetry(private, "image", "tag", "--remote", env=env)
        assert check.returncode == 0, check.stderr

    def test_gitlab_variables_without_docker_login(
        self, private: Path, auth_registry: Registry, tool_env: dict[str, str], tmp_path: Path
    ) -> None:
        """In GitLab CI, CI_REGISTRY_USER/PASSWORD work on $CI_REGISTRY; no secret is printed."""
        assert auth_registry.auth is not None
        user, password = auth_registry.auth
        env = engine_free(
            {
                **tool_env,
                "CI_REGISTRY": auth_registry.host,
                "CI_REGISTRY_USER": user,
                "CI_REGISTRY_PASSWORD": password,
            },
            tmp_path,
        )
        result = run_poetry(private, "-vvv", "image", "push", "--force", env=env)
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


def test_four_jobs_pushing_the_same_new_tag_all_succeed(
    project: Path, tool_env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    """Four pipelines racing on one new fingerprint, in a repository of their own: all
    assemble, all push, all exit 0 (two of them on one runner, sharing Poetry's cache)."""
    env = engine_free(tool_env, tmp_path)
    command = [str(POETRY), "--no-ansi", "-v", "image", "push", "--no-poetry", "--layers", "5"]
    command += ["--repository", f"{registry.host}/four-jobs/ci-image"]
    jobs = [
        subprocess.Popen(
            command,
            cwd=project,
            env={**env, "POETRY_CACHE_DIR": str(tmp_path / f"cache-{max(job, 1)}")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in range(4)
    ]
    results = [(job.wait(timeout=600), *job.communicate()) for job in jobs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    references = {out.strip() for _, out, _ in results}
    assert len(references) == 1
    repository, tag = references.pop().removeprefix(f"{registry.host}/").split(":")
    assert manifest_status(registry.host, repository, tag) == 200


def test_transient_faults_are_retried_and_the_push_completes(
    project: Path, tool_env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    """Resets, 500s, a 429 and an upload cut off half-way, on every kind of request: retried
    with back-off (said with -v), and the push (to a repository of its own) completes."""

    with RegistryProxy(registry.host) as proxy:
        proxy.fail(Fault("status", method="HEAD", path=r"/manifests/", times=2, status=500))
        proxy.fail(Fault("reset", method="HEAD", path=r"/blobs/", times=1))
        proxy.fail(Fault("status", method="POST", path=r"/blobs/uploads/", times=1, status=503))
        proxy.fail(Fault("drop-mid-body", method="PUT", path=r"/blobs/uploads/", times=1))
        proxy.fail(Fault("retry-after", method="PUT", path=r"/manifests/", times=1))
        result = run_poetry(
            project,
            "-v",
            "image",
            "push",
            "--layers",
            "6",
            "--repository",
            f"{proxy.host}/transient/ci-image",
            env=engine_free(tool_env, tmp_path),
        )
        faulted = [request for request in proxy.requests if request.faulted]
    assert result.returncode == 0, result.stderr
    assert len(faulted) == 6
    assert result.stderr.count("trying again in") == 6
    assert "failed (HTTP 500); trying again in 0.5 s (2 of 5)" in result.stderr
    assert "failed (HTTP 429 (injected)); trying again in 1.0 s (2 of 5)" in result.stderr


def test_a_persistent_failure_is_one_message_and_leaves_no_tag(
    project: Path, tool_env: dict[str, str], registry: Registry, tmp_path: Path
) -> None:
    """A registry that keeps answering 500 to manifest PUTs (of a repository of the test's
    own): exit 2, one message, no tag."""

    with RegistryProxy(registry.host) as proxy:
        host = proxy.host
        proxy.fail(Fault("status", method="PUT", path=r"/manifests/", times=100, status=500))
        result = run_poetry(
            project,
            "image",
            "push",
            "--layers",
            "8",
            "--repository",
            f"{proxy.host}/persistent/ci-image",
            env=engine_free(tool_env, tmp_path),
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    tag = tag_of(project, tool_env, "8")
    error, hint = result.stderr.splitlines()[-2:]
    # The first manifest sent is the image's own, by digest (the SBOM names it as its subject
    # before any tag points at it).
    assert re.fullmatch(
        rf"Error: The registry {re.escape(host)} answered HTTP 500 \(injected\) for PUT "
        r"/v2/persistent/ci-image/manifests/sha256:[0-9a-f]{64}, 5 times\.",
        error,
    ), error
    assert hint == "Try again later, or check the registry's status."
    assert manifest_status(registry.host, "persistent/ci-image", tag) == 404


def tag_of(project: Path, env: dict[str, str], layers: str) -> str:
    result = run_poetry(project, "image", "tag", "--layers", layers, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().rsplit(":", 1)[1]


def test_proxy_is_used_for_registries_the_hub_mirror_serves(
    pushed: tuple[str, str], docker_hub: RegistryProxy
) -> None:
    """The push read the base through the stand-in Docker Hub's token flow, anonymously."""
    scopes = [scope for request in docker_hub.token_requests for scope in request.scopes]
    assert "repository:library/python:pull" in scopes
    assert not any(request.had_basic_auth for request in docker_hub.token_requests)


def test_a_failing_token_service_is_retried(
    project: Path,
    registry: Registry,
    tool_env: dict[str, str],
    docker_hub: RegistryProxy,
    tmp_path: Path,
) -> None:
    """Docker Hub's token service answers 503 twice, then a reset: the push (to a repository
    of its own) gets its token."""

    docker_hub.fail(Fault("status", method="GET", path=r"^/token", times=2, status=503))
    docker_hub.fail(Fault("reset", method="GET", path=r"^/token", times=1))
    env = {**engine_free(tool_env, tmp_path), "POETRY_CACHE_DIR": str(tmp_path / "cache")}
    try:
        result = run_poetry(
            project,
            "-v",
            "image",
            "push",
            "--layers",
            "15",
            "--repository",
            f"{registry.host}/token-retried/ci-image",
            env=env,
        )
    finally:
        docker_hub.clear_faults()
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("GET the token service failed") == 3
