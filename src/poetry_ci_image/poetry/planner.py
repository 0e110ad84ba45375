"""What `poetry install` would install on the target, computed from the lock alone.

The install plan is not re-implemented: Poetry's own `Installer` runs against the lock with an
environment that describes the target, and an executor that records the operations instead of
performing them. That is what `poetry install` on the target would do, for any lock version and
the user's installer settings (`installer.re-resolve`, `installer.no-binary`, ...). Poetry's
`Chooser` then picks each package's file from the names and hashes the lock lists: no network.

This module imports Poetry's installer: import it only to plan (a plan-cache miss).
"""

from __future__ import annotations

import os

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from cleo.io.null_io import NullIO
from packaging.utils import canonicalize_name
from poetry.core.packages.utils.link import Link
from poetry.installation.chooser import Chooser
from poetry.installation.installer import Installer
from poetry.repositories.installed_repository import InstalledRepository
from poetry.repositories.repository import Repository
from poetry.repositories.repository_pool import RepositoryPool

from poetry_ci_image.errors import LockError
from poetry_ci_image.errors import PlanError
from poetry_ci_image.plumbing.urls import strip_credentials
from poetry_ci_image.poetry.boundary import poetry_boundary
from poetry_ci_image.poetry.lock_shape import lock_problem
from poetry_ci_image.poetry.target_env import TargetEnv
from poetry_ci_image.tag.plan import Distribution
from poetry_ci_image.tag.plan import InstallPlan
from poetry_ci_image.tag.plan import PlannedPackage
from poetry_ci_image.tag.plan import Source


try:  # newer Poetry says "no candidates" with its own error type; Poetry 2.0 a RuntimeError
    from poetry.console.exceptions import PoetryRuntimeError

    NO_CANDIDATES: tuple[type[Exception], ...] = (RuntimeError, PoetryRuntimeError)
except ImportError:  # Poetry 2.0
    NO_CANDIDATES = (RuntimeError,)

if TYPE_CHECKING:
    from poetry.core.packages.package import Package
    from poetry.installation.operations.operation import Operation
    from poetry.poetry import Poetry

    from poetry_ci_image.settings.merge import GroupSelection
    from poetry_ci_image.settings.target import Target


def plan_install(poetry: Poetry, target: Target, selection: GroupSelection) -> InstallPlan:
    """What `poetry install` with `selection` would install on `target`, from the lock alone."""
    with poetry_boundary("planning the install from poetry.lock"):
        _check_lock(poetry)
        groups = _select_groups(poetry, selection)
        extras = (
            [str(e) for e in poetry.package.extras]
            if selection.all_extras
            else list(selection.extras)
        )
        env = TargetEnv(target)
        packages = _installed_by_poetry(poetry, env, groups, extras)
        chooser = LockedFilesChooser(poetry, env, packages)
        locked = [_read(package, chooser) for package in packages]
    # What follows is the plugin's own work, outside the boundary: its bugs are not Poetry's.
    directories = [item.name for item in locked if item.source_type == "directory"]
    planned = [_planned(item, target) for item in locked if item.source_type != "directory"]
    planned.sort(key=lambda p: p.name)
    return InstallPlan(
        packages=tuple(planned),
        groups=tuple(sorted(groups)),
        extras=tuple(sorted({canonical_name(e) for e in extras})),
        directories=tuple(sorted(directories)),
    )


def canonical_name(name: str) -> str:
    return str(canonicalize_name(name))


def _check_lock(poetry: Poetry) -> None:
    """A missing or unreadable poetry.lock, said as such (Poetry would only quote TOML's parser)."""
    locker = poetry.locker
    if not locker.is_locked():
        raise LockError(
            f"poetry.lock was not found in {poetry.pyproject_path.parent}.",
            "Run `poetry lock` to create it, and commit it.",
        )
    try:
        locker.lock_data  # noqa: B018 (parsing is what is checked)
    except ValueError as error:  # TOML's decode error
        raise LockError(
            f"poetry.lock is not a valid lock file: {error}.",
            "Restore it from version control (`git checkout poetry.lock`), or run `poetry lock`.",
        ) from None
    except RuntimeError as error:  # Poetry's words: no metadata, an incompatible lock version
        raise LockError(
            f"poetry.lock cannot be read: {error}",
            "Restore it from version control, or run `poetry lock`.",
        ) from None
    problem = lock_problem(locker.lock_data)
    if problem:
        raise LockError(
            f"poetry.lock is damaged: {problem}.",
            "Restore it from version control (`git checkout poetry.lock`), or run `poetry lock`.",
        )


def _installed_by_poetry(
    poetry: Poetry, env: TargetEnv, groups: set[str], extras: list[str]
) -> list[Package]:
    recorder = RecordingExecutor()
    installer = Installer(
        NullIO(),
        env,
        poetry.package,
        poetry.locker,
        poetry.pool,
        poetry.config,
        installed=InstalledRepository(),
        executor=recorder,  # type: ignore[arg-type]
    )
    installer.only_groups([canonicalize_name(group) for group in groups])
    installer.extras([str(extra) for extra in extras])
    try:
        installer.run()
    except ValueError as error:  # Poetry's own words: stale lock, unknown extra
        raise LockError(str(error)) from error
    return recorder.packages


def _select_groups(poetry: Poetry, selection: GroupSelection) -> set[str]:
    """The groups `poetry install` activates for these options, with Poetry's own checks."""
    package = poetry.package
    all_names = set(package.dependency_group_names(include_optional=True))
    asked = {
        "with": set(selection.with_groups),
        "without": set(selection.without_groups),
        "only": set(selection.only_groups),
    }
    missing: dict[str, set[str]] = {}
    for option, names in asked.items():
        for name in names:
            if not package.has_dependency_group(name):
                missing.setdefault(name, set()).add(option)
    if missing:
        parts = [
            f"{name} (via {', '.join(f'--{o}' for o in sorted(opts))})"
            for name, opts in sorted(missing.items())
        ]
        raise LockError(
            f"Group(s) not found: {', '.join(parts)}",
            "Name groups that pyproject.toml defines, in the options or in [tool.poetry-ci-image].",
        )
    if selection.all_groups:
        return {canonical_name(name) for name in all_names}
    if asked["only"]:
        return {canonical_name(name) for name in asked["only"]}
    default = {name for name in all_names if not package.dependency_group(name).is_optional()}
    chosen = (default | asked["with"]) - asked["without"]
    return {canonical_name(name) for name in chosen}


class RecordingExecutor:
    """Stands in for Poetry's Executor: keeps the packages to install, performs nothing."""

    def __init__(self) -> None:
        self.packages: list[Package] = []
        self.enabled = True

    def execute(self, operations: list[Operation]) -> int:
        for operation in operations:
            if operation.skipped or operation.job_type == "uninstall":
                continue
            self.packages.append(operation.package)
        return 0

    def dry_run(self, dry_run: bool = True) -> RecordingExecutor:
        return self

    def verbose(self, verbose: bool = True) -> RecordingExecutor:
        return self

    def disable(self) -> RecordingExecutor:
        self.enabled = False
        return self


class LockedFiles(Repository):
    """A repository that lists, for a package, the files the lock records (name and hash)."""

    def find_links_for_package(self, package: Package) -> list[Link]:
        # The hash travels in the URL fragment, which every poetry-core 2.x Link parses.
        return [
            Link(f"https://locked.invalid/{quote(e['file'])}#{e['hash'].replace(':', '=', 1)}")
            for e in package.files
        ]


class LockedFilesChooser:
    """Poetry's Chooser, fed the file names and hashes of the lock instead of the index."""

    def __init__(self, poetry: Poetry, env: TargetEnv, packages: list[Package]) -> None:
        names = {"pypi"} | {
            package.source_reference
            for package in packages
            if package.source_type == "legacy" and package.source_reference
        }
        pool = RepositoryPool()
        for name in sorted(names):
            pool.add_repository(LockedFiles(name))
        self._chooser = Chooser(pool, env, poetry.config)

    def choose(self, package: Package) -> tuple[str, str] | None:
        """The file the target installs and its hash, or None when the lock has none it can
        install."""
        try:
            link = self._chooser.choose_for(package)
        except NO_CANDIDATES:  # Poetry's "Unable to find installation candidates for ..."
            return None
        hashes = {entry["file"]: entry["hash"] for entry in package.files}
        return link.filename, hashes[link.filename]


@dataclass(frozen=True)
class _Locked:
    """What the plan needs of a package Poetry would install, read from Poetry's objects."""

    name: str
    pretty_name: str
    version: str
    source_type: str
    url: str | None  # without credentials; a path relative to the project
    reference: str | None
    resolved_reference: str | None
    subdirectory: str | None
    files: tuple[tuple[str, str], ...]  # (file name, hash)
    chosen: tuple[str, str] | None  # the file the target installs, by Poetry's Chooser


def _read(package: Package, chooser: LockedFilesChooser) -> _Locked:
    source_type = package.source_type or "pypi"
    files = tuple((entry["file"], entry["hash"]) for entry in package.files)
    choose = files and source_type not in {"git", "url", "file", "directory"}
    return _Locked(
        name=package.name,
        pretty_name=package.pretty_name,
        version=package.pretty_version,
        source_type=source_type,
        url=_public_url(package, source_type),
        reference=package.source_reference if source_type != "url" else None,
        resolved_reference=package.source_resolved_reference,
        subdirectory=package.source_subdirectory,
        files=files,
        chosen=chooser.choose(package) if choose else None,
    )


def _planned(locked: _Locked, target: Target) -> PlannedPackage:
    name = canonical_name(locked.name)
    source = Source(
        locked.source_type,
        locked.url,
        locked.reference,
        locked.resolved_reference,
        locked.subdirectory,
    )
    if locked.source_type == "git":
        return PlannedPackage(name, locked.version, source, None)
    if not locked.files:
        raise PlanError(
            f"{locked.pretty_name} {locked.version} has no file hashes in poetry.lock.",
            "Run `poetry lock --regenerate` so that the lock lists its files.",
        )
    if locked.source_type in {"url", "file"}:
        return PlannedPackage(name, locked.version, source, Distribution(*locked.files[0]))
    if locked.chosen is None:
        raise PlanError(
            f"{locked.pretty_name} {locked.version} has no distribution in "
            f"poetry.lock that {target.describe()} can install.",
            "Choose another target (python, platform, base), or a version of the package "
            "that ships files for it, then run `poetry lock`.",
        )
    return PlannedPackage(name, locked.version, source, Distribution(*locked.chosen))


def _public_url(package: Package, source_type: str) -> str | None:
    """The source URL without credentials; paths relative to the project, never absolute."""
    url = package.source_url
    if url is None:
        return None
    if source_type in {"file", "directory"}:
        root = package.root_dir
        path = Path(url)
        if root is not None and path.is_absolute():
            try:
                return path.relative_to(root).as_posix()
            except ValueError:
                return Path(os.path.relpath(path, root)).as_posix()
        return path.as_posix()
    return strip_credentials(url)
