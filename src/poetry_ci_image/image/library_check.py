"""Every compiled file of the Python layers finds the shared libraries it needs in the image, as
the dynamic linker would look for them, checked before anything is pushed: a missing
`libpq.so.5` is one clear message in the deps job, not an ImportError in every test job.

For each `DT_NEEDED` of each ELF file the packages install: its RUNPATH (else its RPATH), with
`$ORIGIN` the file's own directory (where auditwheel puts a wheel's bundled libraries, in
`<package>.libs/`), then the directories the loader searches (its system directories and those
`/etc/ld.so.conf` names); in each, a file or link of that name among the base's libraries, the
system packages' and the Python layers' own files. What the loader's cache would add beyond that
it adds from the same directories.
"""

from __future__ import annotations

import posixpath

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import CiImageError
from poetry_ci_image.errors import LibraryError


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Mapping
    from collections.abc import Sequence

    from poetry_ci_image.image.base_files import BaseFacts
    from poetry_ci_image.image.elf import ElfFacts
    from poetry_ci_image.image.layer_writer import PlatformLayers
    from poetry_ci_image.image.system.packages import SystemPackages
    from poetry_ci_image.settings.target import Target


# The loader's own search, by libc and machine (Debian's multiarch glibc; musl's default path).
SYSTEM_DIRECTORIES = {
    ("glibc", "x86_64"): (
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ),
    ("glibc", "aarch64"): (
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ),
    ("musl", "x86_64"): ("/lib", "/usr/local/lib", "/usr/lib"),
    ("musl", "aarch64"): ("/lib", "/usr/local/lib", "/usr/lib"),
}


@dataclass(frozen=True)
class Missing:
    """A library a compiled file needs and the image lacks."""

    package: str
    file: str  # the file's path in the image
    library: str  # its DT_NEEDED name


def missing_libraries(
    compiled: Iterable[tuple[str, str, ElfFacts]],
    present: Iterable[str],
    directories: Sequence[str],
    aliases: Mapping[str, str],
) -> list[Missing]:
    """What `compiled` ((package, path in the image, facts) of each ELF file) needs and no
    searched directory has. `present`: every path of a library name in the image (the base's,
    the system packages', the Python layers' files); `directories`: the loader's search after a
    file's own paths; `aliases`: the base's directory links (`/lib` -> `/usr/lib`)."""
    found = {_real(path, aliases) for path in present}
    search = [_real(directory, aliases) for directory in directories]
    missing = []
    for package, path, facts in compiled:
        own = facts.runpath or facts.rpath
        origin = posixpath.dirname(path)
        places = [_real(_expanded(entry, origin), aliases) for entry in own] + search
        for library in facts.needed:
            if "/" in library:
                ok = _real(_expanded(library, origin), aliases) in found
            else:
                ok = any(posixpath.join(place, library) in found for place in places)
            if not ok:
                missing.append(Missing(package, path, library))
    return missing


def loader_directories(libc: str, machine: str, conf: Iterable[tuple[str, str]]) -> list[str]:
    """The loader's search: the directories `/etc/ld.so.conf` and its included files name
    (`conf`: every (path, text) of them; includes are taken as all of `ld.so.conf.d`), then its
    system directories."""
    named: list[str] = []
    for _, text in sorted(conf, key=lambda item: (item[0] != "/etc/ld.so.conf", item[0])):
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if line.startswith("/") and line not in named:
                named.append(posixpath.normpath(line.split()[0]))
    return named + [d for d in SYSTEM_DIRECTORIES.get((libc, machine), ()) if d not in named]


def _expanded(path: str, origin: str) -> str:
    expanded = path.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
    return posixpath.normpath(expanded if expanded.startswith("/") else f"{origin}/{expanded}")


def _real(path: str, aliases: Mapping[str, str]) -> str:
    """`path` with a leading directory link taken (`/lib/x` -> `/usr/lib/x`)."""
    for link, target in aliases.items():
        if path == link or path.startswith(link + "/"):
            return target + path[len(link) :]
    return path


def check_libraries(
    written: PlatformLayers,
    facts: BaseFacts,
    target: Target,
    packages: Callable[[], SystemPackages],
) -> None:
    """Refuse, before anything is pushed, an image whose compiled files need a library it
    lacks (library_check.py), naming the package of the base's archive that has it."""
    compiled = [
        (files.name, "/" + path, elf)
        for files in written.installed
        for path, elf in sorted(files.elf.items())
    ]
    if not compiled:
        return
    present = [
        *facts.libraries,
        *written.system.libraries,
        *("/" + entry.path for files in written.installed for entry in files.entries),
    ]
    directories = loader_directories(
        target.libc.family, target.machine, [*facts.loader_conf, *written.system.loader_conf]
    )
    missing = missing_libraries(compiled, present, directories, dict(facts.links))
    if not missing:
        return
    libraries = sorted({item.library for item in missing})
    providers: dict[str, str] = {}
    if facts.os_id in ("debian", "ubuntu"):
        try:
            providers = packages().providers(target.platform, libraries)
        except CiImageError:
            providers = {}  # the archive cannot say: the message says what is missing anyway
    lines = []
    for library in libraries:
        users = sorted(
            {
                f"{item.package} ({item.file.rsplit('/', 1)[-1]})"
                for item in missing
                if item.library == library
            }
        )
        way = f": add {providers[library]} to system-packages" if library in providers else ""
        lines.append(f"  {library}, needed by {', '.join(users)}{way}")
    raise LibraryError(
        f"Compiled files of the image need shared libraries the image does not have "
        f"({target.describe()}):\n" + "\n".join(lines),
        "Add the packages that provide them to system-packages in [tool.poetry-ci-image] "
        "(their run-time packages, not the -dev ones), or use a base that has them. Nothing "
        "was pushed."
        if providers or facts.os_id in ("debian", "ubuntu")
        else "Use a base that has them, or your own Dockerfile that installs them. Nothing was "
        "pushed.",
    )
