"""Wheels built on the host from sdists and git checkouts, with Poetry's builder (`Chef`: an
isolated PEP 517 build), and what a build that fails becomes.

The built-in recipe puts only pure-Python wheels built here into the image: the host is not the
target. A build that fails is almost always a package with code to compile for the target (a C
extension whose headers or compiler the host lacks): the message names the package, says it has
no wheel for the target, quotes the build's own last lines (without Poetry's markup), and gives
the two ways out.
"""

from __future__ import annotations

import re
import subprocess

from typing import TYPE_CHECKING
from typing import Any

from packaging.utils import parse_wheel_filename
from poetry.console.exceptions import PoetryConsoleError
from poetry.installation.chef import Chef
from poetry.installation.chef import ChefError
from poetry.utils.env import EnvManager

from poetry_ci_image.errors import FetchError
from poetry_ci_image.plumbing.urls import hide_credentials


try:  # Poetry 2.x: what a failed isolated build raises (outside ChefError's family)
    from poetry.utils.isolated_build import IsolatedBuildBaseError

    ISOLATED: tuple[type[Exception], ...] = (IsolatedBuildBaseError,)
except ImportError:  # pragma: no cover - a Poetry without the module
    ISOLATED = ()

if TYPE_CHECKING:
    from pathlib import Path

    from poetry.poetry import Poetry

    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import PlannedPackage


BUILD_ERRORS: tuple[type[Exception], ...] = (
    ChefError,
    PoetryConsoleError,
    RuntimeError,
    OSError,
    subprocess.SubprocessError,
    *ISOLATED,
)
TAIL_LINES = 8
_MARKUP = re.compile(r"</?(?:[a-z][a-z0-9_;=,-]*)?>")


def build_wheel(poetry: Poetry, archive: Path, directory: Path) -> Path:
    """A wheel built in `directory` from `archive` (an sdist or a checkout). Poetry's errors
    pass through: the caller says what they mean (`build_failure`)."""
    host_env = EnvManager.get_system_env(naive=True)
    chef = Chef(poetry.pool.artifact_cache, host_env, poetry.pool)
    wheel: Path = chef.prepare(archive, output_dir=directory)
    return wheel


def build_failure(
    error: BaseException, archive: Path, package: PlannedPackage, target: Target
) -> FetchError:
    """The error for a build that failed: what is wrong, the build's last lines, what to do."""
    what = "sdist" if package.source.type not in {"git", "directory"} else "source"
    lines = build_output(error)
    tail = "\n".join(f"  {line}" for line in lines[-TAIL_LINES:])
    return FetchError(
        f"{package.name} {package.version} has no wheel for {target.describe()}, and building "
        f"one from its {what} ({archive.name}) on this host failed"
        + (f". The build's last lines:\n{tail}" if tail else "."),
        f"Use a version of {package.name} (or a package index) that has a wheel for "
        f"{target.describe()}, or your own Dockerfile that builds it in the image (`dockerfile` "
        "in [tool.poetry-ci-image]; `poetry image dockerfile` prints one to start from).",
    )


def build_output(error: BaseException) -> list[str]:
    """The build's own output (the backend's stderr, else stdout), or the error's words, as
    plain lines: no Poetry markup, no credentials, no blank lines."""
    process = _called_process_error(error)
    if process is not None:
        text = _text(process.stderr) or _text(process.stdout) or _text(process.output)
    else:
        text = str(error)
    plain = _MARKUP.sub("", hide_credentials(text))
    return [line.rstrip() for line in plain.splitlines() if line.strip()]


def check_pure(wheel: Path, package: PlannedPackage, target: Target) -> None:
    """Refuse a platform-specific wheel built here: it is the host's binary, not the target's."""
    _, _, _, tags = parse_wheel_filename(wheel.name)
    if not any(tag.abi == "none" and tag.platform == "any" for tag in tags):
        raise FetchError(
            f"{package.name} {package.version} has no wheel for {target.describe()}, and its "
            f"source builds a platform-specific wheel ({wheel.name}): building it on this host "
            "would install the host's binary in the image.",
            "Use your own Dockerfile that installs the build tools and builds it in the image "
            "(see `dockerfile` in the README), or a version that ships a wheel for the target.",
        )


def _called_process_error(error: BaseException) -> subprocess.CalledProcessError | None:
    """The build backend's failed process, wherever Poetry and `build` keep it."""
    todo: list[Any] = [error]
    seen: set[int] = set()
    while todo:
        item = todo.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, subprocess.CalledProcessError):
            return item
        todo += [getattr(item, "exception", None), item.__cause__, item.__context__]
    return None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else ""
