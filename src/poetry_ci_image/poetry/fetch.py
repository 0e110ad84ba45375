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
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import requests

from cleo.io.null_io import NullIO
from poetry.console.exceptions import PoetryConsoleError
from poetry.core.packages.package import Package
from poetry.core.packages.utils.link import Link
from poetry.repositories.exceptions import PackageNotFoundError
from poetry.repositories.exceptions import RepositoryError
from poetry.utils.authenticator import Authenticator
from poetry.vcs.git import Git

from poetry_ci_image.errors import FetchError
from poetry_ci_image.errors import Interrupted
from poetry_ci_image.oci import file_digest
from poetry_ci_image.plumbing.network_errors import connection_failure
from poetry_ci_image.plumbing.network_errors import connection_hint
from poetry_ci_image.plumbing.urls import hide_credentials
from poetry_ci_image.poetry.boundary import poetry_boundary
from poetry_ci_image.poetry.builds import BUILD_ERRORS
from poetry_ci_image.poetry.builds import build_failure
from poetry_ci_image.poetry.builds import build_wheel
from poetry_ci_image.poetry.builds import check_built
from poetry_ci_image.poetry.builds import failed_before
from poetry_ci_image.poetry.builds import pythons_with_wheels
from poetry_ci_image.poetry.builds import remember_failure
from poetry_ci_image.poetry.planner import canonical_name


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator

    from poetry.poetry import Poetry

    from poetry_ci_image.plumbing.progress import Reporter
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
    failures: Path | None = None,
) -> Iterator[FetchedFile]:
    """The planned files, each as soon as it is there: downloaded through Poetry's cache and
    credentials, hash-checked.

    sdists and git dependencies are built into wheels on the host (in `workdir`) when
    `build_sdists` is true; a wheel that comes out platform-specific is refused unless the host
    builds for the target (builds.py). A failed build is remembered in `failures` for that file
    and this host (its Python, architecture, C library and installed packages), and said again
    at once next time instead of built again. Setting `cancelled` stops the downloads at their
    next chunk.
    """
    fetcher = _Fetcher(poetry, workdir, cancelled or threading.Event())
    planned = list(packages)
    workers = max(1, min(8, int(poetry.config.get("installer.max-workers") or 8)))

    def fetch_one(package: PlannedPackage) -> FetchedFile:
        with poetry_boundary("fetching the locked files"):
            archive = fetcher.archive(package)
        if package.distribution is not None:
            _check_hash(archive, package)
        ready = archive.name.endswith(".whl") or (package.source.type != "git" and not build_sdists)
        if ready:
            reporter.detail(f"{package.name} {package.version}: {archive.name}")
            return FetchedFile(package.name, archive)
        remembered = failed_before(failures, package, target)
        if remembered is not None:
            raise remembered
        # A status, not a detail: a compiled build takes a while (python-ldap: about 20 s).
        reporter.status(f"Building a wheel of {package.name} {package.version} from {archive.name}")
        with poetry_boundary("building a wheel on the host"):
            try:
                wheel = build_wheel(poetry, archive, fetcher.directory("wheel"))
            except BUILD_ERRORS as error:  # the package's build, not Poetry, failed
                wheels = pythons_with_wheels(_locked_files(poetry, planned), target, MINORS)
                failure = build_failure(error, archive, package, target, wheels)
                remember_failure(failures, package, target, failure)
                raise failure from error
        check_built(wheel, package, target)
        return FetchedFile(package.name, wheel)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
    try:
        for done in as_completed([pool.submit(fetch_one, package) for package in planned]):
            yield done.result()
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

    def directory(self, prefix: str) -> Path:
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
                source_root=self.directory("git"),
                revision=source.resolved_reference or source.reference,
            )
        except GIT_ERRORS as error:
            raise FetchError(
                f"Cloning {source.url} for {package.name} failed: {hide_credentials(str(error))}",
                "Check the repository URL, the network and your git credentials.",
            ) from error
        path = Path(repo.path)
        return path / source.subdirectory if source.subdirectory else path


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


# The CPython minors a cheaper target could be (Poetry 2 runs on 3.9 and later).
MINORS = tuple(f"3.{minor}" for minor in range(9, 15))


def _locked_files(poetry: Poetry, planned: Iterable[PlannedPackage]) -> dict[str, list[str]]:
    """The file names the lock records for each planned package that has no wheel here."""
    names = {
        p.name for p in planned if p.distribution and not p.distribution.filename.endswith(".whl")
    }
    files: dict[str, list[str]] = {}
    for locked in poetry.locker.locked_repository().packages:
        name = canonical_name(locked.name)
        if name in names:
            files[name] = [str(entry["file"]) for entry in locked.files]
    return files


def _locked_git_url(poetry: Poetry, name: str) -> str | None:
    for locked in poetry.locker.locked_repository().packages:
        if canonical_name(locked.name) == name and locked.source_type == "git":
            url: str | None = locked.source_url
            return url
    return None
