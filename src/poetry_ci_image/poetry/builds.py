"""Wheels built on the host from sdists and git checkouts, with Poetry's builder (`Chef`: an
isolated PEP 517 build), and what a build that fails becomes.

A pure-Python wheel built here goes into any image. A wheel with compiled code goes in only when
this host can build it for the target as a job in the base image would: the same CPython minor,
the same architecture, and a C library no newer than the target's (`host_mismatch` says what
differs) -- which the recipe for compiled dependencies arranges, by running the deps job in the
base image with the build packages installed. A build that fails is almost always a package
whose headers or compiler the host lacks: the message names the package, quotes the build's own
lines that say so (without Poetry's markup, without the build tools' banners), and gives the
ways out.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import warnings

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from packaging.utils import parse_wheel_filename
from poetry.console.exceptions import PoetryConsoleError
from poetry.installation.chef import Chef
from poetry.installation.chef import ChefError
from poetry.utils.env import EnvManager
from pyproject_hooks import BuildBackendWarning

from poetry_ci_image.errors import FetchError
from poetry_ci_image.plumbing.atomic import write_atomically
from poetry_ci_image.plumbing.urls import hide_credentials


try:  # Poetry 2.x: what a failed isolated build raises (outside ChefError's family)
    from poetry.utils.isolated_build import IsolatedBuildBaseError

    ISOLATED: tuple[type[Exception], ...] = (IsolatedBuildBaseError,)
except ImportError:  # pragma: no cover - a Poetry without the module
    ISOLATED = ()

if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from packaging.tags import Tag
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
# The build backend's warnings (setuptools' deprecation banners), which the build hooks re-raise
# in this process, are the package's business: a failure quotes the build's own lines. Set for
# the process at import, before any build thread starts; a catch_warnings() block on another
# thread would undo a filter set while it is open.
warnings.filterwarnings("ignore", category=BuildBackendWarning)
_MARKUP = re.compile(r"</?(?:[a-z][a-z0-9_;=,-]*)?>")


def build_wheel(poetry: Poetry, archive: Path, directory: Path) -> Path:
    """A wheel built in `directory` from `archive` (an sdist or a checkout). Poetry's errors
    pass through: the caller says what they mean (`build_failure`)."""
    host_env = EnvManager.get_system_env(naive=True)
    chef = Chef(poetry.pool.artifact_cache, host_env, poetry.pool)
    wheel: Path = chef.prepare(archive, output_dir=directory)
    return wheel


RECIPE = "docs/recipes.md#compiled-dependencies"


def build_failure(
    error: BaseException,
    archive: Path,
    package: PlannedPackage,
    target: Target,
    wheels_for: Sequence[str] = (),
) -> FetchError:
    """The error for a build that failed: what is wrong, the build's lines that say why, what
    to do (`wheels_for`: the CPython minors for which every locked package of the plan that
    has no wheel for the target has one: the cheapest way out)."""
    what = "sdist" if package.source.type not in {"git", "directory"} else "source"
    tail = "\n".join(f"  {line}" for line in telling_lines(build_output(error)))
    if host_mismatch(target) is None:
        hint = (
            f"Install the packages its build needs where the deps job runs: the recipe for "
            f"compiled dependencies ({RECIPE}) runs it in the base image with the -dev packages "
            "(and puts their run-time packages in system-packages); or use a version of "
            f"{package.name} (or a package index) that has a wheel for {target.describe()}."
        )
    else:
        hint = (
            f"Use a version of {package.name} (or a package index) that has a wheel for "
            f"{target.describe()}, or build it in the base image as the recipe for compiled "
            f"dependencies does ({RECIPE})."
        )
    if wheels_for:
        hint += (
            f" A target of CPython {' or '.join(wheels_for)} (`python` and a base of it) has a "
            "wheel for every locked package."
        )
    return FetchError(
        f"{package.name} {package.version} has no wheel for {target.describe()}, and building "
        f"one from its {what} ({archive.name}) on this host failed"
        + (f". The build's output ends:\n{tail}" if tail else "."),
        hint,
    )


def pythons_with_wheels(
    files: Mapping[str, Sequence[str]], target: Target, minors: Sequence[str]
) -> list[str]:
    """Of `minors` (other than the target's), those for which each package of `files` (name ->
    the file names the lock records for it) has a wheel the target's platform and libc take."""
    from dataclasses import replace

    found = []
    for minor in minors:
        if minor == target.python_minor:
            continue
        major, number = (int(part) for part in minor.split("."))
        other = replace(target, python=(major, number, 0))
        tags = set(other.supported_tags())
        if all(any(_wheel_fits(name, tags) for name in names) for names in files.values()):
            found.append(minor)
    return found


def _wheel_fits(filename: str, tags: set[Tag]) -> bool:
    if not filename.endswith(".whl"):
        return False
    try:
        return bool(set(parse_wheel_filename(filename)[3]) & tags)
    except ValueError:
        return False


_ERROR = re.compile(r"(^|\s|:)(error|fatal error|Error)\b|No such file|not found", re.IGNORECASE)
_BANNER = re.compile(r"^\s*([*!=#-]{8,}|\*{3,}.*|!!\s*)$")


def telling_lines(lines: list[str]) -> list[str]:
    """The last lines of a build's output that say why it failed: up to the last line that
    names an error, the build tools' banners (setuptools' boxes of `*` and `!!`) left out."""
    kept = [line for line in lines if not _BANNER.match(line)]
    last = max((i for i, line in enumerate(kept) if _ERROR.search(line)), default=len(kept) - 1)
    return kept[max(0, last - TAIL_LINES + 1) : last + 1]


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


def check_built(wheel: Path, package: PlannedPackage, target: Target) -> None:
    """Refuse a platform-specific wheel built here unless this host builds for the target: a
    job in the base image would build the same binary; another host's is not the target's."""
    _, _, _, tags = parse_wheel_filename(wheel.name)
    if any(tag.abi == "none" and tag.platform == "any" for tag in tags):
        return
    mismatch = host_mismatch(target)
    if mismatch is None and set(tags) & set(target.supported_tags()):
        return
    raise FetchError(
        f"{package.name} {package.version} has no wheel for {target.describe()}, and its "
        f"source builds a platform-specific wheel ({wheel.name}) on this host, whose "
        f"{mismatch or 'wheel tags'} differ from the target's: it would install this host's "
        "binary in the image.",
        f"Build it where the deps job runs in the base image, as the recipe for compiled "
        f"dependencies does ({RECIPE}); or use a version of {package.name} that has a wheel for "
        f"{target.describe()}.",
    )


def host_mismatch(target: Target) -> str | None:
    """What of this host differs from the target for building compiled code (the Python, the
    architecture, the C library: "CPython (3.12, not 3.11)"), or None when it builds for it."""
    import platform
    import sys

    differences = []
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if sys.implementation.name != "cpython" or python != target.python_minor:
        differences.append(f"Python ({sys.implementation.name} {python}, not CPython "
                           f"{target.python_minor})")  # fmt: skip
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if sys.platform != "linux" or machine != target.machine:
        differences.append(f"architecture ({sys.platform}/{machine}, not linux/{target.machine})")
    family, version = platform.libc_ver()
    numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    wanted = "glibc" if target.libc.family == "glibc" else "musl"
    if (family or "musl") != wanted or (wanted == "glibc" and numbers > target.libc.version):
        differences.append(f"C library ({family or 'not glibc'} {version}, not {target.libc})")
    return " and ".join(differences) or None


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


def failed_before(
    failures: Path | None, package: PlannedPackage, target: Target
) -> FetchError | None:
    """The failure of this package's build on this host, when it was remembered."""
    if failures is None or package.distribution is None:
        return None
    try:
        data = json.loads((failures / f"{_failure_key(package, target)}.json").read_text())
        return FetchError(
            f"{data['message']}\n(As the last build of this file on this host: nothing it "
            "depends on changed since, so it was not built again.)",
            str(data["hint"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_failure(
    failures: Path | None, package: PlannedPackage, target: Target, failure: FetchError
) -> None:
    if failures is None or package.distribution is None:
        return
    with contextlib.suppress(OSError):
        write_atomically(
            failures / f"{_failure_key(package, target)}.json",
            json.dumps({"message": failure.message, "hint": failure.hint}),
        )


def _failure_key(package: PlannedPackage, target: Target) -> str:
    """The file, the target, and what of this host a build depends on: its Python, machine, C
    library, and the packages installed on it (a -dev package installed since makes a new key)."""
    import platform
    import sys

    assert package.distribution is not None
    try:
        installed = hashlib.sha256(Path("/var/lib/dpkg/status").read_bytes()).hexdigest()
    except OSError:
        installed = platform.node()
    host = [sys.version, platform.machine(), platform.libc_ver(), installed]
    text = json.dumps([package.distribution.hash, target.describe(), host], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
