"""The plan's files on the host: downloaded through Poetry's cache and credentials, hash-checked,
and built into wheels when they are sdists or git checkouts.

Downloads go to Poetry's artifact cache (shared with `poetry install`); git checkouts and wheels
built on the host go to the run's work directory, which the command removes when it ends.

This module imports Poetry's downloader, builder and git support: import it only to fetch.
"""

from __future__ import annotations

import re
import subprocess
import threading

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import requests

from cleo.io.null_io import NullIO
from packaging.utils import parse_wheel_filename
from poetry.console.exceptions import PoetryConsoleError
from poetry.core.packages.package import Package
from poetry.core.packages.utils.link import Link
from poetry.installation.chef import Chef
from poetry.installation.chef import ChefError
from poetry.repositories.exceptions import PackageNotFoundError
from poetry.repositories.exceptions import RepositoryError
from poetry.utils.authenticator import Authenticator
from poetry.utils.env import EnvManager
from poetry.vcs.git import Git

from poetry_ci_image.errors import FetchError
from poetry_ci_image.errors import Interrupted
from poetry_ci_image.oci import file_digest
from poetry_ci_image.plumbing.network_errors import connection_failure
from poetry_ci_image.plumbing.network_errors import connection_hint
from poetry_ci_image.plumbing.urls import hide_credentials
from poetry_ci_image.poetry.boundary import poetry_boundary
from poetry_ci_image.poetry.planner import canonical_name


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Sequence

    from poetry.poetry import Poetry

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.run import Run
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import PlannedPackage


# What each step may meet that is the user's or the network's, not a Poetry this plugin misreads.
INDEX_ERRORS = (
    RepositoryError,
    PackageNotFoundError,
    requests.RequestException,
    OSError,
    PoetryConsoleError,  # Poetry's "All attempts to connect to <host> failed."
)
DOWNLOAD_ERRORS = (requests.RequestException, OSError, RuntimeError, PoetryConsoleError)
GIT_ERRORS = (PoetryConsoleError, RuntimeError, OSError, subprocess.SubprocessError)
BUILD_ERRORS = (ChefError, PoetryConsoleError, RuntimeError, OSError, subprocess.SubprocessError)


@dataclass(frozen=True)
class FetchedFile:
    name: str
    path: Path  # a file in Poetry's artifact cache, or a wheel built on the host


def fetch_distributions(
    poetry: Poetry,
    packages: Iterable[PlannedPackage],
    target: Target,
    reporter: Reporter,
    *,
    build_sdists: bool,
    workdir: Path,
    cancelled: threading.Event | None = None,
) -> list[FetchedFile]:
    """Download (through Poetry's cache and credentials) the planned files and check their hashes.

    sdists and git dependencies are built into wheels on the host (in `workdir`) when
    `build_sdists` is true; a wheel that comes out platform-specific is refused, since the host
    is not the target. Setting `cancelled` stops the downloads at their next chunk.
    """
    fetcher = _Fetcher(poetry, workdir, cancelled or threading.Event())
    workers = max(1, min(8, int(poetry.config.get("installer.max-workers") or 8)))

    def fetch_one(package: PlannedPackage) -> FetchedFile:
        archive = fetcher.archive(package)
        if package.distribution is not None:
            _check_hash(archive, package)
        ready = archive.name.endswith(".whl") or (package.source.type != "git" and not build_sdists)
        if ready:
            reporter.detail(f"{package.name} {package.version}: {archive.name}")
            return FetchedFile(package.name, archive)
        reporter.detail(f"{package.name} {package.version}: building a wheel from {archive.name}")
        wheel = fetcher.build(archive, package)
        _check_pure(wheel, package, target)
        return FetchedFile(package.name, wheel)

    with poetry_boundary("fetching the locked files"):
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
        try:
            return list(pool.map(fetch_one, packages))
        except BaseException:
            fetcher.cancelled.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class _Fetcher:
    """Poetry's downloader, authenticator and builder, for one run."""

    def __init__(self, poetry: Poetry, workdir: Path, cancelled: threading.Event) -> None:
        self.poetry = poetry
        self.workdir = workdir
        self.cancelled = cancelled
        self._authenticator = Authenticator(poetry.config, NullIO())
        self._downloader = _downloader_class()
        self._lock = threading.Lock()
        self._serial = 0

    def _directory(self, prefix: str) -> Path:
        with self._lock:
            self._serial += 1
            path = self.workdir / f"{prefix}-{self._serial}"
        path.mkdir(parents=True)
        return path

    def archive(self, package: PlannedPackage) -> Path:
        source = package.source
        if source.type == "git":
            return self._clone(package)
        if source.type == "file":
            assert source.url is not None
            path = self.poetry.pyproject_path.parent / source.url
            if not path.is_file():
                raise FetchError(
                    f"{package.name} {package.version}: the locked file {source.url} does not "
                    "exist.",
                    "Restore it, or change the dependency and run `poetry lock`.",
                )
            return path
        assert package.distribution is not None
        if source.type == "url":
            link = Link(_locked_url(self.poetry, package))
        else:
            link = _index_link(self.poetry, package)
        return self._download(link, package)

    def _download(self, link: Link, package: PlannedPackage) -> Path:
        def download(url: str, dest: Path) -> None:
            downloader = self._downloader(url, dest, self._authenticator)
            for _ in downloader.download_with_progress(chunk_size=1 << 16):
                if self.cancelled.is_set():
                    raise Interrupted("The download was interrupted.")

        try:
            archive: Path = self.poetry.pool.artifact_cache.get_cached_archive_for_link(
                link, strict=True, download_func=download
            )
        except DOWNLOAD_ERRORS as error:
            raise FetchError(
                f"Downloading {link.filename} for {package.name} {package.version} failed: "
                f"{connection_failure(error)}",
                connection_hint(
                    error, "Check the network and the credentials Poetry has for the source."
                ),
            ) from error
        return archive

    def _clone(self, package: PlannedPackage) -> Path:
        source = package.source
        assert source.url is not None
        url = _locked_git_url(self.poetry, package.name) or source.url
        try:
            repo = Git.clone(
                url=url,
                source_root=self._directory("git"),
                revision=source.resolved_reference or source.reference,
            )
        except GIT_ERRORS as error:
            raise FetchError(
                f"Cloning {source.url} for {package.name} failed: {hide_credentials(str(error))}",
                "Check the repository URL, the network and your git credentials.",
            ) from error
        path = Path(repo.path)
        return path / source.subdirectory if source.subdirectory else path

    def build(self, archive: Path, package: PlannedPackage) -> Path:
        """A wheel built from an sdist or a checkout with Poetry's Chef (isolated PEP 517 build)."""
        host_env = EnvManager.get_system_env(naive=True)
        chef = Chef(self.poetry.pool.artifact_cache, host_env, self.poetry.pool)
        try:
            wheel: Path = chef.prepare(archive, output_dir=self._directory("wheel"))
        except BUILD_ERRORS as error:
            raise FetchError(
                f"Building a wheel for {package.name} {package.version} from {archive.name} "
                f"failed: {hide_credentials(str(error))}",
                "Build it in your own Dockerfile (see `dockerfile` in the README), or use a "
                "version of the package that ships wheels.",
            ) from error
        return wheel


def _locked_url(poetry: Poetry, package: PlannedPackage) -> str:
    """The URL of a url dependency, with the credentials the lock may hold (never printed)."""
    for locked in poetry.locker.locked_repository().packages:
        if canonical_name(locked.name) == package.name and locked.source_url:
            url: str = locked.source_url
            return url
    raise FetchError(f"{package.name}: its URL is missing from poetry.lock.", "Run `poetry lock`.")


def _index_link(poetry: Poetry, package: PlannedPackage) -> Link:
    assert package.distribution is not None
    reference = package.source.reference if package.source.type == "legacy" else None
    try:
        if reference:
            repository = poetry.pool.repository(reference)
        elif poetry.pool.has_repository("pypi"):
            repository = poetry.pool.repository("pypi")
        else:
            repository = poetry.pool.repositories[0]
    except (IndexError, ValueError) as error:  # Poetry's "Repository ... does not exist"
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
    except INDEX_ERRORS as error:
        raise FetchError(
            f"The package index of source '{repository.name}' could not list "
            f"{package.name} {package.version}: {connection_failure(error)}",
            connection_hint(
                error,
                "Check the network and the credentials Poetry has for that source "
                "(`poetry config http-basic.<source>`, or "
                "POETRY_HTTP_BASIC_<SOURCE>_USERNAME and _PASSWORD).",
            ),
        ) from error
    for link in links:
        if link.filename == package.distribution.filename:
            found: Link = link
            return found
    env_name = re.sub(r"[^A-Z0-9]", "_", repository.name.upper())
    raise FetchError(
        f"Source '{repository.name}' did not list {package.distribution.filename}, which "
        f"poetry.lock locks for {package.name} {package.version}.",
        f"If the source is private, give Poetry its credentials (`poetry config "
        f"http-basic.{repository.name} USER PASSWORD`, or POETRY_HTTP_BASIC_{env_name}_USERNAME "
        f"and POETRY_HTTP_BASIC_{env_name}_PASSWORD); otherwise run `poetry lock --regenerate`.",
    )


def _downloader_class() -> Any:
    """Poetry's Downloader, which moved from poetry.utils.helpers in Poetry 2.5."""
    try:
        from poetry.utils.download import Downloader
    except ImportError:  # Poetry 2.0 - 2.4
        from poetry.utils.helpers import Downloader  # type: ignore[no-redef,unused-ignore]
    return Downloader


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


def _locked_git_url(poetry: Poetry, name: str) -> str | None:
    for locked in poetry.locker.locked_repository().packages:
        if canonical_name(locked.name) == name and locked.source_type == "git":
            url: str | None = locked.source_url
            return url
    return None


def _check_pure(wheel: Path, package: PlannedPackage, target: Target) -> None:
    _, _, _, tags = parse_wheel_filename(wheel.name)
    if not any(tag.abi == "none" and tag.platform == "any" for tag in tags):
        raise FetchError(
            f"{package.name} {package.version} has no wheel for {target.describe()}, and its "
            f"source builds a platform-specific wheel ({wheel.name}): building it on this host "
            "would install the host's binary in the image.",
            "Use your own Dockerfile that installs the build tools and builds it in the image "
            "(see `dockerfile` in the README), or a version that ships a wheel for the target.",
        )


@dataclass(frozen=True)
class PoetrySources:
    """Where the build's wheels come from: the plan's files through Poetry's cache and
    credentials (sdists and git checkouts built on the host), and Poetry's own wheels for the
    target. Poetry is loaded only when something has to be fetched."""

    project: Project
    workdir: Path
    run: Run

    def wheels(self, packages: Sequence[PlannedPackage], target: Target) -> dict[str, Path]:
        fetched = fetch_distributions(
            self.project.poetry,
            packages,
            target,
            self.run.reporter,
            build_sdists=True,
            workdir=self.workdir,
            cancelled=self.run.cancelled,
        )
        return {item.name: item.path for item in fetched}

    def poetry_wheels(self, target: Target) -> list[Path]:
        from poetry_ci_image.poetry.wheels import poetry_wheels

        with poetry_boundary("fetching Poetry's wheels for the image"):
            directory = poetry_wheels(target, self.run.reporter, self.run.cancelled)
        return sorted(directory.glob("*.whl"))
