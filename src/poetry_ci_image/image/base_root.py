"""The base's root on the host: the few of its files the plugin runs or reads, taken out of its
layers once per base digest and kept in the build cache (`roots/<digest>/`).

What is taken: every link (rewritten relative, so it stays inside the root), every shared
library, the Python interpreters with their standard libraries (whose pycs are noted, not
written), and what the system packages need of the base: apt's sources and keyrings, dpkg's
database of what is installed, the loader's configuration and `gpgv`. Nothing else (the
packages installed beside Python, documentation, ...). The layers are applied as a container
runtime applies them (whiteouts included), staged beside the destination and moved into place
in one rename, since another process may be extracting the same base.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import threading

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from poetry_ci_image.image.base_files import ChunkReader


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable

    from poetry_ci_image.plumbing.progress import Reporter


ROOT_FORMAT = 2  # 1 was the interpreter's files only (interpreters/<digest>)
_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
_LIBRARY_ROOTS = ("lib/", "lib64/", "usr/lib/", "usr/lib64/", "usr/local/lib/")
# What the system packages read or run of the base (paths in the image, no leading slash).
_PACKAGING = re.compile(
    r"^(etc/apt/(sources\.list|sources\.list\.d/.*|trusted\.gpg|trusted\.gpg\.d/.*|keyrings/.*)"
    r"|usr/share/keyrings/.*"
    r"|var/lib/dpkg/(status|diversions|statoverride|alternatives/.*)"
    r"|var/lib/apt/extended_states"
    r"|etc/ld\.so\.conf|etc/ld\.so\.conf\.d/.*"
    r"|etc/os-release|usr/lib/os-release"
    r"|usr/bin/gpgv)$"
)


class RootUnavailable(Exception):
    """The base's root cannot be taken out or kept here; `str()` says why."""


@dataclass(frozen=True)
class BaseRoot:
    """A base's files on the host (see the module's docstring)."""

    path: Path  # the root directory
    pycs: frozenset[str]  # the pycs the base ships for its standard libraries (image paths)

    def host_path(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def resolve(self, path: str) -> str | None:
        """`path` (in the image) with its links followed inside the root; None if it leaves
        the root or loops."""
        return _resolve(self.path, path.lstrip("/"))

    def read(self, path: str) -> bytes | None:
        """The bytes of the file at `path` in the image (links followed), or None."""
        real = self.resolve(path)
        if real is None:
            return None
        try:
            return (self.path / real).read_bytes()
        except OSError:
            return None

    def files(self) -> Iterable[str]:
        """Every regular file of the root (image paths, no leading slash)."""
        for directory, _, names in os.walk(self.path):
            for name in names:
                host = os.path.join(directory, name)
                if not os.path.islink(host):
                    yield os.path.relpath(host, self.path).replace(os.sep, "/")


@dataclass(frozen=True)
class BaseSource:
    """Where a platform's base comes from: for messages, where its root is kept, its layers."""

    platform: str
    base: str  # the base image, for messages
    digest: str  # the base's manifest for the platform: where its root is kept
    layers: Callable[[], Iterable[Iterable[bytes]]]  # the base's layers, bottom first


class BaseRoots:
    """Each platform's base root, taken out when first needed, once per base digest."""

    def __init__(self, sources: dict[str, BaseSource], directory: Path, reporter: Reporter) -> None:
        self.sources = sources
        self.directory = directory
        self._reporter = reporter
        self._lock = threading.Lock()
        self._roots: dict[str, BaseRoot] = {}

    def root(self, platform: str) -> BaseRoot:
        """`platform`'s base root (RootUnavailable when it cannot be kept here)."""
        with self._lock:
            if platform not in self._roots:
                source = self.sources[platform]
                directory = self.directory / source.digest.replace(":", "-")
                found = load_base_root(directory)
                if found is not None:
                    with contextlib.suppress(OSError):  # in use: the cache keeps it
                        os.utime(directory)
                else:
                    self._reporter.status(
                        f"Reading the files of {source.base} for {platform} that run on this "
                        "host (its Python, its libraries, apt's and dpkg's files; once per base "
                        "digest)"
                    )
                    found = extract_base_root(source.layers(), directory)
                self._roots[platform] = found
            return self._roots[platform]


def load_base_root(directory: Path) -> BaseRoot | None:
    """The root taken out into `directory` before, or None."""
    try:
        data = json.loads((directory / "root.json").read_text())
        if data.get("format") != ROOT_FORMAT or not (directory / "root").is_dir():
            return None
        return BaseRoot(directory / "root", frozenset(data["pycs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def extract_base_root(layers: Iterable[Iterable[bytes]], directory: Path) -> BaseRoot:
    """Take the base's root out of `layers` (bottom first) into `directory`."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    except OSError as error:
        raise RootUnavailable(f"{directory.parent} cannot be written: {error}") from None
    try:
        root = staging / "root"
        root.mkdir()
        extractor = _Extractor(root)
        for chunks in layers:
            extractor.apply(chunks)
        data = {"format": ROOT_FORMAT, "pycs": sorted(extractor.pycs)}
        (staging / "root.json").write_text(json.dumps(data, indent=1))
        with contextlib.suppress(OSError):  # another process moved its own copy in first
            os.rename(staging, directory)
        found = load_base_root(directory)
        if found is None:
            raise RootUnavailable(f"its files could not be kept in {directory}")
        return found
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _Extractor:
    """Applies layers as a container runtime would, writing only what is wanted (`_wanted`):
    every link (rewritten to stay inside the root), and the files; pycs are noted, not written."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pycs: set[str] = set()

    def apply(self, chunks: Iterable[bytes]) -> None:
        with tarfile.open(fileobj=ChunkReader(iter(chunks)), mode="r|*") as tar:  # type: ignore[call-overload]
            for member in tar:
                path = _normal(member.name)
                if path is None:
                    continue
                directory, name = posixpath.split(path)
                if name == ".wh..wh..opq":
                    self._remove_children(directory)
                elif name.startswith(".wh."):
                    self._remove(posixpath.join(directory, name[4:]))
                    self.pycs = {p for p in self.pycs if not _under(p, directory, name[4:])}
                elif member.isdir():
                    self._place(path).mkdir(parents=True, exist_ok=True)
                elif member.issym():
                    self._link(path, member.linkname)
                elif member.islnk():
                    self._hard_link(path, member.linkname)
                elif member.isfile() and _wanted(path):
                    if "/__pycache__/" in path and path.endswith(".pyc"):
                        self.pycs.add("/" + path)
                        continue
                    target = self._place(path)
                    self._remove(path)
                    stream = tar.extractfile(member)
                    with target.open("wb") as out:
                        if stream is not None:
                            shutil.copyfileobj(stream, out, 1 << 20)
                    target.chmod(0o755 if member.mode & 0o111 else 0o644)

    def _place(self, path: str) -> Path:
        """Where `path` goes, its parent directory resolved through links inside the root."""
        parent = _resolve(self.root, posixpath.dirname(path)) if posixpath.dirname(path) else ""
        if parent is None:
            parent = posixpath.dirname(path)
        (self.root / parent).mkdir(parents=True, exist_ok=True)
        return self.root / parent / posixpath.basename(path)

    def _link(self, path: str, target: str) -> None:
        place = self._place(path)
        self._remove(path)
        absolute = posixpath.normpath(
            target
            if target.startswith("/")
            else posixpath.join("/", posixpath.dirname(path), target)
        )
        relative = posixpath.relpath(absolute, "/" + posixpath.dirname(path))
        os.symlink(relative, place)

    def _hard_link(self, path: str, target: str) -> None:
        source = _resolve(self.root, _normal(target) or "")
        if source and (self.root / source).is_file() and _wanted(path):
            place = self._place(path)
            self._remove(path)
            shutil.copy2(self.root / source, place)

    def _remove(self, path: str) -> None:
        place = self.root / path
        if place.is_symlink() or place.is_file():
            place.unlink()
        elif place.is_dir():
            shutil.rmtree(place)

    def _remove_children(self, directory: str) -> None:
        place = self.root / directory
        if place.is_dir() and not place.is_symlink():
            for child in place.iterdir():
                self._remove(f"{directory}/{child.name}" if directory else child.name)
        self.pycs = {p for p in self.pycs if not p.startswith(f"/{directory}/")}


def _resolve(root: Path, path: str, depth: int = 0) -> str | None:
    """`path` with the links under `root` followed, inside the root."""
    if depth > 40:
        return None
    current = ""
    parts = [part for part in path.split("/") if part]
    for index, part in enumerate(parts):
        candidate = posixpath.join(current, part) if current else part
        host = root / candidate
        if host.is_symlink():
            target = posixpath.normpath(
                posixpath.join(posixpath.dirname(candidate), os.readlink(host))
            )
            if target.startswith("../") or target == "..":
                return None
            rest = "/".join(parts[index + 1 :])
            return _resolve(root, posixpath.join(target, rest) if rest else target, depth + 1)
        current = candidate
    return current


def _normal(name: str) -> str | None:
    """A member's path, relative and normalised; None if it would leave the root."""
    path = posixpath.normpath(name.lstrip("/")).removeprefix("./")
    if path in (".", "") or path.startswith("../") or path == "..":
        return None
    return path


def _under(path: str, directory: str, name: str) -> bool:
    removed = "/" + posixpath.join(directory, name)
    return path == removed or path.startswith(removed + "/")


def _wanted(path: str) -> bool:
    """Files the plugin runs or reads: shared libraries, Python's own files (the interpreter,
    the standard library, lib-dynload; not the packages installed beside them), and what the
    system packages need (`_PACKAGING`)."""
    if _PACKAGING.match(path):
        return True
    if "/site-packages/" in path or "/dist-packages/" in path:
        return False
    if re.search(r"(^|/)lib/python\d+\.\d+/", path):
        return True
    if re.search(r"(^|/)bin/python\d+\.\d+$", path):
        return True
    if re.match(r"etc/python\d+\.\d+/", path):  # Debian's sitecustomize.py, linked from it
        return True
    return path.startswith(_LIBRARY_ROOTS) and bool(_SHARED_LIBRARY.search(path))
