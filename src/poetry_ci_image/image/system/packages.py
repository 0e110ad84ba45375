"""The system packages of one image: for each platform, the request resolved against the base's
dpkg database and the archives' indexes for its architecture, and each package fetched,
checked and read.

    settings' request -> sources (the base's apt sources, or system-sources)
      -> each suite's release file, verified by the base's gpgv (once per run)
      -> the Packages indexes of the platform's architecture (checked against the release)
      -> the resolution (resolver.py) -> each .deb (checked against the index) -> its contents
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.image.base_root import RootUnavailable
from poetry_ci_image.image.cache.keys import cache_key
from poetry_ci_image.image.system.apt_sources import base_sources
from poetry_ci_image.image.system.apt_sources import configured_sources
from poetry_ci_image.image.system.control import ControlError
from poetry_ci_image.image.system.control import relation_of
from poetry_ci_image.image.system.deb import read_deb
from poetry_ci_image.image.system.index import Candidate
from poetry_ci_image.image.system.index import Universe
from poetry_ci_image.image.system.index import installed_packages
from poetry_ci_image.image.system.index import load_index
from poetry_ci_image.image.system.release import release
from poetry_ci_image.image.system.resolver import Resolution
from poetry_ci_image.image.system.resolver import resolve


if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.base_root import BaseRoot
    from poetry_ci_image.image.base_root import BaseRoots
    from poetry_ci_image.image.cache.facts import Facts
    from poetry_ci_image.image.system.apt_sources import AptSource
    from poetry_ci_image.image.system.archive import Archive
    from poetry_ci_image.image.system.control import Relation
    from poetry_ci_image.image.system.deb import DebContents
    from poetry_ci_image.image.system.release import Release
    from poetry_ci_image.plumbing.progress import Reporter


RESOLUTION_FORMAT = 1
# Debian's architecture names for the platforms.
ARCHITECTURES = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
# Where a directory link sends dpkg: the base's links that lead to a directory.
_ALIAS_CANDIDATES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "var/run", "var/lock")


@dataclass(frozen=True)
class SystemRequest:
    """What the settings ask for: packages (`name` or `name=version`), and the sources that
    replace the base's (one-line sources.list entries; empty: the base's own)."""

    packages: tuple[str, ...]
    sources: tuple[str, ...] = ()

    def relations(self) -> list[Relation]:
        found = []
        for item in self.packages:
            try:
                found.append(relation_of(item))
            except ControlError:
                raise SystemPackageError(
                    f"'{item}' in system-packages is not a Debian package name, or name=version.",
                    'Write each as "libpq5" or "libpq5=15.10-0+deb12u1".',
                ) from None
        return found


class SystemPackages:
    """Resolution and contents of the system packages, per platform, for one run."""

    def __init__(
        self,
        request: SystemRequest,
        roots: BaseRoots,
        archive: Archive,
        facts: Facts,
        reporter: Reporter,
        workdir: Path,
    ) -> None:
        self.request = request
        self.facts = facts
        self.roots = roots
        self.archive = archive
        self.reporter = reporter
        self.workdir = workdir
        self._lock = threading.Lock()
        self._releases: dict[tuple[str, str], Release] = {}
        self._resolutions: dict[str, Resolution] = {}

    def base(self, platform: str) -> str:
        return self.roots.sources[platform].base

    def root(self, platform: str) -> BaseRoot:
        try:
            return self.roots.root(platform)
        except RootUnavailable as error:
            raise SystemPackageError(
                f"The files of the base image {self.base(platform)} cannot be read here: {error}."
            ) from None

    def resolution(self, platform: str) -> Resolution:
        """What the request installs on `platform`'s base (resolved once per run)."""
        with self._lock:
            if platform not in self._resolutions:
                self._resolutions[platform] = self._resolve(platform)
            return self._resolutions[platform]

    def aliases(self, platform: str) -> dict[str, str]:
        """The base's directory links dpkg follows (`bin` -> `usr/bin`), no leading slashes."""
        root = self.root(platform)
        found = {}
        for path in _ALIAS_CANDIDATES:
            host = root.host_path(path)
            real = root.resolve(path)
            if host.is_symlink() and real is not None and real != path:
                found[path] = real
        return found

    def contents(self, candidate: Candidate, platform: str) -> DebContents:
        """The package's files and control members, its .deb checked against the index."""
        what = f"{candidate.name} {candidate.version} ({candidate.architecture})"
        deb = self.archive.file(candidate.pool_url, candidate.sha256, candidate.size, what)
        if deb is None:
            raise SystemPackageError(
                f"The archive no longer has {what} ({candidate.origin}), which its index "
                "names. Nothing was pushed.",
                "Try again (the archive may be updating).",
            )
        spill = self.workdir / "spill" / "deb" / candidate.sha256
        return read_deb(deb, self.aliases(platform), spill, what)

    def _resolve(self, platform: str) -> Resolution:
        base = self.base(platform)
        root = self.root(platform)
        if root.read("lib/apk/db/installed") is not None:
            raise SystemPackageError(
                f"The base image {base} is an Alpine (apk) system: system-packages installs "
                "Debian packages.",
                "Use a Debian or Ubuntu base (for example python:3.12-slim), or your own "
                "Dockerfile that runs `apk add`.",
            )
        status = root.read("var/lib/dpkg/status")
        sources = self._sources(root, base)
        if status is None or not sources:
            raise SystemPackageError(
                f"The base image {base} has no "
                + ("dpkg database" if status is None else "apt sources")
                + ", so its distribution and release cannot be told (a distroless or "
                "scratch base?).",
                "Use a Debian or Ubuntu base, or name the archives in system-sources in "
                "[tool.poetry-ci-image].",
            )
        architecture = ARCHITECTURES[platform]
        releases = [
            self._release(source, root, base) for source in sources if source.serves(architecture)
        ]
        # The resolution is a function of the request, the base's database and the indexes
        # (named by their hashes in the signed release files): kept under those, so a push
        # whose indexes did not change reads none of them.
        key = cache_key(
            "system-resolution",
            RESOLUTION_FORMAT,
            list(self.request.packages),
            hashlib.sha256(status).hexdigest(),
            architecture,
            [
                (r.source.label, component, r.index(f"{component}/binary-{architecture}/Packages"))
                for r in releases
                for component in r.source.components
            ],
        )
        resolution = _load_resolution(self.facts.recall(key))
        if resolution is None:
            resolution = self._resolve_anew(releases, sources, status, architecture)
            self.facts.remember(key, _dump_resolution(resolution))
        for name, version in resolution.already:
            self.reporter.detail(f"{name} {version} is in the base image already")
        return resolution

    def _resolve_anew(
        self,
        releases: Sequence[Release],
        sources: Sequence[AptSource],
        status: bytes,
        architecture: str,
    ) -> Resolution:
        universe = self._universe(releases, sources, architecture)
        where = ", ".join(dict.fromkeys(s.label for s in sources))
        return resolve(self.request.relations(), universe, installed_packages(status), where)

    def _universe(
        self, releases: Sequence[Release], sources: Sequence[AptSource], architecture: str
    ) -> Universe:
        universe = Universe()
        self.reporter.status(
            f"Reading the package indexes of {', '.join(s.label for s in sources)} ({architecture})"
        )
        for verified in releases:
            for component in verified.source.components:
                text = load_index(self.archive, verified, component, architecture)
                universe.add_index(text, verified, architecture)
        return universe

    def providers(self, platform: str, libraries: Sequence[str]) -> dict[str, str]:
        """The package of the base's archive that installs each of `libraries` (sonames), where
        one is found: named by Debian's policy for library packages (libpq.so.5 -> libpq5,
        libldap-2.5.so.0 -> libldap-2.5-0), and checked by its .deb's file list."""
        root = self.root(platform)
        architecture = ARCHITECTURES[platform]
        sources = [s for s in self._sources(root, self.base(platform)) if s.serves(architecture)]
        releases = [self._release(source, root, self.base(platform)) for source in sources]
        universe = self._universe(releases, sources, architecture)
        found = {}
        for library in libraries:
            for name in library_packages(library):
                candidates = universe.named(name)
                if candidates and library in self._library_names(candidates[0], platform):
                    found[library] = name
                    break
        return found

    def _library_names(self, candidate: Candidate, platform: str) -> set[str]:
        return {
            entry.path.rsplit("/", 1)[-1]
            for entry in self.contents(candidate, platform).entries
            if entry.kind in ("file", "symlink")
        }

    def _sources(self, root: BaseRoot, base: str) -> Sequence[AptSource]:
        if self.request.sources:
            return configured_sources(self.request.sources)
        return base_sources(root, base)

    def _release(self, source: AptSource, root: BaseRoot, base: str) -> Release:
        key = (source.uri, source.suite)
        with contextlib.suppress(KeyError):
            return self._releases[key]
        directory = self.workdir / "releases"
        directory.mkdir(parents=True, exist_ok=True)
        found = release(source, self.archive, root, base, directory)
        self._releases[key] = found
        return found


def _dump_resolution(resolution: Resolution) -> str:
    return json.dumps(
        {
            "packages": [
                [c.text, c.origin, c.pool_url, c.not_automatic] for c in resolution.packages
            ],
            "requested": sorted(resolution.requested),
            "already": [list(item) for item in resolution.already],
        }
    )


def _load_resolution(text: str | None) -> Resolution | None:
    if not text:
        return None
    try:
        data = json.loads(text)
        return Resolution(
            tuple(Candidate(*item) for item in data["packages"]),
            frozenset(data["requested"]),
            tuple((str(name), str(version)) for name, version in data["already"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def library_packages(soname: str) -> list[str]:
    """The names Debian's policy gives the package of a shared library (`libfoo.so.1` ->
    `libfoo1`; `libfoo-2.5.so.0` -> `libfoo-2.5-0`), then the usual exceptions (the name
    without its version, underscores as dashes, the 64-bit time transition's `t64`)."""
    stem, _, version = soname.partition(".so.")
    version = version.split(".")[0]
    if not stem.startswith("lib") or not version:
        return []
    names = [f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}", stem]
    names += [name.replace("_", "-") for name in names]
    names += [f"{name}t64" for name in names]
    return list(dict.fromkeys(name.lower() for name in names))
