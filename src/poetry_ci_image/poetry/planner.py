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

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import cast
from urllib.parse import quote

from cleo.io.null_io import NullIO
from packaging.utils import canonicalize_name
from poetry.core.packages.utils.link import Link
from poetry.installation.chooser import Chooser
from poetry.installation.installer import Installer
from poetry.repositories.installed_repository import InstalledRepository
from poetry.repositories.repository import Repository
from poetry.repositories.repository_pool import RepositoryPool
from poetry.utils.env import MockEnv

from poetry_ci_image.errors import LockError
from poetry_ci_image.errors import PlanError
from poetry_ci_image.plumbing.urls import strip_credentials
from poetry_ci_image.poetry.boundary import poetry_boundary
from poetry_ci_image.poetry.lock_shape import lock_problem
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
    from packaging.tags import Tag
    from poetry.core.packages.package import Package
    from poetry.installation.operations.operation import Operation
    from poetry.poetry import Poetry
    from poetry.utils.env.base_env import MarkerEnv

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
        planned: list[PlannedPackage] = []
        directories: list[str] = []
        for package in packages:
            if package.source_type == "directory":
                directories.append(package.name)
                continue
            planned.append(_planned(package, chooser, target))
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


class TargetEnv(MockEnv):
    """A Poetry `Env` whose markers and wheel tags are the target's, not the host's.

    Every marker value comes from the target (MockEnv alone leaks some from the host).
    """

    def __init__(self, target: Target) -> None:
        self._target_markers = target.marker_env()
        self._target_tags = TagList(target.supported_tags())
        super().__init__(
            version_info=target.python,
            platform="linux",
            platform_machine=target.machine,
            supported_tags=self._target_tags,
        )

    def get_marker_env(self) -> MarkerEnv:
        return cast("MarkerEnv", dict(self._target_markers))

    def get_supported_tags(self) -> list[Tag]:
        return list(self._target_tags)


class TagList(list["Tag"]):
    """The target's tags, best first, with constant-time `in` and `index`.

    Poetry's Wheel.get_minimum_supported_index calls both once per wheel tag on a list of some
    900 tags; on a large lock that linear search was a third of the planning time.
    """

    def __init__(self, tags: list[Tag]) -> None:
        super().__init__(tags)
        self._positions: dict[Tag, int] = {}
        for position, tag in enumerate(tags):
            self._positions.setdefault(tag, position)

    def __contains__(self, tag: object) -> bool:
        return tag in self._positions

    def index(self, tag: Tag, *args: Any) -> int:
        if args:
            return super().index(tag, *args)
        try:
            return self._positions[tag]
        except KeyError:
            raise ValueError(f"{tag} is not a supported tag") from None


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

    def choose(self, package: Package) -> Distribution | None:
        """The file the target installs, or None when the lock has none it can install."""
        try:
            link = self._chooser.choose_for(package)
        except NO_CANDIDATES:  # Poetry's "Unable to find installation candidates for ..."
            return None
        hashes = {entry["file"]: entry["hash"] for entry in package.files}
        return Distribution(filename=link.filename, hash=hashes[link.filename])


def _planned(package: Package, chooser: LockedFilesChooser, target: Target) -> PlannedPackage:
    source_type = package.source_type or "pypi"
    source = Source(
        type=source_type,
        url=_public_url(package, source_type),
        reference=package.source_reference if source_type != "url" else None,
        resolved_reference=package.source_resolved_reference,
        subdirectory=package.source_subdirectory,
    )
    if source_type == "git":
        return PlannedPackage(canonical_name(package.name), package.pretty_version, source, None)
    if not package.files:
        raise PlanError(
            f"{package.pretty_name} {package.pretty_version} has no file hashes in poetry.lock.",
            "Run `poetry lock --regenerate` so that the lock lists its files.",
        )
    if source_type in {"url", "file"}:
        entry = package.files[0]
        distribution = Distribution(filename=entry["file"], hash=entry["hash"])
    else:
        choice = chooser.choose(package)
        if choice is None:
            raise PlanError(
                f"{package.pretty_name} {package.pretty_version} has no distribution in "
                f"poetry.lock that {target.describe()} can install.",
                "Choose another target (python, platform, base), or a version of the package "
                "that ships files for it, then run `poetry lock`.",
            )
        distribution = choice
    return PlannedPackage(
        canonical_name(package.name), package.pretty_version, source, distribution
    )


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
