"""Every use of Poetry's internals, in one place.

Poetry's plugin API is only the plugin base classes; the locker, the installer, the chooser, the
artifact cache and the authenticator are internals that may change in any minor release. They are
used here and nowhere else, so a Poetry upgrade touches this file only. What leaves this module is
plain data (`ProjectFacts`, `InstallPlan`, paths).

The install plan is not re-implemented: Poetry's own `Installer` runs against the lock with an
environment that describes the target, and an executor that records the operations instead of
performing them. That is what `poetry install` on the target would do, for any lock version and
the user's installer settings (`installer.re-resolve`, `installer.no-binary`, ...).
"""

from __future__ import annotations

import json
import re
import sys

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import cast
from urllib.parse import quote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from poetry_ci_image.digests import file_digest
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.errors import FetchError
from poetry_ci_image.errors import LockError
from poetry_ci_image.errors import PlanError
from poetry_ci_image.plan import Distribution
from poetry_ci_image.plan import InstallPlan
from poetry_ci_image.plan import PlannedPackage
from poetry_ci_image.plan import Source
from poetry_ci_image.plan_cache import ProjectInputs
from poetry_ci_image.plan_cache import poetry_settings


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping

    from packaging.tags import Tag
    from poetry.core.packages.package import Package
    from poetry.installation.operations.operation import Operation
    from poetry.poetry import Poetry
    from poetry.utils.env import Env
    from poetry.utils.env.base_env import MarkerEnv

    from poetry_ci_image.settings import GroupSelection
    from poetry_ci_image.target import Target


# CPython minor versions a project constraint is checked against when no target is given.
KNOWN_MINORS = tuple(f"3.{minor}" for minor in range(8, 17))


class Project:
    """A Poetry project: its files, read cheaply, and the Poetry object, made only when needed."""

    def __init__(self, root: Path, load: Callable[[], Poetry]) -> None:
        self.root = root
        self._load = load
        self._poetry: Poetry | None = None

    @property
    def poetry(self) -> Poetry:
        if self._poetry is None:
            self._poetry = self._load()
        return self._poetry

    def inputs(self, env: Mapping[str, str]) -> ProjectInputs:
        """What the facts and the plan are computed from, for the plan cache's key."""
        from poetry.__version__ import __version__ as poetry_version
        from poetry.locations import CONFIG_DIR

        return ProjectInputs(
            pyproject=(self.root / "pyproject.toml").read_bytes(),
            lock=_read(self.root / "poetry.lock"),
            local_config=_read(self.root / "poetry.toml"),
            global_config=_read(Path(CONFIG_DIR) / "config.toml"),
            poetry_settings=poetry_settings(env),
            poetry_version=poetry_version,
        )


def project_root(directory: Path) -> Path:
    """The directory of the pyproject.toml Poetry uses for `directory` (it searches upwards)."""
    from poetry.core.factory import Factory

    try:
        return Factory.locate(directory).parent
    except RuntimeError as error:  # Poetry's own words: no pyproject.toml found
        raise ConfigError(str(error), "Run the command in a Poetry project, or pass -C.") from None


def application_directory(application: Any) -> Path:
    """The project directory Poetry's application was given (-C/--directory, -P/--project)."""
    directory = getattr(application, "project_directory", None)
    if directory is None:  # Poetry 2.0 - 2.1: a method
        directory = application._project_directory()
    return Path(directory)


def plan_cache_directory() -> Path:
    from poetry.config.config import Config

    return Path(Config.create().get("cache-dir")) / "ci-image" / "plans"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class ProjectFacts:
    """What the plugin needs to know of the project, as plain values."""

    root: Path
    table: Mapping[str, Any]  # [tool.poetry-ci-image]
    python_constraint: str
    allowed_minors: tuple[str, ...]
    poetry_version: str


def project_facts(poetry: Poetry) -> ProjectFacts:
    from poetry.__version__ import __version__ as poetry_version
    from poetry.core.constraints.version import parse_constraint

    package = poetry.package
    allowed = tuple(
        minor
        for minor in KNOWN_MINORS
        if package.python_constraint.allows_any(parse_constraint(f"~{minor}"))
    )
    tool = poetry.pyproject.data.get("tool", {})
    table = tool.get("poetry-ci-image", {})
    return ProjectFacts(
        root=poetry.pyproject_path.parent,
        # Plain values: Poetry may hand tomlkit items, which neither compare nor copy as dicts.
        table=json.loads(json.dumps(table)),
        python_constraint=package.python_versions,
        allowed_minors=allowed,
        poetry_version=poetry_version,
    )


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
        extras=tuple(sorted({_canonical(e) for e in extras})),
        directories=tuple(sorted(directories)),
    )


def _canonical(name: str) -> str:
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
        return {_canonical(name) for name in all_names}
    if asked["only"]:
        return {_canonical(name) for name in asked["only"]}
    default = {name for name in all_names if not package.dependency_group(name).is_optional()}
    chosen = (default | asked["with"]) - asked["without"]
    return {_canonical(name) for name in chosen}


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
        return PlannedPackage(_canonical(package.name), package.pretty_version, source, None)
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
    return PlannedPackage(_canonical(package.name), package.pretty_version, source, distribution)


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


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x` -> `https://host/x`; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


# --------------------------------------------------------------------------- fetching files


@dataclass(frozen=True)
class FetchedFile:
    name: str
    path: Path  # a file in Poetry's artifact cache, or a wheel built on the host


def fetch_distributions(
    poetry: Poetry,
    plan: InstallPlan,
    target: Target,
    on_progress: Callable[[str], None],
    *,
    build_sdists: bool,
) -> list[FetchedFile]:
    """Download (through Poetry's cache and credentials) the planned files and check their hashes.

    sdists and git dependencies are built into wheels on the host when `build_sdists` is true; a
    wheel that comes out platform-specific is refused, since the host is not the target.
    """
    from concurrent.futures import ThreadPoolExecutor

    from cleo.io.null_io import NullIO
    from poetry.utils.authenticator import Authenticator

    authenticator = Authenticator(poetry.config, NullIO())
    workers = max(1, min(8, int(poetry.config.get("installer.max-workers") or 8)))

    def fetch_one(package: PlannedPackage) -> FetchedFile:
        archive = _fetch_archive(poetry, package, authenticator)
        if package.distribution is not None:
            _check_hash(archive, package)
        ready = archive.name.endswith(".whl") or (package.source.type != "git" and not build_sdists)
        if ready:
            on_progress(f"{package.name} {package.version}: {archive.name}")
            return FetchedFile(package.name, archive)
        on_progress(f"{package.name} {package.version}: building a wheel from {archive.name}")
        wheel = _build_on_host(poetry, archive, package)
        _check_pure(wheel, package, target)
        return FetchedFile(package.name, wheel)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fetch_one, plan.packages))


def _fetch_archive(poetry: Poetry, package: PlannedPackage, authenticator: Any) -> Path:
    from poetry.core.packages.utils.link import Link

    source = package.source
    if source.type == "git":
        return _clone_git(poetry, package)
    if source.type == "file":
        assert source.url is not None
        path = poetry.pyproject_path.parent / source.url
        if not path.is_file():
            raise FetchError(
                f"{package.name} {package.version}: the locked file {source.url} does not exist.",
                "Restore it, or change the dependency and run `poetry lock`.",
            )
        return path
    assert package.distribution is not None
    if source.type == "url":
        link = Link(_locked_url(poetry, package))
    else:
        link = _index_link(poetry, package)
    return _download(poetry, link, authenticator, package)


def _locked_url(poetry: Poetry, package: PlannedPackage) -> str:
    """The URL of a url dependency, with the credentials the lock may hold (never printed)."""
    for locked in poetry.locker.locked_repository().packages:
        if _canonical(locked.name) == package.name and locked.source_url:
            url: str = locked.source_url
            return url
    raise FetchError(f"{package.name}: its URL is missing from poetry.lock.", "Run `poetry lock`.")


def _index_link(poetry: Poetry, package: PlannedPackage) -> Any:
    from poetry.core.packages.package import Package

    assert package.distribution is not None
    reference = package.source.reference if package.source.type == "legacy" else None
    try:
        if reference:
            repository = poetry.pool.repository(reference)
        elif poetry.pool.has_repository("pypi"):
            repository = poetry.pool.repository("pypi")
        else:
            repository = poetry.pool.repositories[0]
    except Exception as error:
        raise FetchError(
            f"{package.name} {package.version} is locked from source '{reference}', "
            "which pyproject.toml no longer declares.",
            "Run `poetry lock`.",
        ) from error
    query = Package(
        package.name,
        package.version,
        source_type=package.source.type if reference else None,
        source_url=package.source.url,
        source_reference=reference,
    )
    try:
        links = repository.find_links_for_package(query)
    except Exception as error:
        raise FetchError(
            f"The package index of source '{repository.name}' could not list "
            f"{package.name} {package.version}: {error}",
            "Check the network and the credentials Poetry has for that source "
            "(`poetry config http-basic.<source>`, or "
            "POETRY_HTTP_BASIC_<SOURCE>_USERNAME and _PASSWORD).",
        ) from error
    for link in links:
        if link.filename == package.distribution.filename:
            return link
    env_name = re.sub(r"[^A-Z0-9]", "_", repository.name.upper())
    raise FetchError(
        f"Source '{repository.name}' did not list {package.distribution.filename}, which "
        f"poetry.lock locks for {package.name} {package.version}.",
        f"If the source is private, give Poetry its credentials (`poetry config "
        f"http-basic.{repository.name} USER PASSWORD`, or POETRY_HTTP_BASIC_{env_name}_USERNAME "
        f"and POETRY_HTTP_BASIC_{env_name}_PASSWORD); otherwise run `poetry lock --regenerate`.",
    )


def _download(poetry: Poetry, link: Any, authenticator: Any, package: PlannedPackage) -> Path:
    downloader_class = _downloader_class()

    def download(url: str, dest: Path) -> None:
        downloader = downloader_class(url, dest, authenticator)
        for _ in downloader.download_with_progress(chunk_size=1 << 16):
            pass

    try:
        archive: Path = poetry.pool.artifact_cache.get_cached_archive_for_link(
            link, strict=True, download_func=download
        )
    except Exception as error:
        raise FetchError(
            f"Downloading {link.filename} for {package.name} {package.version} failed: "
            f"{_no_secrets(str(error))}",
            "Check the network and the credentials Poetry has for the package's source.",
        ) from error
    return archive


def _downloader_class() -> Any:
    """Poetry's Downloader, which moved from poetry.utils.helpers in Poetry 2.5."""
    try:
        from poetry.utils.download import Downloader
    except ImportError:  # Poetry 2.0 - 2.4
        from poetry.utils.helpers import Downloader  # type: ignore[no-redef,unused-ignore]
    return Downloader


def _no_secrets(text: str) -> str:
    return re.sub(r"(https?://)[^/@\s]+@", r"\1***@", text)


def _check_hash(archive: Path, package: PlannedPackage) -> None:
    assert package.distribution is not None
    algorithm, _, expected = package.distribution.hash.partition(":")
    actual = file_digest(archive, algorithm)
    if actual != expected:
        raise FetchError(
            f"{archive.name} for {package.name} {package.version} does not match the hash in "
            f"poetry.lock (expected {package.distribution.hash}, "
            f"got {algorithm}:{actual}).",
            "Clear Poetry's cache (`poetry cache clear --all <source>`), or run "
            "`poetry lock --regenerate` if the file really changed.",
        )


def _clone_git(poetry: Poetry, package: PlannedPackage) -> Path:
    import tempfile

    from poetry.vcs.git import Git

    source = package.source
    assert source.url is not None
    url = _locked_git_url(poetry, package.name) or source.url
    checkout = Path(tempfile.mkdtemp(prefix="ci-image-git-"))
    try:
        repo = Git.clone(
            url=url,
            source_root=checkout,
            revision=source.resolved_reference or source.reference,
        )
    except Exception as error:
        raise FetchError(
            f"Cloning {source.url} for {package.name} failed: {_no_secrets(str(error))}",
            "Check the repository URL, the network and your git credentials.",
        ) from error
    path = Path(repo.path)
    return path / source.subdirectory if source.subdirectory else path


def _locked_git_url(poetry: Poetry, name: str) -> str | None:
    for locked in poetry.locker.locked_repository().packages:
        if _canonical(locked.name) == name and locked.source_type == "git":
            url: str | None = locked.source_url
            return url
    return None


def _build_on_host(poetry: Poetry, archive: Path, package: PlannedPackage) -> Path:
    """A wheel built from an sdist or a checkout with Poetry's Chef (isolated PEP 517 build)."""
    import tempfile

    from poetry.installation.chef import Chef
    from poetry.utils.env import EnvManager

    host_env = EnvManager.get_system_env(naive=True)
    chef = Chef(poetry.pool.artifact_cache, host_env, poetry.pool)
    output = Path(tempfile.mkdtemp(prefix="ci-image-wheel-"))
    try:
        wheel: Path = chef.prepare(archive, output_dir=output)
    except Exception as error:
        raise FetchError(
            f"Building a wheel for {package.name} {package.version} from {archive.name} failed: "
            f"{_no_secrets(str(error))}",
            "Build it in your own Dockerfile (see `dockerfile` in the README), or use a version "
            "of the package that ships wheels.",
        ) from error
    return wheel


def _check_pure(wheel: Path, package: PlannedPackage, target: Target) -> None:
    from packaging.utils import parse_wheel_filename

    _, _, _, tags = parse_wheel_filename(wheel.name)
    if not any(tag.abi == "none" and tag.platform == "any" for tag in tags):
        raise FetchError(
            f"{package.name} {package.version} has no wheel for {target.describe()}, and its "
            f"source builds a platform-specific wheel ({wheel.name}): building it on this host "
            "would install the host's binary in the image.",
            "Use your own Dockerfile that installs the build tools and builds it in the image "
            "(see `dockerfile` in the README), or a version that ships a wheel for the target.",
        )


# --------------------------------------------------------------------------- Poetry in the image


def poetry_wheels(poetry: Poetry, target: Target, on_progress: Callable[[str], None]) -> Path:
    """A directory of wheels of this Poetry and its dependencies for the target, cached on the host.

    Poetry's dependencies are pinned to the versions the host's Poetry runs with, where the
    target needs them too.
    """
    import shutil
    import subprocess
    import tempfile

    from poetry.__version__ import __version__ as version

    pip_wheel = embedded_pip_wheel(target)
    cache = Path(poetry.config.get("cache-dir")) / "ci-image" / "poetry"
    libc = f"{target.libc.family}{target.libc.version[0]}.{target.libc.version[1]}"
    key = f"poetry-{version}-cp{target.python[0]}{target.python[1]}-{target.arch}-{libc}"
    directory = cache / key
    if (directory / ".complete").is_file():
        return directory

    on_progress(f"downloading Poetry {version} for {target.describe()} (once, then cached)")
    staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=_ensure(cache)))
    constraints = staging / "constraints.txt"
    constraints.write_text("\n".join(_host_poetry_pins()) + "\n")
    command = [
        sys.executable,
        str(pip_wheel / "pip"),
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        target.python_minor,
        "--abi",
        f"cp{target.python[0]}{target.python[1]}",
        *[arg for tag in target.platform_tags() for arg in ("--platform", tag)],
        "--dest",
        str(staging),
        "--constraint",
        str(constraints),
        f"poetry=={version}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join(_no_secrets(result.stderr).strip().splitlines()[-8:])
        raise FetchError(
            f"Downloading Poetry {version} for {target.describe()} failed:\n{tail}",
            "Check the host's network and pip configuration, or set poetry = false in "
            "[tool.poetry-ci-image] to leave Poetry out of the image.",
        )
    constraints.unlink()
    (staging / ".complete").touch()
    try:
        staging.rename(directory)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _host_poetry_pins() -> list[str]:
    """`name==version` for Poetry and everything it requires, as installed on the host."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    pending = ["poetry"]
    while pending:
        name = canonicalize_name(pending.pop())
        if name in pins:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        pins[name] = distribution.version
        for requirement in distribution.requires or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or "extra" not in str(parsed.marker):
                pending.append(parsed.name)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def embedded_pip_wheel(target: Target) -> Path:
    """The pip wheel virtualenv (a Poetry dependency) embeds for the target's Python."""
    from virtualenv.seed.wheels.embed import get_embed_wheel

    wheel = get_embed_wheel("pip", target.python_minor)
    if wheel is None:
        raise FetchError(
            f"No pip wheel for Python {target.python_minor} ships with this Poetry's virtualenv.",
            "Upgrade Poetry (`poetry self update`), or choose another python.",
        )
    path: Path = wheel.path
    return path
