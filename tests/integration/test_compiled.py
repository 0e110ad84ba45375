"""A compiled sdist built on a host that matches the target, as the recipe for compiled
dependencies runs the deps job: python-ldap 3.4.4 (sdist only, C code linking libldap and
libsasl), from a loopback index holding its real sdist and the real wheels of its dependencies
and build backend.

This host is the recipe's deps job: CPython 3.11 on x86_64 with glibc 2.36, and the -dev
packages installed (.ci/setup installs libldap2-dev and libsasl2-dev). Its build links
libldap-2.5.so.0, which the base lacks: the push is refused before anything is sent, naming the
library and its package, until `libldap-2.5-0` is in system-packages; then `import ldap` works
in the pulled image with no network.
"""

from __future__ import annotations

import json
import platform
import sys

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import NO_ENGINE
from tests.integration.conftest import lock
from tests.integration.conftest import run_in_image
from tests.integration.conftest import unavailable
from tests.integration.conftest import write_project
from tests.support.index import PackageIndex
from tests.support.poetry_cli import run_poetry
from tests.support.real_wheels import WheelDownloadError
from tests.support.real_wheels import real_distribution
from tests.support.registry import manifest_status


if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

SDIST = "python-ldap==3.4.4"
# Its dependencies, and the build backend Poetry's isolated build installs from the same index.
WHEELS = ("pyasn1==0.6.1", "pyasn1-modules==0.4.1", "setuptools==80.9.0", "wheel==0.45.1")
HEADERS = (Path("/usr/include/ldap.h"), Path("/usr/include/sasl/sasl.h"))


@pytest.fixture(scope="module")
def ldap_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    if sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64":
        pytest.skip("the host must match the target (CPython 3.11 on x86_64) to build it")
    missing = [str(header) for header in HEADERS if not header.is_file()]
    if missing:
        unavailable(
            f"python-ldap's build headers are missing ({', '.join(missing)}); run .ci/setup"
        )
    files = tmp_path_factory.mktemp("ldap-index")
    try:
        real_distribution(files, SDIST, "sdist")
        for requirement in WHEELS:
            real_distribution(files, requirement, "wheel")
    except WheelDownloadError as error:
        unavailable(str(error))
    with PackageIndex(files) as served:
        yield served


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One runner's cache for the module: the sdist is built once."""
    return tmp_path_factory.mktemp("compiled-cache")


def ldap_project(
    where: Path, index: PackageIndex, registry: Registry, env: dict[str, str], system: list[str]
) -> Path:
    table = (
        f'repository = "{registry.host}/compiled/ci-image"\nbase = "{BASE_IMAGE}"\n'
        f"poetry = false\nsystem-packages = {json.dumps(system)}\n"
    )
    project = write_project(
        where, index_url=index.url, dependencies=f'"{SDIST.replace("==", " (==")})"', table=table
    )
    lock(project, env)
    return project


def push(project: Path, env: dict[str, str], cache: Path) -> Any:
    # No engine, but the host's PATH: the build runs gcc, as the recipe's deps job does.
    env = {**env, "DOCKER_HOST": NO_ENGINE, "POETRY_CACHE_DIR": str(cache)}
    return run_poetry(project, "image", "push", env=env)


def test_a_library_the_image_lacks_is_named_before_anything_is_pushed(
    tmp_path: Path,
    ldap_index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    cache: Path,
) -> None:
    project = ldap_project(tmp_path / "project", ldap_index, registry, tool_env, [])
    result = push(project, tool_env, cache)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "Building a wheel of python-ldap 3.4.4 from python-ldap-3.4.4.tar.gz" in result.stderr
    assert "Warning" not in result.stderr  # setuptools' banners, re-raised by the build hooks
    assert (
        "libldap-2.5.so.0, needed by python-ldap (_ldap.cpython-311-x86_64-linux-gnu.so): "
        "add libldap-2.5-0 to system-packages" in result.stderr
    )
    assert "Nothing was pushed." in result.stderr
    tag = run_poetry(project, "image", "tag", env=tool_env).stdout.strip().rsplit(":", 1)[1]
    assert manifest_status(registry.host, "compiled/ci-image", tag) == 404


def test_the_sdist_built_here_imports_in_the_pulled_image(
    tmp_path: Path,
    ldap_index: PackageIndex,
    registry: Registry,
    tool_env: dict[str, str],
    cache: Path,
    docker_client: Any,
) -> None:
    """With the run-time package listed: pushed, pulled, and `import ldap` loads the extension
    (and through it libldap and libsasl) with no network."""
    project = ldap_project(tmp_path / "project", ldap_index, registry, tool_env, ["libldap-2.5-0"])
    result = push(project, tool_env, cache)
    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip()

    docker_client.images.pull(reference)
    check = "import ldap, _ldap; print(ldap.__version__, _ldap.__file__.rsplit('/', 1)[-1])"
    output = run_in_image(docker_client, reference, ["python", "-c", check])
    assert output.split() == ["3.4.4", "_ldap.cpython-311-x86_64-linux-gnu.so"]
