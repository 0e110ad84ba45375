"""The dynamic linker's cache, `/etc/ld.so.cache`, as `ldconfig` writes it after the system
packages are unpacked (dpkg's ldconfig trigger), made here from the libraries' ELF headers.

The loader finds a library in its default directories without the cache; but a library in a
directory only `/etc/ld.so.conf.d/` names needs it, and so does everything that asks the cache
(`ldconfig -p`), such as Python's `ctypes.util.find_library`, with which psycopg finds libpq.

ldconfig's rules, followed here: the directories of `/etc/ld.so.conf` (its `include` globs
expanded, in order) and then the system ones, each once; in each, the files named `lib*` or
`ld-*` with `.so` in the name that are ELF shared objects, under their soname (a link named for
it must be there); one entry per soname and directory. The file is glibc's new format (2.32 and
later write only it): a header, the entries sorted as the loader's binary search expects (by
`_dl_cache_libcmp`, the greater first), then the strings.
"""

from __future__ import annotations

import fnmatch
import posixpath
import struct

from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable


MAGIC = b"glibc-ld.so.cache1.1"
ENDIAN_LITTLE = 2  # cache_file_new_flags_endian_little
FLAG_ELF_LIBC6 = 0x0003
# The required-ABI flags of 64-bit libraries, by e_machine (ldconfig's FLAG_*_LIB64).
MACHINE_FLAGS = {"EM_X86_64": 0x0300, "EM_AARCH64": 0x0A00}
# What ldconfig adds after the configuration's directories (Debian's multiarch SLIBDIR, LIBDIR).
SYSTEM_DIRECTORIES = {
    "EM_X86_64": ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"),
    "EM_AARCH64": ("/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"),
}


@dataclass(frozen=True)
class Library:
    """A shared object of the image, as the cache needs it."""

    directory: str  # /usr/lib/x86_64-linux-gnu (as the configuration names it)
    name: str  # the file's (or the link's) name in that directory
    soname: str
    machine: str
    wide: bool


def configured_directories(
    read: Callable[[str], str | None], listdir: Callable[[str], list[str]]
) -> list[str]:
    """The directories `/etc/ld.so.conf` names, `include` globs expanded (sorted, as glob
    does), in order, each once. `read` gives a file's text, `listdir` a directory's names."""
    found: list[str] = []
    seen: set[str] = set()

    def parse(path: str, depth: int) -> None:
        if depth > 8 or path in seen:
            return
        seen.add(path)
        text = read(path)
        if text is None:
            return
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("include"):
                for pattern in line.split()[1:]:
                    pattern = posixpath.join(posixpath.dirname(path), pattern)
                    directory, glob = posixpath.split(pattern)
                    for name in sorted(listdir(directory)):
                        if fnmatch.fnmatch(name, glob):
                            parse(posixpath.join(directory, name), depth + 1)
            elif line.startswith("/"):
                directory = posixpath.normpath(line.split()[0].split("=")[0])
                if directory not in found:
                    found.append(directory)

    parse("/etc/ld.so.conf", 0)
    return found


def cache_libraries(
    directories: Iterable[str],
    files: Callable[[str], Iterable[tuple[str, str | None]]],
    real: Callable[[str], str],
) -> list[tuple[str, str]]:
    """(directory, name) of each candidate file, directories each once by where they really
    are (`real`): `files(directory)` gives (name, soname or None for a file that is not a
    shared object) for the names in it."""
    seen: set[str] = set()
    chosen = []
    for directory in directories:
        where = real(directory)
        if where in seen:
            continue
        seen.add(where)
        for name, soname in files(directory):
            if soname is not None and name.startswith(("lib", "ld-")) and ".so" in name:
                chosen.append((directory, name))
    return chosen


def ld_so_cache(libraries: Iterable[Library]) -> bytes:
    """The cache file for `libraries` (in scan order: the first of equal keys wins)."""
    entries: list[tuple[str, str, int]] = []  # (key, path, flags)
    seen: set[tuple[str, str]] = set()
    for library in libraries:
        key = library.soname or library.name
        if (library.directory, key) in seen:
            continue
        seen.add((library.directory, key))
        flags = FLAG_ELF_LIBC6 | (MACHINE_FLAGS.get(library.machine, 0) if library.wide else 0)
        entries.append((key, f"{library.directory.rstrip('/')}/{key}", flags))
    ordered = _sorted(entries)
    header_size, entry_size = 48, 24
    offset = header_size + entry_size * len(ordered)
    table, strings = [], b""
    for key, path, flags in ordered:
        key_at = offset + len(strings)
        strings += key.encode() + b"\0"
        value_at = offset + len(strings)
        strings += path.encode() + b"\0"
        table.append(struct.pack("<iIIIQ", flags, key_at, value_at, 0, 0))
    header = MAGIC + struct.pack("<IIB3xI12x", len(ordered), len(strings), ENDIAN_LITTLE, 0)
    return header + b"".join(table) + strings


def _sorted(entries: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """ldconfig's order: by key, the greater first (`_dl_cache_libcmp`), then the greater
    flags; equal ones keep the scan order."""
    import functools

    def compare(a: tuple[str, str, int], b: tuple[str, str, int]) -> int:
        order = libcmp(b[0], a[0])
        if order:
            return order
        return b[2] - a[2]

    return sorted(entries, key=functools.cmp_to_key(compare))


def libcmp(left: str, right: str) -> int:
    """glibc's `_dl_cache_libcmp`: digit runs compare as numbers, the rest byte by byte."""
    i = j = 0
    while i < len(left):
        a, b = left[i], right[j] if j < len(right) else ""
        if a.isdigit():
            if not b.isdigit():
                return 1
            start = i
            while i < len(left) and left[i].isdigit():
                i += 1
            other = j
            while j < len(right) and right[j].isdigit():
                j += 1
            difference = int(left[start:i]) - int(right[other:j])
            if difference:
                return difference
        elif b.isdigit():
            return -1
        elif a != b:
            return ord(a) - (ord(b) if b else 0)
        else:
            i += 1
            j += 1
    return 0 - (ord(right[j]) if j < len(right) else 0)
