"""The shared libraries of the image as the loader's cache sees them: the base's (read from its
root once per base digest) with the system packages' on top, and `/etc/ld.so.conf` with the
packages' `/etc/ld.so.conf.d/` files; from them, the cache file (ldcache.py).

A view maps a directory to the library names in it: a file with its ELF facts, or a link with
its target. Only names ldconfig looks at (`lib*` or `ld-*`, with `.so`) are kept, in any
directory (which directories count is the configuration's business, read afterwards).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import posixpath
import re

from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.image.elf import ElfFacts
from poetry_ci_image.image.elf import elf_facts
from poetry_ci_image.image.elf import file_facts
from poetry_ci_image.image.system.ldcache import SYSTEM_DIRECTORIES
from poetry_ci_image.image.system.ldcache import Library
from poetry_ci_image.image.system.ldcache import cache_libraries
from poetry_ci_image.image.system.ldcache import configured_directories
from poetry_ci_image.image.system.ldcache import ld_so_cache
from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping

    from poetry_ci_image.image.base_root import BaseRoot
    from poetry_ci_image.image.tarball import Entry


# directory -> name -> [link target or None, ElfFacts as JSON or None]
View = dict[str, dict[str, list[Any]]]
VIEW_FORMAT = 1
_CANDIDATE = re.compile(r"^(lib|ld-).*\.so")
_CONF = re.compile(r"^etc/ld\.so\.conf(\.d/.*)?$")


def base_view(root: BaseRoot) -> View:
    """The base's library names, kept beside its root (read once per base digest)."""
    kept = root.path.parent / "libraries.json"
    try:
        data = json.loads(kept.read_text())
        if data.get("format") == VIEW_FORMAT:
            return dict(data["view"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    view: View = {}
    for directory, _, names in os.walk(root.path):
        for name in names:
            if not _CANDIDATE.match(name):
                continue
            host = os.path.join(directory, name)
            image = "/" + os.path.relpath(directory, root.path).replace(os.sep, "/")
            if os.path.islink(host):
                view.setdefault(image, {})[name] = [os.readlink(host), None]
            else:
                facts = file_facts(root.host_path(f"{image}/{name}"))
                view.setdefault(image, {})[name] = [None, facts.as_json() if facts else None]
    with contextlib.suppress(OSError):  # read again next time
        write_atomically(kept, json.dumps({"format": VIEW_FORMAT, "view": view}))
    return view


def package_view(entries: Iterable[Entry]) -> tuple[View, dict[str, str]]:
    """A package's library names, and the texts of its loader configuration files."""
    view: View = {}
    conf: dict[str, str] = {}
    for entry in entries:
        directory, name = posixpath.split("/" + entry.path)
        if entry.kind == "file" and _CONF.match(entry.path):
            with entry.open() as stream:
                conf["/" + entry.path] = stream.read().decode(errors="replace")
        if not _CANDIDATE.match(name):
            continue
        if entry.kind == "symlink":
            view.setdefault(directory, {})[name] = [entry.target, None]
        elif entry.kind in ("file", "hardlink"):
            facts = None
            if entry.kind == "file":
                with entry.open() as stream:
                    facts = elf_facts(io.BytesIO(stream.read()))
            view.setdefault(directory, {})[name] = [None, facts.as_json() if facts else None]
    return view, conf


def cache_file(
    root: BaseRoot,
    base: View,
    packages: Iterable[tuple[View, Mapping[str, str]]],
    machine: str,
) -> bytes:
    """The image's /etc/ld.so.cache: the base's libraries and configuration, the packages' on
    top (`machine`: the platform's e_machine, for the system directories)."""
    view: View = {directory: dict(names) for directory, names in base.items()}
    conf: dict[str, str] = {}
    for package, texts in packages:
        for directory, names in package.items():
            view.setdefault(directory, {}).update(names)
        conf.update(texts)

    def read(path: str) -> str | None:
        if path in conf:
            return conf[path]
        data = root.read(path)
        return data.decode(errors="replace") if data is not None else None

    def listdir(directory: str) -> list[str]:
        names = {posixpath.basename(path) for path in conf if posixpath.dirname(path) == directory}
        real = root.resolve(directory)
        if real is not None and root.host_path(real).is_dir():
            names |= {entry.name for entry in root.host_path(real).iterdir()}
        return sorted(names)

    def real(directory: str) -> str:
        return "/" + (root.resolve(directory) or directory.lstrip("/"))

    def facts(directory: str, name: str, depth: int = 0) -> ElfFacts | None:
        found = view.get(real(directory), {}).get(name) or view.get(directory, {}).get(name)
        if found is None or depth > 8:
            return None
        target, data = found
        if target is None:
            return ElfFacts.from_json(data) if data else None
        path = posixpath.normpath(posixpath.join(directory, target))
        return facts(posixpath.dirname(path), posixpath.basename(path), depth + 1)

    def files(directory: str) -> list[tuple[str, str | None]]:
        names = set(view.get(real(directory), {})) | set(view.get(directory, {}))
        listed = []
        for name in sorted(names):
            found = facts(directory, name)
            listed.append((name, (found.soname or name) if found and found.shared else None))
        return listed

    directories = configured_directories(read, listdir) + list(SYSTEM_DIRECTORIES.get(machine, ()))
    libraries = []
    for directory, name in cache_libraries(directories, files, real):
        found = facts(directory, name)
        assert found is not None
        libraries.append(Library(directory, name, found.soname or name, found.machine, found.wide))
    return ld_so_cache(libraries)
