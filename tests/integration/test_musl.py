"""A musl target: `base = "python:3.11-alpine"` gives a `-musl` tag, musllinux wheels, and an
image that a musl system runs.

Alpine's own packages cannot be reached here, so the stand-in `python:3.11-alpine` on the
stand-in Docker Hub is a musl root file system that `.ci/engine` makes: CPython 3.11 built
from source with Debian's musl-gcc, musl's loader at /lib/ld-musl-x86_64.so.1 as on Alpine,
no shell, no apk, no ssl or zlib. Poetry cannot run on it, so its images leave Poetry out.
"""

from __future__ import annotations

import gzip
import io
import tarfile

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_REPOSITORY
from tests.integration.conftest import lock
from tests.integration.conftest import unavailable
from tests.integration.conftest import write_project
from tests.integration.test_build import http_get
from tests.integration.test_multiplatform import document
from tests.integration.test_push import engine_free
from tests.support.base_images import push_base_image
from tests.support.base_images import rootfs_tarball
from tests.support.poetry_cli import run_poetry
from tests.support.registry import http_status


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.base_images import BaseImage
    from tests.support.index import PackageIndex
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

MUSL_EXTENSION = (
    "opt/venv/lib/python3.11/site-packages/markupsafe/_speedups.cpython-311-x86_64-linux-musl.so"
)


@pytest.fixture(scope="module")
def alpine(hub_registry: Registry) -> BaseImage:
    """The musl stand-in, as `library/python:3.11-alpine` (its config says PYTHON_VERSION,
    as the python images' do)."""
    try:
        tarball = rootfs_tarball("linux/amd64", libc="musl")
    except FileNotFoundError as error:
        unavailable(str(error))
    return push_base_image(
        hub_registry.host,
        BASE_REPOSITORY,
        "3.11-alpine",
        {"linux/amd64": tarball},
        env={"PYTHON_VERSION": "3.11.2"},
    )


def musl_project(
    directory: Path, index: PackageIndex, registry: Registry, env: dict[str, str], extra: str = ""
) -> Path:
    project = write_project(
        directory,
        name="edge",
        index_url=index.url,
        dependencies='"markupsafe (==3.0.2)", "beta (==2.0)"',
        table=f'repository = "{registry.host}/{directory.name}/ci-image"\n'
        f'base = "python:3.11-alpine"\npoetry = false\n{extra}',
    )
    lock(project, env)
    return project


@pytest.fixture(scope="module")
def pushed(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    registry: Registry,
    module_env: dict[str, str],
    alpine: BaseImage,
    markupsafe: None,
) -> str:
    """`poetry image push` of the musl project, with no engine reachable and the module's
    cache."""
    project = musl_project(tmp_path_factory.mktemp("musl") / "edge", index, registry, module_env)
    env = engine_free(module_env, tmp_path_factory.mktemp("no-engine"))
    result = run_poetry(project, "image", "push", env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_an_alpine_base_gives_a_musl_tag_and_the_musllinux_extension(
    pushed: str, registry: Registry
) -> None:
    """The tag says musl; a layer holds MarkupSafe's extension from its musllinux wheel."""
    repository, tag = pushed.removeprefix(f"{registry.host}/").split(":")
    assert tag.startswith("py3.11-amd64-musl-")
    manifest = document(registry, repository, tag)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    found = []
    for layer in manifest["layers"]:
        blob = http_get(f"{registry.url}/v2/{repository}/blobs/{layer['digest']}")
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
            found += [n for n in tar.getnames() if n.startswith("opt/") and n.endswith(".so")]
    assert found == [MUSL_EXTENSION]


def test_a_musl_system_runs_the_image(pushed: str, docker_client: Any) -> None:
    """Pulled and run: the venv's python is the base's musl CPython, and the extension imports."""
    image = docker_client.images.pull(pushed, platform="linux/amd64")
    output = docker_client.containers.run(
        image.id,
        [
            "python",
            "-c",
            "import sys, markupsafe._speedups as s; print(sys.prefix, s.__file__.rsplit('/')[-1])",
        ],
        remove=True,
        network_mode="none",
    )
    assert output == b"/opt/venv _speedups.cpython-311-x86_64-linux-musl.so\n"


def test_a_glibc_tag_on_the_musl_base_is_refused_before_anything_is_pushed(
    tmp_path: Path,
    index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    alpine: BaseImage,
    markupsafe: None,
) -> None:
    """`libc = "glibc 2.36"` on a base whose files say musl: one message, nothing pushed."""
    project = musl_project(
        tmp_path / "glibc-on-musl", index, registry, tool_env, extra='libc = "glibc 2.36"'
    )
    result = run_poetry(project, "image", "push", env=engine_free(tool_env, tmp_path))
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert "runs musl 1.2, but the tag assumes glibc 2.36" in result.stderr
    assert "Traceback" not in result.stderr
    assert http_status(f"{registry.url}/v2/glibc-on-musl/ci-image/tags/list") == 404
