"""A base's CPython taken out of its layers: what running the interpreter needs, and nothing else.

The layers are applied as a container runtime applies them (whiteouts included): every link is
written (rewritten relative, so it stays inside the extraction), and the files the interpreter
needs: itself, every shared library, and its standard library (whose existing pycs are noted, not
written). Staged beside the destination and moved into place in one rename, since another
process may be extracting the same base.
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

from pathlib import Path
from typing import TYPE_CHECKING

from poetry_ci_image.image.base_files import ChunkReader
from poetry_ci_image.image.bytecode.runtime import RUNTIME_FORMAT
from poetry_ci_image.image.bytecode.runtime import RuntimeUnavailable
from poetry_ci_image.image.bytecode.runtime import elf_interpreter
from poetry_ci_image.image.bytecode.runtime import load_runtime


if TYPE_CHECKING:
    from collections.abc import Iterable

    from poetry_ci_image.image.bytecode.runtime import Runtime


_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
_LIBRARY_ROOTS = ("lib/", "lib64/", "usr/lib/", "usr/lib64/", "usr/local/lib/")


def extract_runtime(layers: Iterable[Iterable[bytes]], python: str, directory: Path) -> Runtime:
    """Extract the interpreter at `python` (a path in the image), its shared libraries and its
    standard library from `layers` (bottom first) into `directory`, staged and moved into place
    in one rename (another process may be extracting the same base)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        root = staging / "root"
        root.mkdir()
        extractor = _Extractor(root)
        for chunks in layers:
            extractor.apply(chunks)
        extractor.describe(python, staging)
        with contextlib.suppress(OSError):  # another process moved its own copy in first
            os.rename(staging, directory)
        found = load_runtime(directory)
        if found is None:
            raise RuntimeUnavailable(f"its files could not be kept in {directory}")
        return found
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _Extractor:
    """Applies layers as a container runtime would, writing only what running the interpreter
    needs: every link (rewritten to stay inside the root), shared libraries, the standard
    library (pycs noted, not written), and the interpreter (found afterwards by its path)."""

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

    def describe(self, python: str, directory: Path) -> None:
        """Write `runtime.json` into `directory`: where the interpreter is, how to run it."""
        real = self._resolve(python.lstrip("/"))
        if real is None or not (self.root / real).is_file():
            raise RuntimeUnavailable(f"{python} is not among the base's files")
        machine, loader = elf_interpreter(self.root / real)
        home = posixpath.dirname(posixpath.dirname("/" + real))
        libraries = sorted(
            {
                "/" + posixpath.dirname(path)
                for path in _files(self.root)
                if _SHARED_LIBRARY.search(path)
            }
        )
        data = {
            "format": RUNTIME_FORMAT,
            "python": "/" + real,
            "home": home,
            "loader": loader,
            "machine": machine,
            "library_dirs": libraries,
            "stdlib_pycs": sorted(self.pycs),
        }
        (directory / "runtime.json").write_text(json.dumps(data, indent=1))

    # Paths inside the root ------------------------------------------------------------------

    def _place(self, path: str) -> Path:
        """Where `path` goes, its parent directory resolved through links inside the root."""
        parent = self._resolve(posixpath.dirname(path)) if posixpath.dirname(path) else ""
        if parent is None:
            parent = posixpath.dirname(path)
        (self.root / parent).mkdir(parents=True, exist_ok=True)
        return self.root / parent / posixpath.basename(path)

    def _resolve(self, path: str, depth: int = 0) -> str | None:
        """`path` with the links written so far followed, inside the root."""
        if depth > 40:
            return None
        current = ""
        parts = [part for part in path.split("/") if part]
        for index, part in enumerate(parts):
            candidate = posixpath.join(current, part) if current else part
            host = self.root / candidate
            if host.is_symlink():
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(candidate), os.readlink(host))
                )
                rest = "/".join(parts[index + 1 :])
                return self._resolve(posixpath.join(target, rest) if rest else target, depth + 1)
            current = candidate
        return current

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
        source = self._resolve(_normal(target) or "")
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
    """Files running the interpreter may need: shared libraries, Python's own files (the
    interpreter, the standard library, lib-dynload), not the packages installed beside them."""
    if "/site-packages/" in path or "/dist-packages/" in path:
        return False
    if re.search(r"(^|/)lib/python\d+\.\d+/", path):
        return True
    if re.search(r"(^|/)bin/python\d+\.\d+$", path):
        return True
    if re.match(r"etc/python\d+\.\d+/", path):  # Debian's sitecustomize.py, linked from it
        return True
    return path.startswith(_LIBRARY_ROOTS) and bool(_SHARED_LIBRARY.search(path))


def _files(root: Path) -> Iterable[str]:
    for directory, _, names in os.walk(root):
        for name in names:
            yield os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/")
