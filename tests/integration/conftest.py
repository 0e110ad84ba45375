"""Real services for integration tests: the Docker engine, registries and package indexes.

The engine and the root file systems come from `.ci/engine` (run by `.ci/setup`); the registries
and the indexes are started here, on 127.0.0.1, for the session. The base image the projects
name, `python:3.11-slim-bookworm`, lives where the plugin reads it: in a registry that plays
Docker Hub (a loopback registry behind a proxy that runs Docker Hub's anonymous token flow),
reached through POETRY_CI_IMAGE_DOCKER_HUB_MIRROR, with linux/amd64 and linux/arm64 variants.
With CI set, a missing engine, base or registry binary fails the tests instead of skipping them.

The engine is left as it was found: what the tests pulled, built or loaded is removed at the end
of the session, and a check fails if an image is left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import textwrap

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.support.base_images import BaseImage
from tests.support.base_images import push_base_image
from tests.support.base_images import rootfs_tarball
from tests.support.distributions import build_sdist
from tests.support.distributions import build_wheel
from tests.support.index import PackageIndex
from tests.support.poetry_cli import clean_env
from tests.support.poetry_cli import run_poetry
from tests.support.proxy import RegistryProxy
from tests.support.real_wheels import WheelDownloadError
from tests.support.real_wheels import real_wheels
from tests.support.registry import Registry
from tests.support.registry import registry_binary


if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


ENGINE_SOCKET = "unix:///var/tmp/poetry-ci-image/docker.sock"  # where .ci/engine starts dockerd
# The base every project names: Debian bookworm's CPython 3.11, on the stand-in Docker Hub.
BASE_IMAGE = "python:3.11-slim-bookworm"
BASE_REPOSITORY, BASE_TAG = "library/python", "3.11-slim-bookworm"
PLATFORMS = ("linux/amd64", "linux/arm64")
PRIVATE_USER = "ci-reader"
NO_ENGINE = "unix:///nonexistent/docker.sock"


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """DOCKER_HOST of a running engine that has the base image. What the session adds to the
    engine (images, containers, volumes) is removed at the end, and an image left behind fails
    the session. Whatever reaches the engine takes this fixture (Poetry's environments, the
    client, the GitLab runner), so the engine is taken as found before any test adds to it."""
    import docker

    host = os.environ.get("DOCKER_HOST") or ENGINE_SOCKET
    api: Any = None
    try:
        api = docker.APIClient(base_url=host, version="auto")
        api.ping()
    except Exception as error:
        unavailable(f"no Docker engine at {host} ({error}); run .ci/setup")
    try:
        api.inspect_image(BASE_IMAGE)
    except Exception:
        unavailable(f"the base image {BASE_IMAGE} is missing; run .ci/setup")
    client = docker.DockerClient(base_url=host, version="auto")
    images_before = {str(image.id) for image in client.images.list(all=True)}
    containers_before = {c.id for c in client.containers.list(all=True)}
    volumes_before = {v.name for v in client.volumes.list()}
    yield host
    for container in client.containers.list(all=True):
        if container.id not in containers_before:
            container.remove(force=True)
    for volume in client.volumes.list():
        if volume.name not in volumes_before:
            volume.remove(force=True)
    problems = remove_images_added(client, images_before)
    left = {str(image.id) for image in client.images.list(all=True)} - images_before
    if left:
        problems.append(f"images left in the engine: {sorted(left)}")
    assert not problems, "cleaning the engine failed:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def docker_client(docker_host: str) -> Any:
    """A client of the engine (`docker_host` leaves the engine as it found it)."""
    import docker

    return docker.DockerClient(base_url=docker_host, version="auto")


def remove_images_added(client: Any, before: set[str]) -> list[str]:
    """Remove the images that are not in `before`, children before their parents (an engine
    refuses to remove a parent first), until none is left or a pass removes nothing; what
    could not be removed, each said once."""
    import docker.errors

    failures: dict[str, str] = {}
    while True:
        added = [image for image in client.images.list(all=True) if str(image.id) not in before]
        parents = {image.attrs.get("Parent") for image in added}
        removed = 0
        for image in sorted(added, key=lambda image: str(image.id) in parents):
            try:
                client.images.remove(str(image.id), force=True)
                removed += 1
                failures.pop(str(image.id), None)
            except docker.errors.ImageNotFound:  # gone with a child removed before it
                removed += 1
            except docker.errors.APIError as error:
                failures[str(image.id)] = f"{image.tags or image.id}: {error.explanation}"
        if not added or removed == 0:
            return list(failures.values())


@pytest.fixture(scope="session")
def docker_api(docker_client: Any) -> Any:
    return docker_client.api


def run_in_image(docker_client: Any, image: str, command: list[str], **options: Any) -> str:
    """Run `command` in a container of `image` with no network; return its output."""
    output = docker_client.containers.run(
        image, command, remove=True, network_mode="none", stderr=True, **options
    )
    return bytes(output).decode()


def _registry(
    workdir: Path, username: str | None = None, password: str | None = None
) -> Iterator[Registry]:
    if registry_binary() is None:
        unavailable("docker-registry is not installed; run .ci/setup")
    with Registry(workdir, username=username, password=password) as registry:
        yield registry


@pytest.fixture(scope="session")
def hub_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The registry behind the stand-in Docker Hub, holding the two-platform base."""
    yield from _registry(tmp_path_factory.mktemp("hub-registry"))


@pytest.fixture(scope="session")
def base_image(hub_registry: Registry) -> BaseImage:
    """python:3.11-slim-bookworm for linux/amd64 and linux/arm64 (from .ci/engine's tarballs)."""
    try:
        tarballs = {platform: rootfs_tarball(platform) for platform in PLATFORMS}
    except FileNotFoundError as error:
        unavailable(str(error))
    return push_base_image(hub_registry.host, BASE_REPOSITORY, BASE_TAG, tarballs)


@pytest.fixture(scope="session")
def docker_hub(hub_registry: Registry, base_image: BaseImage) -> Iterator[RegistryProxy]:
    """Docker Hub as the plugin meets it: anonymous bearer tokens, then the registry API."""
    with RegistryProxy(hub_registry.host, token_auth=True) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry on 127.0.0.1 without authentication."""
    yield from _registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry on 127.0.0.1 with basic authentication (htpasswd, bcrypt)."""
    yield from _registry(
        tmp_path_factory.mktemp("auth-registry"),
        username="pusher",
        password=secrets.token_urlsafe(12),
    )


@pytest.fixture(scope="session")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """The public index: tiny real wheels, one sdist, one package with platform wheels."""
    files = tmp_path_factory.mktemp("index-files")
    build_wheel(files, "alpha", "1.0", requires=("beta>=1",))
    build_wheel(files, "beta", "1.0")
    build_wheel(files, "beta", "2.0")
    build_sdist(files, "delta", "1.0")
    build_sdist(files, "compiled", "1.0", wheel_tag="cp311-cp311-linux_x86_64")
    build_wheel(
        files, "native", "1.0", tags="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
    )
    build_wheel(files, "native", "1.0", tags="cp311-cp311-win_amd64")
    build_wheel(files, "native", "1.0", tags="cp312-cp312-manylinux_2_17_x86_64")
    build_wheel(files, "devtool", "1.0")
    build_wheel(files, "winonly", "1.0", tags="py3-none-win_amd64")
    with PackageIndex(files) as served:
        yield served


MARKUPSAFE = "markupsafe==3.0.2"


@pytest.fixture(scope="session")
def markupsafe(index: PackageIndex) -> None:
    """MarkupSafe's real wheels (a compiled extension), served by the loopback index: manylinux
    for x86_64 and aarch64, musllinux for x86_64. All at once, before any project locks it:
    Poetry caches the index's page, so files added later would not reach a later lock."""
    try:
        real_wheels(index.files_dir, MARKUPSAFE, ["linux/amd64", "linux/arm64"])
        real_wheels(index.files_dir, MARKUPSAFE, ["linux/amd64"], libc="musl")
    except WheelDownloadError as error:
        unavailable(f"MarkupSafe's wheels could not be downloaded: {error}")


@pytest.fixture(scope="session")
def private_password() -> str:
    return "s3cret-" + secrets.token_hex(8)


@pytest.fixture(scope="session")
def private_index(
    tmp_path_factory: pytest.TempPathFactory, private_password: str
) -> Iterator[PackageIndex]:
    """A private index behind basic authentication."""
    files = tmp_path_factory.mktemp("private-files")
    build_wheel(files, "secretpkg", "1.0", requires=("beta>=1",))
    with PackageIndex(files, username=PRIVATE_USER, password=private_password) as served:
        yield served


@pytest.fixture(scope="session")
def services_env(
    tmp_path_factory: pytest.TempPathFactory,
    docker_host: str,
    private_password: str,
    docker_hub: RegistryProxy,
) -> dict[str, str]:
    """The environment Poetry runs in, but its cache directory: isolated home, the engine,
    credentials for `private`, and the stand-in Docker Hub for base images named on Docker Hub.
    Tests take it with a cache: `tool_env` (the test's own) or `module_env` (the module's)."""
    home = tmp_path_factory.mktemp("home")
    docker_config = home / "docker-config"
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"auths": {}}))
    env = clean_env(
        home,
        DOCKER_HOST=docker_host,
        DOCKER_CONFIG=str(docker_config),
        POETRY_HTTP_BASIC_PRIVATE_USERNAME=PRIVATE_USER,
        POETRY_HTTP_BASIC_PRIVATE_PASSWORD=private_password,
        POETRY_CI_IMAGE_DOCKER_HUB_MIRROR=docker_hub.host,
    )
    del env["POETRY_CACHE_DIR"]
    # The plugin's pip downloads Poetry's own wheels for the image with the machine's pip setup.
    del env["PIP_CONFIG_FILE"]
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    return env


@pytest.fixture
def tool_env(services_env: dict[str, str], poetry_cache: Path) -> dict[str, str]:
    """The environment Poetry runs in, with this test's own cache (tests/conftest.py's
    `poetry_cache`: only content-addressed inputs are shared with other tests)."""
    return {**services_env, "POETRY_CACHE_DIR": str(poetry_cache)}


@pytest.fixture(scope="module")
def module_env(services_env: dict[str, str], module_poetry_cache: Path) -> dict[str, str]:
    """The environment Poetry runs in, with the module's own cache: for the module-scoped
    fixtures that build once for the module's tests (each says so)."""
    return {**services_env, "POETRY_CACHE_DIR": str(module_poetry_cache)}


def write_project(
    directory: Path,
    *,
    index_url: str,
    dependencies: str,
    dev_dependencies: str = "",
    poetry_dependencies: str = "",
    table: str = "",
    private_url: str | None = None,
    name: str = "shop",
    version: str = "0.1.0",
) -> Path:
    """A package-mode project with a source package, using the loopback index(es)."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = f"""
[[tool.poetry.source]]
name = "local"
url = "{index_url}"
priority = "primary"
"""
    if private_url:
        sources += f"""
[[tool.poetry.source]]
name = "private"
url = "{private_url}"
priority = "supplemental"
"""
    dev = (
        f"\n[tool.poetry.group.dev.dependencies]\n{dev_dependencies}\n" if dev_dependencies else ""
    )
    (directory / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{name}"
            version = "{version}"
            requires-python = ">=3.11,<4"
            """
        )
        + f"dependencies = [{dependencies}]\n"
        + f'\n[tool.poetry]\npackages = [{{ include = "{name}", from = "src" }}]\n'
        + dev
        + sources
        + (f"\n[tool.poetry-ci-image]\n{table}\n" if table else "")
        + '\n[build-system]\nrequires = ["poetry-core>=2.0"]\n'
        + 'build-backend = "poetry.core.masonry.api"\n'
    )
    package = directory / "src" / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""The project under test."""\n')
    return directory


def lock(project: Path, env: dict[str, str]) -> None:
    result = run_poetry(project, "lock", env=env)
    assert result.returncode == 0, result.stderr + result.stdout
