"""What `poetry install` would install on the target, computed from the lock alone.

The install plan is not re-implemented: Poetry's own `Installer` runs against the lock with an
environment that describes the target, and an executor that records the operations instead of
performing them. That is what `poetry install` on the target would do, for any lock version and
the user's installer settings (`installer.re-resolve`, `installer.no-binary`, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import cast
from urllib.parse import quote

from poetry_ci_image.errors import LockError
from poetry_ci_image.errors import PlanError
from poetry_ci_image.plan import Distribution
from poetry_ci_image.plan import InstallPlan
from poetry_ci_image.plan import PlannedPackage
from poetry_ci_image.plan import Source
from poetry_ci_image.urls import strip_credentials


if TYPE_CHECKING:
    from collections.abc import Callable

    from packaging.tags import Tag
    from poetry.core.packages.package import Package
    from poetry.installation.operations.operation import Operation
    from poetry.poetry import Poetry
    from poetry.utils.env import Env
    from poetry.utils.env.base_env import MarkerEnv

    from poetry_ci_image.settings import GroupSelection
    from poetry_ci_image.target import Target


def plan_install(poetry: Poetry, target: Target, selection: GroupSelection) -> InstallPlan:
    """What `poetry install` with `selection` would install on `target`, from the lock alone."""
    from cleo.io.null_io import NullIO
    from packaging.utils import canonicalize_name
    from poetry.installation.installer import Installer
    from poetry.repositories.installed_repository import InstalledRepository

    locker = poetry.locker
    if not locker.is_locked():
        raise LockError(
            f"poetry.lock was not found in {poetry.pyproject_path.parent}.",
            "Run `poetry lock` to create it, and commit it.",
        )
    # Freshness is the installer's first check: its ValueError says it in Poetry's words.
    groups = _select_groups(poetry, selection)
    extras = list(poetry.package.extras) if selection.all_extras else list(selection.extras)

    env = _target_env(target)
    recorder = _RecordingExecutor()
    installer = Installer(
        NullIO(),
        env,
        poetry.package,
        locker,
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
    except Exception as error:  # e.g. a lock Poetry cannot parse
        raise LockError(
            f"Poetry could not work out what to install from poetry.lock: {error}",
            "Check that `poetry install --dry-run` works, or run `poetry lock`.",
        ) from error

    chooser = _offline_chooser(poetry, env, recorder.packages)
    planned: list[PlannedPackage] = []
    directories: list[str] = []
    for package in recorder.packages:
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
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


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


class _RecordingExecutor:
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

    def dry_run(self, dry_run: bool = True) -> _RecordingExecutor:
        return self

    def verbose(self, verbose: bool = True) -> _RecordingExecutor:
        return self

    def disable(self) -> _RecordingExecutor:
        self.enabled = False
        return self


def _target_env(target: Target) -> Env:
    """A Poetry `Env` whose markers and wheel tags are the target's, not the host's."""
    from poetry.utils.env import MockEnv

    marker_env = target.marker_env()
    supported_tags = _TagList(target.supported_tags())

    class TargetEnv(MockEnv):
        def get_marker_env(self) -> MarkerEnv:
            return cast("MarkerEnv", dict(marker_env))

        def get_supported_tags(self) -> list[Tag]:
            return list(supported_tags)

    env: Env = TargetEnv(
        version_info=target.python,
        platform="linux",
        platform_machine=target.machine,
        supported_tags=supported_tags,
    )
    return env


class _TagList(list["Tag"]):
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


def _offline_chooser(
    poetry: Poetry, env: Env, packages: list[Package]
) -> Callable[[Package], Distribution]:
    """Poetry's Chooser, fed the file names and hashes of the lock instead of the index."""
    from poetry.core.packages.utils.link import Link
    from poetry.installation.chooser import Chooser
    from poetry.repositories.repository import Repository
    from poetry.repositories.repository_pool import RepositoryPool

    class LockedFiles(Repository):
        def find_links_for_package(self, package: Package) -> list[Link]:
            # The hash travels in the URL fragment, which every poetry-core 2.x Link parses.
            return [
                Link(f"https://locked.invalid/{quote(e['file'])}#{e['hash'].replace(':', '=', 1)}")
                for e in package.files
            ]

    names = {"pypi"} | {
        package.source_reference
        for package in packages
        if package.source_type == "legacy" and package.source_reference
    }
    pool = RepositoryPool()
    for name in sorted(names):
        pool.add_repository(LockedFiles(name))
    chooser = Chooser(pool, env, poetry.config)

    def choose(package: Package) -> Distribution:
        link = chooser.choose_for(package)
        hashes = {entry["file"]: entry["hash"] for entry in package.files}
        return Distribution(filename=link.filename, hash=hashes[link.filename])

    return choose


def _planned(
    package: Package, choose: Callable[[Package], Distribution], target: Target
) -> PlannedPackage:
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
        try:
            distribution = choose(package)
        except Exception as error:
            raise PlanError(
                f"{package.pretty_name} {package.pretty_version} has no distribution in "
                f"poetry.lock that {target.describe()} can install.",
                "Choose another target (python, platform, base), or a version of the package "
                "that ships files for it, then run `poetry lock`.",
            ) from error
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
                return Path(_relpath(path, root)).as_posix()
        return path.as_posix()
    return strip_credentials(url)


def _relpath(path: Path, root: Path) -> str:
    import os

    return os.path.relpath(path, root)
