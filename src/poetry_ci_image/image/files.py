"""A package's files as they lie in the image's venv, made on the host from its wheel.

Installing a wheel is unpacking it into the right places, writing launcher scripts and a RECORD;
the `installer` library (which Poetry itself installs with) does exactly that, to any destination.
Here the destination is a list of layer entries at the paths they have in the image
(`opt/venv/lib/pythonX.Y/site-packages/...`, `opt/venv/bin/...` with a `#!<venv>/bin/python`
shebang). No pip and no wheel in the image, no container started; files larger than
`SPILL_BYTES` wait on disk, not in memory. With a `Compile` (bytecode on), the modules installed
into site-packages get their pycs, `__pycache__/<name>.<cache tag>.pyc` beside them, listed in
RECORD as pip lists them (no hash, no size).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import warnings

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import BinaryIO
from typing import Protocol

from installer import install
from installer.destinations import WheelDestination
from installer.records import Hash
from installer.records import RecordEntry
from installer.scripts import Script
from installer.sources import WheelFile
from installer.utils import Scheme
from installer.utils import construct_record_file
from installer.utils import fix_shebang

from poetry_ci_image.errors import FetchError
from poetry_ci_image.image.bytecode.stdlib import pyc_path
from poetry_ci_image.image.elf import ElfFacts
from poetry_ci_image.image.elf import elf_facts
from poetry_ci_image.image.elf import is_elf
from poetry_ci_image.image.tarball import Entry


# installer skips the __pycache__ files some wheels ship, as pip does; no need to say so. Set
# once for the process: wheels are installed on several threads, and catch_warnings() is not
# thread-safe (leaving one block restores the filters another thread had changed meanwhile).
warnings.filterwarnings("ignore", "Skip installing", RuntimeWarning)


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path

    from installer.scripts import LauncherKind
    from installer.scripts import ScriptSection

    from poetry_ci_image.tag.plan import PlannedPackage


INSTALLER_NAME = b"poetry-ci-image\n"
SPILL_BYTES = 256 * 1024


def venv_schemes(venv: str, python: str) -> dict[str, str]:
    """Where each wheel scheme goes in a POSIX venv at `venv` for CPython `python` (X.Y)."""
    site_packages = f"{venv}/lib/python{python}/site-packages"
    return {
        "purelib": site_packages,
        "platlib": site_packages,
        "scripts": f"{venv}/bin",
        "data": venv,
        "headers": f"{venv}/include/site/python{python}",
    }


@dataclass(frozen=True)
class PackageFiles:
    """One installed distribution: its entries, by path in the image."""

    name: str
    entries: tuple[Entry, ...]
    top_level: frozenset[str] = frozenset()  # the import names its top_level.txt says it owns
    elf: Mapping[str, ElfFacts] = field(default_factory=dict)  # compiled files, by path

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.entries)


class Compile(Protocol):
    """Compiles sources into pycs for the target's interpreter (image/bytecode/)."""

    cache_tag: str  # "cpython-311": the pycs' names

    def compile(self, sources: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
        """The pyc of each (path in the image, source) that compiles, by path."""
        ...


class EntriesDestination(WheelDestination):
    """A wheel destination that collects layer entries at their paths in the image's venv."""

    def __init__(
        self, *, venv: str, python: str, distribution: str, spill: Path, compiler: Compile | None
    ) -> None:
        self._venv = venv
        self._schemes = venv_schemes(venv, python)
        self._schemes["headers"] += f"/{distribution}"
        self._interpreter = f"{venv}/bin/python"
        self._spill = spill
        self._compile = compiler
        self.entries: list[Entry] = []

    def _write(self, scheme: Scheme, path: str, data: bytes, executable: bool) -> RecordEntry:
        root = self._schemes[scheme]
        target = posixpath.normpath(posixpath.join(root, path))
        if not (target == root or target.startswith(root + "/")):
            raise FetchError(
                f"The wheel of {posixpath.basename(self._venv)} would write {path} outside {root}.",
                "Report it to the package's authors; such a wheel cannot be installed.",
            )
        digest = self._add(target, data, executable)
        record_hash = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        return RecordEntry(path, Hash("sha256", record_hash), len(data))

    def _add(self, target: str, data: bytes, executable: bool) -> bytes:
        """Add a file at `target` (absolute, in the image); its sha256 digest."""
        digest = hashlib.sha256(data)
        spilled = None
        if len(data) > SPILL_BYTES:  # large files wait on disk, not in memory
            self._spill.mkdir(parents=True, exist_ok=True)
            spilled = self._spill / digest.hexdigest()
            if not spilled.exists():
                spilled.write_bytes(data)
        self.entries.append(
            Entry(
                target.lstrip("/"),
                data=None if spilled else data,
                source=spilled,
                size=len(data),
                digest=digest.hexdigest(),
                executable=executable,
            )
        )
        return digest.digest()

    def _bytecode(self) -> list[tuple[Scheme, RecordEntry]]:
        """The pycs of the modules in site-packages, added as entries; their RECORD rows."""
        if self._compile is None:
            return []
        site_packages = self._schemes["purelib"] + "/"
        sources = [
            ("/" + entry.path, entry.open().read())
            for entry in self.entries
            if entry.path.endswith(".py") and ("/" + entry.path).startswith(site_packages)
        ]
        rows = []
        for path, pyc in sorted(self._compile.compile(sources).items()):
            target = pyc_path(path, self._compile.cache_tag)
            self._add(target, pyc, executable=False)
            relative = target.removeprefix(site_packages)
            rows.append((Scheme("purelib"), RecordEntry(relative, None, None)))
        return rows

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        if scheme == "scripts":
            with fix_shebang(stream, self._interpreter) as fixed:
                return self._write(scheme, os.fspath(path), fixed.read(), is_executable)
        return self._write(scheme, os.fspath(path), stream.read(), is_executable)

    def write_script(
        self, name: str, module: str, attr: str, section: ScriptSection
    ) -> RecordEntry:
        kind: LauncherKind = "posix"
        script_name, data = Script(name, module, attr, section).generate(self._interpreter, kind)
        return self._write(Scheme("scripts"), script_name, data, True)

    def finalize_installation(
        self,
        scheme: Scheme,
        record_file_path: str,
        records: list[tuple[Scheme, RecordEntry]],  # type: ignore[override]
    ) -> None:
        def prefix_for_scheme(file_scheme: str) -> str | None:
            if file_scheme == scheme:
                return None
            return posixpath.relpath(self._schemes[file_scheme], self._schemes[scheme]) + "/"

        rows = [*records, *self._bytecode()]
        with construct_record_file(rows, prefix_for_scheme) as stream:
            self._write(scheme, record_file_path, stream.read(), False)


def direct_url(package: PlannedPackage) -> bytes | None:
    """The `direct_url.json` Poetry writes for a git or url dependency, or None for the others.

    Poetry in the CI job compares it with the lock: without it, a git or url dependency looks
    like another package and is installed again. (A file dependency's URL is the absolute path
    of the job's checkout, unknown at build time, so it gets none.)
    """
    source = package.source
    if source.type == "git":
        reference: dict[str, object] = {
            "url": source.url,
            "vcs_info": {
                "vcs": "git",
                "requested_revision": source.reference,
                "commit_id": source.resolved_reference,
            },
        }
        if source.subdirectory:
            reference["subdirectory"] = source.subdirectory
    elif source.type == "url" and package.distribution is not None:
        algorithm, _, value = package.distribution.hash.partition(":")
        reference = {"url": source.url, "archive_info": {"hashes": {algorithm: value}}}
    else:
        return None
    return json.dumps(reference, sort_keys=True).encode()


def install_wheel(
    name: str,
    wheel: Path,
    *,
    venv: str,
    python: str,
    spill: Path,
    metadata: Mapping[str, bytes] | None = None,
    compiler: Compile | None = None,
) -> PackageFiles:
    """The files `wheel` installs into the venv at `venv` (CPython `python`, X.Y), with the
    pycs of its modules when `compiler` is given.

    `metadata` adds dist-info files (e.g. `direct_url.json`)."""
    with WheelFile.open(wheel) as source:
        destination = EntriesDestination(
            venv=venv,
            python=python,
            distribution=source.distribution,
            spill=spill,
            compiler=compiler,
        )
        extra = {"INSTALLER": INSTALLER_NAME, **(metadata or {})}
        install(source, destination, extra)
    entries = tuple(destination.entries)
    return PackageFiles(name, entries, top_level(entries), compiled_files(entries))


def compiled_files(entries: Sequence[Entry]) -> dict[str, ElfFacts]:
    """The ELF facts of each compiled file (shared library, extension module, program)."""
    found = {}
    for entry in entries:
        if entry.kind != "file" or entry.size < 64:
            continue
        with entry.open() as stream:
            if not is_elf(stream.read(4)):
                continue
            facts = elf_facts(stream)
        if facts is not None:
            found[entry.path] = facts
    return found


def top_level(entries: Sequence[Entry]) -> frozenset[str]:
    """The import names a distribution's `top_level.txt` lists (setuptools writes one)."""
    for entry in entries:
        if entry.path.endswith(".dist-info/top_level.txt"):
            text = entry.open().read().decode(errors="replace")
            return frozenset(line.strip() for line in text.splitlines() if line.strip())
    return frozenset()
