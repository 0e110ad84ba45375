"""What a base image's files say, read from its layers without running it.

The layers are applied as a container runtime applies them (whiteouts included), keeping each
path's kind and the bytes of the few files the facts come from: which `pythonX.Y` are on the
base's PATH, the Python's full version (dpkg's or apk's database), the libc (glibc's version
from `libc.so.6` or dpkg's database; musl from `ld-musl-*.so.1`), and os-release's name.
"""

from __future__ import annotations

import posixpath
import re
import tarfile

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.settings.target import Libc


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator


FACTS_FORMAT = 3  # 2: the installed packages, the os-release ids; 3: its libraries
# Files whose content the facts come from (paths in the image, no leading slash).
_READ = ("etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status", "lib/apk/db/installed")
# the loader's configuration (which directories it searches besides its own)
_LOADER_CONF = re.compile(r"^etc/ld\.so\.conf(\.d/[^/]+)?$")
# a shared library's name, as the loader looks for it
_LIBRARY = re.compile(r"(^|/)(lib|ld-)[^/]*\.so[^/]*$")
# glibc's shared library, wherever the distribution keeps it (lib/x86_64-linux-gnu/, lib64/, ...)
_LIBC = re.compile(r"(^|/)libc\.so\.6$")
# musl's loader: its presence is what makes a musl system
_MUSL = re.compile(r"(^|/)ld-musl-[a-z0-9_]+\.so\.1$")
# a CPython interpreter named for its minor version, as every distribution installs one
_PYTHON = re.compile(r"(^|/)python(3\.\d+)$")
# the version glibc states in its own bytes ("... stable release version 2.36.")
_GLIBC_RELEASE = re.compile(rb"release version (\d+)\.(\d+)")
# before glibc 2.34, libc.so.6 linked to a file named for the version
_GLIBC_FILE = re.compile(r"libc-(\d+)\.(\d+)\.so$")


@dataclass(frozen=True)
class BaseFacts:
    """What the base's files say (see the module's docstring)."""

    pythons: dict[str, str]  # "3.11" -> "/usr/bin/python3.11", first on PATH
    python_versions: dict[str, str]  # "3.11" -> "3.11.2", from a package database
    libc: Libc | None
    os_name: str  # PRETTY_NAME of os-release, or ""
    os_id: str = ""  # ID of os-release: "debian", "ubuntu", "alpine"
    os_version: str = ""  # VERSION_ID of os-release: "12"
    packages: tuple[tuple[str, str, str], ...] = ()  # the package manager's: name, version, arch
    libraries: tuple[str, ...] = ()  # every path of a shared library's name (files and links)
    loader_conf: tuple[tuple[str, str], ...] = ()  # (path, text) of /etc/ld.so.conf and its .d
    links: tuple[tuple[str, str], ...] = ()  # top-level directory links: ("/lib", "/usr/lib")

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FACTS_FORMAT,
            "pythons": self.pythons,
            "python_versions": self.python_versions,
            "libc": [self.libc.family, *self.libc.version] if self.libc else None,
            "os_name": self.os_name,
            "os_id": self.os_id,
            "os_version": self.os_version,
            "packages": [list(package) for package in self.packages],
            "libraries": list(self.libraries),
            "loader_conf": [list(item) for item in self.loader_conf],
            "links": [list(item) for item in self.links],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaseFacts | None:
        if data.get("format") != FACTS_FORMAT:
            return None
        libc = data["libc"]
        return cls(
            pythons=dict(data["pythons"]),
            python_versions=dict(data["python_versions"]),
            libc=Libc(libc[0], (int(libc[1]), int(libc[2]))) if libc else None,
            os_name=str(data["os_name"]),
            os_id=str(data["os_id"]),
            os_version=str(data["os_version"]),
            packages=tuple((str(n), str(v), str(a)) for n, v, a in data["packages"]),
            libraries=tuple(str(path) for path in data["libraries"]),
            loader_conf=tuple((str(path), str(text)) for path, text in data["loader_conf"]),
            links=tuple((str(path), str(target)) for path, target in data["links"]),
        )


@dataclass(frozen=True)
class FileFacts:
    """The base's file system as the facts need it: every path's kind, some files' bytes."""

    kinds: dict[str, tuple[str, str]]  # path -> ("file" | "dir" | "link", link target)
    contents: dict[str, bytes]


def scan_layers(layers: Iterable[Iterable[bytes]]) -> FileFacts:
    """Apply the layers (gzip or plain tar streams, bottom first) as a container runtime does,
    keeping each path's kind and the contents of the files the facts come from."""
    kinds: dict[str, tuple[str, str]] = {}
    contents: dict[str, bytes] = {}
    for chunks in layers:
        reader = ChunkReader(iter(chunks))
        with tarfile.open(fileobj=reader, mode="r|*") as tar:  # type: ignore[call-overload]
            for member in tar:
                path = posixpath.normpath(member.name.lstrip("/")).removeprefix("./")
                directory, name = posixpath.split(path)
                if name == ".wh..wh..opq":
                    _forget(kinds, contents, directory, keep_directory=True)
                    continue
                if name.startswith(".wh."):
                    _forget(kinds, contents, posixpath.join(directory, name[4:]))
                    continue
                parent = posixpath.dirname(path)
                while parent and parent not in kinds:  # parents a layer does not list
                    kinds[parent] = ("dir", "")
                    parent = posixpath.dirname(parent)
                if member.isdir():
                    kinds[path] = ("dir", "")
                elif member.issym():
                    kinds[path] = ("link", member.linkname)
                    contents.pop(path, None)
                elif member.islnk():
                    target = posixpath.normpath(member.linkname.lstrip("/")).removeprefix("./")
                    kinds[path] = kinds.get(target, ("file", ""))
                    if target in contents:
                        contents[path] = contents[target]
                elif member.isfile():
                    kinds[path] = ("file", "")
                    if path in _READ or _LIBC.search(path) or _LOADER_CONF.match(path):
                        stream = tar.extractfile(member)
                        contents[path] = stream.read() if stream else b""
                    else:
                        contents.pop(path, None)
    return FileFacts(kinds, contents)


def _forget(
    kinds: dict[str, tuple[str, str]],
    contents: dict[str, bytes],
    path: str,
    keep_directory: bool = False,
) -> None:
    prefix = path + "/" if path else ""
    for known in [k for k in kinds if k.startswith(prefix) or (k == path and not keep_directory)]:
        kinds.pop(known, None)
        contents.pop(known, None)


class ChunkReader:
    """A read()-able stream over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


def resolve_path(kinds: dict[str, tuple[str, str]], path: str, depth: int = 0) -> str | None:
    """`path` with its symbolic links followed, inside the image; None if it does not exist."""
    if depth > 40:
        return None
    parts = [part for part in path.strip("/").split("/") if part]
    current = ""
    for index, part in enumerate(parts):
        candidate = posixpath.join(current, part) if current else part
        kind = kinds.get(candidate)
        if kind is None:
            return None
        if kind[0] == "link":
            target = kind[1]
            if target.startswith("/"):
                joined = posixpath.normpath(target.lstrip("/"))
            else:
                joined = posixpath.normpath(posixpath.join(current, target))
            rest = "/".join(parts[index + 1 :])
            return resolve_path(kinds, posixpath.join(joined, rest) if rest else joined, depth + 1)
        current = candidate
    return current


def facts_of(files: FileFacts, path: str) -> BaseFacts:
    kinds, contents = files.kinds, files.contents
    pythons: dict[str, str] = {}
    for directory in path.split(":"):
        directory = directory.strip("/")
        if not directory:
            continue
        real = resolve_path(kinds, directory)
        if real is None:
            continue
        for known in kinds:
            match = _PYTHON.search(known)
            if match and posixpath.dirname(known) == real:
                resolved = resolve_path(kinds, known)
                if resolved is not None and kinds.get(resolved, ("", ""))[0] == "file":
                    pythons.setdefault(match[2], f"/{directory}/python{match[2]}")
    os_release = _key_values(
        contents.get("etc/os-release") or contents.get(_os_release_target(kinds)) or b""
    )
    packages = _dpkg(contents.get("var/lib/dpkg/status", b""))
    packages.update(_apk(contents.get("lib/apk/db/installed", b"")))
    versions = {}
    for minor in pythons:
        version = packages.get(f"python{minor}-minimal") or packages.get(f"python{minor}")
        if version is None and packages.get("python3", "").startswith(minor + "."):
            version = packages["python3"]
        if version:
            versions[minor] = version.split("-")[0].split("+")[0]
    return BaseFacts(
        pythons=pythons,
        python_versions=versions,
        libc=_libc(kinds, contents, packages),
        os_name=os_release.get("PRETTY_NAME", ""),
        os_id=os_release.get("ID", ""),
        os_version=os_release.get("VERSION_ID", ""),
        libraries=tuple(sorted("/" + path for path in kinds if _LIBRARY.search(path))),
        links=tuple(
            sorted(
                ("/" + path, "/" + posixpath.normpath(target.lstrip("/")))
                for path, (kind, target) in kinds.items()
                if kind == "link"
                and "/" not in path
                and resolve_path(kinds, path) is not None
                and kinds.get(resolve_path(kinds, path) or "", ("", ""))[0] == "dir"
            )
        ),
        loader_conf=tuple(
            sorted(
                ("/" + path, data.decode(errors="replace"))
                for path, data in contents.items()
                if _LOADER_CONF.match(path)
            )
        ),
        packages=tuple(
            sorted(
                _installed(
                    contents.get("var/lib/dpkg/status", b""), "Package", "Version", "Architecture"
                )
                + _installed(contents.get("lib/apk/db/installed", b""), "P", "V", "A", ":")
            )
        ),
    )


def _os_release_target(kinds: dict[str, tuple[str, str]]) -> str:
    return resolve_path(kinds, "etc/os-release") or "usr/lib/os-release"


def _libc(
    kinds: dict[str, tuple[str, str]], contents: dict[str, bytes], packages: dict[str, str]
) -> Libc | None:
    if any(_MUSL.search(path) for path in kinds):
        version = packages.get("musl", "1.2")
        numbers = re.match(r"(\d+)\.(\d+)", version)
        return Libc("musl", (int(numbers[1]), int(numbers[2])) if numbers else (1, 2))
    for path, (kind, target) in sorted(kinds.items()):
        if not _LIBC.search(path):
            continue
        if kind == "link":
            match = _GLIBC_FILE.search(target)
            if match:
                return Libc("glibc", (int(match[1]), int(match[2])))
            resolved = resolve_path(kinds, path)
            content = contents.get(resolved or "", b"")
        else:
            content = contents.get(path, b"")
        release = _GLIBC_RELEASE.search(content)
        if release:
            return Libc("glibc", (int(release[1]), int(release[2])))
    numbers = re.match(r"(\d+)\.(\d+)", packages.get("libc6", ""))
    return Libc("glibc", (int(numbers[1]), int(numbers[2]))) if numbers else None


def _key_values(text: bytes) -> dict[str, str]:
    values = {}
    for line in text.decode(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


def _installed(
    database: bytes, name: str, version: str, arch: str, separator: str = ": "
) -> list[tuple[str, str, str]]:
    """(name, version, architecture) of each installed package of a dpkg status file or an apk
    database (their paragraphs, with the given field names)."""
    found = []
    for stanza in database.decode(errors="replace").split("\n\n"):
        fields = dict(
            line.split(separator, 1)
            for line in stanza.splitlines()
            if separator in line and line[0] != " "
        )
        status = fields.get("Status", "install ok installed")
        if name in fields and version in fields and status.endswith(" installed"):
            found.append((fields[name].split(":")[0], fields[version], fields.get(arch, "")))
    return found


def _dpkg(status: bytes) -> dict[str, str]:
    """Package -> version of the installed packages in a dpkg status file."""
    packages: dict[str, str] = {}
    for stanza in status.decode(errors="replace").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " "
        )
        if "installed" in fields.get("Status", "") and "Package" in fields and "Version" in fields:
            packages[fields["Package"].split(":")[0]] = fields["Version"]
    return packages


def _apk(installed: bytes) -> dict[str, str]:
    """Package -> version of an Alpine apk database."""
    packages: dict[str, str] = {}
    name = ""
    for line in installed.decode(errors="replace").splitlines():
        if line.startswith("P:"):
            name = line[2:]
        elif line.startswith("V:") and name:
            packages[name] = line[2:]
    return packages
