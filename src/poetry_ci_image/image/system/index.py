"""What can be installed and what is: the archives' Packages indexes for the target's
architecture (every suite of every source, as apt merges them), and the base's dpkg database.

A Packages index of a Debian release holds some 60,000 packages, of which a request touches a
few hundred: each paragraph is kept as text, indexed by its package name and by the names it
provides, and parsed only when the resolver asks for it.
"""

from __future__ import annotations

import functools
import gzip
import lzma

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.image.system.control import ControlError
from poetry_ci_image.image.system.control import Relation
from poetry_ci_image.image.system.control import field
from poetry_ci_image.image.system.control import paragraphs
from poetry_ci_image.image.system.control import relations
from poetry_ci_image.image.system.versions import Version


if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from poetry_ci_image.image.system.archive import Archive
    from poetry_ci_image.image.system.release import Release


class Candidate:
    """A package an archive offers (one version, one architecture)."""

    def __init__(self, text: str, origin: str, pool_url: str, not_automatic: bool) -> None:
        self.text = text
        self.origin = origin  # the archive and suite, for messages
        self.pool_url = pool_url  # where its .deb is (the archive's URL + its Filename)
        self.not_automatic = not_automatic

    @functools.cached_property
    def fields(self) -> dict[str, str]:
        return next(paragraphs(self.text))

    @property
    def name(self) -> str:
        return self.fields["Package"]

    @functools.cached_property
    def version(self) -> Version:
        return Version(self.fields["Version"])

    @property
    def architecture(self) -> str:
        return field(self.fields, "Architecture")

    @property
    def sha256(self) -> str:
        return field(self.fields, "SHA256")

    @property
    def size(self) -> int:
        return int(field(self.fields, "Size", "0"))

    @property
    def installed_size(self) -> int:
        """KiB, as the index says (dpkg's estimate of its files' size)."""
        return int(field(self.fields, "Installed-Size", "0") or 0)

    @property
    def priority(self) -> str:
        return field(self.fields, "Priority", "optional")

    @functools.cached_property
    def depends(self) -> list[tuple[Relation, ...]]:
        """Pre-Depends, then Depends: both must hold in the image."""
        return relations(field(self.fields, "Pre-Depends")) + relations(
            field(self.fields, "Depends")
        )

    @functools.cached_property
    def provides(self) -> list[Relation]:
        return [clause[0] for clause in relations(field(self.fields, "Provides"))]

    @functools.cached_property
    def conflicts(self) -> list[Relation]:
        """Conflicts and Breaks: neither may be installed beside it."""
        return [
            item
            for name in ("Conflicts", "Breaks")
            for clause in relations(field(self.fields, name))
            for item in clause
        ]

    def __repr__(self) -> str:
        return f"<Candidate {self.name} {self.version} {self.architecture}>"


@dataclass(frozen=True)
class Installed:
    """A package the base's dpkg database says is installed."""

    name: str
    version: Version
    architecture: str
    provides: tuple[Relation, ...]
    conflicts: tuple[Relation, ...]
    fields: dict[str, str]


class Universe:
    """Every candidate of the target's architecture, by name and by what it provides."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[Candidate]] = {}
        self._providers: dict[str, list[Candidate]] = {}
        self.origins: list[str] = []

    def add_index(self, text: str, release: Release, architecture: str) -> None:
        """The paragraphs of one Packages index of `release` (for `architecture`)."""
        source = release.source
        self.origins.append(source.label)
        for chunk in text.split("\n\n"):
            if not chunk.startswith("Package: "):
                chunk = chunk.strip("\n")
                if not chunk.startswith("Package: "):
                    continue
            name = chunk[9 : chunk.find("\n")].strip()
            filename = _line(chunk, "\nFilename: ")
            arch = _line(chunk, "\nArchitecture: ")
            if not filename or arch not in (architecture, "all"):
                continue
            candidate = Candidate(chunk, source.label, source.pool(filename), release.not_automatic)
            self._by_name.setdefault(name, []).append(candidate)
            provided = _line(chunk, "\nProvides: ")
            if provided:
                for item in provided.split(","):
                    virtual = item.strip().split(" ")[0].split(":")[0]
                    if virtual:
                        self._providers.setdefault(virtual, []).append(candidate)

    def named(self, name: str) -> list[Candidate]:
        """The candidates of the real package `name`, the newest first."""
        return sorted(self._by_name.get(name, ()), key=lambda c: c.version, reverse=True)

    def providing(self, name: str) -> list[Candidate]:
        """The candidates that provide `name` (the newest of each first)."""
        return sorted(
            self._providers.get(name, ()), key=lambda c: (c.name, c.version), reverse=True
        )


def load_index(archive: Archive, release: Release, component: str, architecture: str) -> str:
    """The text of `component`'s Packages index for `architecture`, checked against the
    release file ("" when the release has none for it)."""
    source = release.source
    found = release.index(f"{component}/binary-{architecture}/Packages")
    if found is None:
        return ""
    path, sha256, size = found
    what = f"the index of {source.label} {component} ({architecture})"
    kept: Path | None = None
    if release.by_hash:
        directory = path.rsplit("/", 1)[0]
        kept = archive.file(source.url(f"{directory}/by-hash/SHA256/{sha256}"), sha256, size, what)
    if kept is None:
        kept = archive.file(source.url(path), sha256, size, what)
    if kept is None:
        raise SystemPackageError(
            f"The archive does not serve {what} that its release file names ({path}).",
            "Try again (the archive may be updating); check the mirror if it persists.",
        )
    data = kept.read_bytes()
    try:
        if path.endswith(".xz"):
            data = lzma.decompress(data)
        elif path.endswith(".gz"):
            data = gzip.decompress(data)
    except (lzma.LZMAError, OSError, EOFError) as error:
        raise SystemPackageError(f"{what} does not decompress: {error}.") from None
    return data.decode("utf-8", errors="replace")


def installed_packages(status: bytes) -> dict[str, Installed]:
    """The installed packages of a dpkg status file, by name."""
    found: dict[str, Installed] = {}
    try:
        for fields in paragraphs(status.decode("utf-8", errors="replace")):
            words = field(fields, "Status").split()
            if len(words) != 3 or words[2] != "installed":
                continue
            name = field(fields, "Package")
            found[name] = Installed(
                name=name,
                version=Version(field(fields, "Version")),
                architecture=field(fields, "Architecture"),
                provides=tuple(clause[0] for clause in relations(field(fields, "Provides"))),
                conflicts=tuple(
                    item
                    for key in ("Conflicts", "Breaks")
                    for clause in relations(field(fields, key))
                    for item in clause
                ),
                fields=fields,
            )
    except ControlError as error:
        raise SystemPackageError(
            f"The base's dpkg database (/var/lib/dpkg/status) cannot be read: {error}.",
            "Use a base whose dpkg database is intact.",
        ) from None
    return found


def _line(chunk: str, marker: str) -> str:
    start = chunk.find(marker)
    if start < 0:
        return ""
    start += len(marker)
    end = chunk.find("\n", start)
    return chunk[start : end if end >= 0 else len(chunk)].strip()


def provided_names(installed: Iterable[Installed]) -> dict[str, list[Installed]]:
    """Virtual package name -> the installed packages that provide it."""
    found: dict[str, list[Installed]] = {}
    for package in installed:
        for item in package.provides:
            found.setdefault(item.name, []).append(package)
    return found
