"""The recipe for compiled dependencies, run for real: examples/gitlab-compiled as a new project.

Its index holds python-ldap 3.4.4's real sdist (C code linking libldap and libsasl, no wheel),
the real wheels of its dependencies and of setuptools (which its build needs), and pytest's.
gitlab-ci-local runs the example's .gitlab-ci.yml unchanged but for one variable: the deps job
runs in the base image, here the stand-in for python:3.11-slim-bookworm, whose CPython is
Debian's `python3`, so the build also needs `python3-dev` (the official images ship CPython's
headers; docs/recipes.md says so). The job installs the build packages from the base's own
Debian archive, Poetry and the plugin from the job index, builds the sdist and pushes an image
with `libldap-2.5-0`; the test job runs pytest, which calls the compiled extension. A second
pipeline of the same commit finds the image and installs and builds nothing.
"""

from __future__ import annotations

import re
import shutil

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.test_compiled import SDIST
from tests.integration.test_compiled import WHEELS
from tests.recipes.conftest import GITLAB_COMPILED_EXAMPLE
from tests.recipes.gitlab import Project
from tests.recipes.gitlab import Runner
from tests.recipes.gitlab import new_project
from tests.support.index import PackageIndex
from tests.support.poetry_cli import clean_env
from tests.support.real_wheels import WheelDownloadError
from tests.support.real_wheels import real_distribution


if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.recipes.gitlab import Pipeline
    from tests.support.registry import Registry


pytestmark = [pytest.mark.docker, pytest.mark.slow]

# The recipe's BUILD_PACKAGES, and the headers of the stand-in base's Debian CPython.
STAND_IN_BUILD_PACKAGES = "gcc libc6-dev libldap2-dev libsasl2-dev python3-dev"


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    example_wheels: Path,
    auth_registry: Registry,
    developer_home: Path,
    module_poetry_cache: Path,
    gitlab_runner: Runner,
    docker_client: Any,
) -> Iterator[Project]:
    where = tmp_path_factory.mktemp("gitlab-compiled")
    files = where / "index"
    files.mkdir()
    for wheel in example_wheels.glob("*.whl"):  # pytest and its dependencies
        shutil.copy2(wheel, files / wheel.name)
    try:
        real_distribution(files, SDIST, "sdist")
        for requirement in WHEELS:
            real_distribution(files, requirement, "wheel")
    except WheelDownloadError as error:
        pytest.fail(str(error))
    runner = Runner(
        [*gitlab_runner.command, "--variable", f"BUILD_PACKAGES={STAND_IN_BUILD_PACKAGES}"],
        gitlab_runner.env,
    )
    env = {**clean_env(developer_home), "POETRY_CACHE_DIR": str(module_poetry_cache)}
    with PackageIndex(files) as index:
        directory = new_project(
            GITLAB_COMPILED_EXAMPLE,
            where / "ci-image-compiled",
            registry=auth_registry,
            index=index,
            env=env,
        )
        yield Project(directory, auth_registry, index, env, runner)
    for image in docker_client.images.list(name=f"{auth_registry.host}/group/ci-image-compiled/*"):
        for tag in image.tags:
            docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def first(project: Project) -> Pipeline:
    pipeline = project.run_pipeline()
    assert pipeline.returncode == 0, pipeline.output
    return pipeline


def test_the_deps_job_builds_the_sdist_in_the_base_image(first: Pipeline) -> None:
    deps = first.job("deps")
    assert first.image("deps") == "python:3.11-slim-bookworm"
    assert " is not in the registry." in deps
    assert "Building a wheel of python-ldap 3.4.4 from python-ldap-3.4.4.tar.gz" in deps
    assert "Warning" not in deps  # no build banners
    assert first.handed_on["CI_IMAGE"] == first.lock_reference


def test_the_tests_call_the_compiled_extension_in_the_image(first: Pipeline) -> None:
    """The image has the extension and libldap; the build packages stayed in the deps job."""
    test = first.job("test")
    assert first.image("test") == first.lock_reference
    assert "No dependencies to install or update" in test
    assert re.search(r"=+ 1 passed in ", test), test


def test_a_pipeline_that_finds_the_image_builds_nothing(
    project: Project, first: Pipeline, docker_client: Any
) -> None:
    docker_client.images.remove(first.lock_reference, force=True)  # only the registry has it
    second = project.run_pipeline()

    assert second.returncode == 0, second.output
    deps = second.job("deps")
    assert f"{first.lock_reference} is in the registry." in deps
    assert "Building a wheel" not in deps
    assert second.handed_on["CI_IMAGE"] == first.lock_reference
    assert re.search(r"=+ 1 passed in ", second.job("test"))
