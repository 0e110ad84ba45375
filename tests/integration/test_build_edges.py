"""Private indexes, your own Dockerfile, and the failures a user meets, against the real engine."""

from __future__ import annotations

import json
import os
import re
import subprocess

from typing import TYPE_CHECKING
from typing import Any

import pytest

from poetry_ci_image.poetry.builds import RECIPE
from tests.integration.conftest import BASE_IMAGE
from tests.integration.conftest import lock
from tests.integration.conftest import run_in_image
from tests.integration.conftest import write_project
from tests.support.distributions import BACKEND
from tests.support.distributions import PYPROJECT
from tests.support.distributions import core_metadata
from tests.support.poetry_cli import run_poetry


if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.index import PackageIndex


pytestmark = [pytest.mark.docker, pytest.mark.slow]

OWN_DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG VENV
ARG EXTRA
COPY ci-image/ /tmp/ci-image/
COPY ci/apt-packages.txt /tmp/apt-packages.txt
RUN python3 -m venv --without-pip "$VENV" \\
 && "$VENV/bin/python" /tmp/ci-image/pip.whl/pip install --no-index --no-deps \\
    --require-hashes --find-links /tmp/ci-image/dists -r /tmp/ci-image/requirements.txt \\
 && cp /tmp/apt-packages.txt /etc/ci-extra && echo "$EXTRA" >> /etc/ci-extra \\
 && rm -rf /tmp/ci-image
ENV PATH=$VENV/bin:$PATH
"""


@pytest.fixture(scope="module")
def private_project(
    tmp_path_factory: pytest.TempPathFactory,
    index: PackageIndex,
    private_index: PackageIndex,
    module_env: dict[str, str],
) -> Path:
    """A project with a dependency from the private index, locked with the module's cache."""
    project = write_project(
        tmp_path_factory.mktemp("private") / "vault",
        name="vault",
        index_url=index.url,
        private_url=private_index.url,
        dependencies='"secretpkg (==1.0)"',
        poetry_dependencies='secretpkg = { source = "private" }',
        table=f'repository = "registry.example/vault/ci-image"\nbase = "{BASE_IMAGE}"\n'
        "poetry = false",
    )
    lock(project, module_env)
    return project


def test_private_credentials_stay_out_of_the_image(
    private_project: Path,
    tool_env: dict[str, str],
    docker_client: Any,
    private_password: str,
) -> None:
    """The index password is in no layer, no history entry, no label, no log line."""
    result = run_poetry(private_project, "-v", "image", "build", env=tool_env)
    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip()
    assert private_password not in result.stdout + result.stderr

    api = docker_client.api
    history = json.dumps(api.history(reference))
    inspect = json.dumps(api.inspect_image(reference))
    saved = b"".join(api.get_image(reference))
    assert private_password not in history
    assert private_password not in inspect
    assert private_password.encode() not in saved
    assert b"secretpkg" in saved  # the search did look at the layers that hold it

    output = run_in_image(docker_client, reference, ["python", "-c", "import secretpkg, beta"])
    assert output == ""

    listing = run_poetry(private_project, "image", "tag", "--json", env=tool_env)
    assert private_password not in listing.stdout


def test_without_the_index_credentials_the_build_says_so(
    private_project: Path, tool_env: dict[str, str], tmp_path: Path
) -> None:
    """A private index that refuses us: one message naming the source and the remedy."""
    env = {k: v for k, v in tool_env.items() if not k.startswith("POETRY_HTTP_BASIC_")}
    env["POETRY_CACHE_DIR"] = str(tmp_path / "cache")  # nothing of the package is known yet
    result = run_poetry(private_project, "image", "build", "--force", env=env)
    assert result.returncode == 2
    assert result.stderr.endswith(
        "Error: Source 'private' did not list secretpkg-1.0-py3-none-any.whl, which poetry.lock "
        "locks for secretpkg 1.0.\n"
        "If the source is private, give Poetry its credentials (`poetry config "
        "http-basic.private USER PASSWORD`, or POETRY_HTTP_BASIC_PRIVATE_USERNAME and "
        "POETRY_HTTP_BASIC_PRIVATE_PASSWORD); otherwise run `poetry lock --regenerate`.\n"
    )
    assert "Traceback" not in result.stderr


def test_own_dockerfile_gets_the_documented_context(
    tmp_path: Path,
    index: PackageIndex,
    tool_env: dict[str, str],
    docker_client: Any,
) -> None:
    """Your Dockerfile gets the locked files (sdists unbuilt), requirements, hash-files, args."""
    project = write_project(
        tmp_path / "own",
        index_url=index.url,
        dependencies='"alpha (==1.0)", "delta (>=1)"',
        table=f'repository = "registry.example/own/ci-image"\nbase = "{BASE_IMAGE}"\n'
        'dockerfile = "ci/Dockerfile"\nhash-files = ["ci/apt-packages.txt"]\n'
        'build-args = { EXTRA = "from-build-args" }\npoetry = false',
    )
    (project / "ci").mkdir()
    (project / "ci" / "Dockerfile").write_text(OWN_DOCKERFILE)
    (project / "ci" / "apt-packages.txt").write_text("libpq5\n")
    lock(project, tool_env)

    result = run_poetry(project, "image", "build", env=tool_env)
    assert result.returncode == 0, result.stderr
    reference = result.stdout.strip()
    output = run_in_image(
        docker_client,
        reference,
        ["sh", "-c", "cat /etc/ci-extra && python -c 'import alpha, beta, delta'"],
    )
    assert output == "libpq5\nfrom-build-args\n"


def test_failing_build_shows_the_step_and_the_log_tail(
    tmp_path: Path, index: PackageIndex, tool_env: dict[str, str]
) -> None:
    """A failing RUN: exit 2, the failing step, the log's tail, no Python traceback."""
    project = write_project(
        tmp_path / "broken",
        index_url=index.url,
        dependencies='"beta (==2.0)"',
        table=f'repository = "registry.example/broken/ci"\nbase = "{BASE_IMAGE}"\n'
        'dockerfile = "Dockerfile.ci"\npoetry = false',
    )
    (project / "Dockerfile.ci").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo preparing && echo broken-step >&2 && exit 3\n"
    )
    lock(project, tool_env)
    result = run_poetry(project, "image", "build", env=tool_env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Last lines of the build log:\n" in result.stderr
    assert "  preparing\n" in result.stderr
    assert "\n  broken-step\n" in result.stderr
    assert (
        "  The command '/bin/sh -c echo preparing && echo broken-step >&2 && exit 3' "
        "returned a non-zero code: 3\n"
    ) in result.stderr
    assert re.search(
        r"\nError: The image build failed at Step 3/\d+ : RUN echo preparing && "
        r"echo broken-step >&2 && exit 3\.\nFix the failing step: the last lines of the "
        r"build log are above, `-v` shows the whole log\.\n$",
        result.stderr,
    )
    assert "Traceback" not in result.stderr


def test_native_sdist_is_refused_where_the_host_does_not_build_for_the_target(
    tmp_path: Path, index: PackageIndex, tool_env: dict[str, str]
) -> None:
    """An sdist that builds a platform wheel, on a host whose C library is newer than the
    target's (glibc 2.36 here, the target says 2.31): the build stops with what differs and the
    recipe for compiled dependencies. (Where the host matches, it is built: test_compiled.py.)"""
    project = write_project(
        tmp_path / "native",
        index_url=index.url,
        dependencies='"compiled (==1.0)"',
        table=f'repository = "registry.example/native/ci"\nbase = "{BASE_IMAGE}"\npoetry = false'
        '\nlibc = "glibc 2.31"',
    )
    lock(project, tool_env)
    result = run_poetry(project, "image", "build", env=tool_env)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.endswith(
        "Error: compiled 1.0 has no wheel for CPython 3.11 on linux/amd64 (glibc 2.31), and its "
        "source builds a platform-specific wheel (compiled-1.0-cp311-cp311-linux_x86_64.whl) on "
        "this host, whose C library (glibc 2.36, not glibc 2.31) differ from the target's: it "
        "would install this host's binary in the image.\n"
        "Build it where the deps job runs in the base image, as the recipe for compiled "
        f"dependencies does ({RECIPE}); or use a version of compiled that has a wheel for "
        "CPython 3.11 on linux/amd64 (glibc 2.31).\n"
    )
    assert "Traceback" not in result.stderr


def test_no_engine(tmp_path: Path, index: PackageIndex, tool_env: dict[str, str]) -> None:
    """No engine answers: exit 2 and how to point at one."""
    project = write_project(
        tmp_path / "p",
        index_url=index.url,
        dependencies='"beta (==2.0)"',
        table=f'repository = "registry.example/p/ci"\nbase = "{BASE_IMAGE}"',
    )
    lock(project, tool_env)
    env = {**tool_env, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = run_poetry(project, "image", "build", env=env)
    assert result.returncode == 2
    first, hint = result.stderr.splitlines()
    assert first.startswith("Error: No Docker engine answers at unix:///nonexistent/docker.sock: ")
    assert hint == (
        "Start Docker, or point DOCKER_HOST at a running engine "
        "(in GitLab CI: a docker:dind service with DOCKER_HOST=tcp://docker:2375)."
    )


def git_repository(where: Path) -> Path:
    """A git repository holding a pure package with a build backend that needs no index."""
    where.mkdir(parents=True)
    (where / "pyproject.toml").write_text(PYPROJECT)
    (where / "backend.py").write_text(BACKEND)
    (where / "PKG-INFO").write_text(core_metadata("gitpkg", "0.3.0", ()))
    (where / "gitpkg").mkdir()
    (where / "gitpkg" / "__init__.py").write_text('VALUE = "from git"\n')
    environment = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid"}
    environment |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "v0.3.0"]):
        subprocess.run(["git", *command], cwd=where, check=True, env={**os.environ, **environment})
    return where


def test_git_and_url_dependencies_count_as_installed_in_the_image(
    tmp_path: Path, index: PackageIndex, tool_env: dict[str, str], docker_client: Any
) -> None:
    """Poetry in the job sees the git and url dependencies installed, as it installed them."""
    repository = git_repository(tmp_path / "gitpkg")
    beta = index.file_url("beta-1.0-py3-none-any.whl")
    project = write_project(
        tmp_path / "direct",
        index_url=index.url,
        dependencies=f'"gitpkg @ git+file://{repository}@main", "beta @ {beta}"',
        table=f'repository = "registry.example/direct/ci"\nbase = "{BASE_IMAGE}"',
    )
    lock(project, tool_env)
    result = run_poetry(project, "image", "build", env=tool_env)
    assert result.returncode == 0, result.stderr
    output = run_in_image(
        docker_client,
        result.stdout.strip(),
        ["sh", "-c", "poetry install --no-interaction --no-ansi && python -c 'import gitpkg'"],
        volumes={str(project): {"bind": "/builds/direct", "mode": "rw"}},
        working_dir="/builds/direct",
    )
    assert "No dependencies to install or update" in output
    assert "Installing the current project: shop (0.1.0)" in output
