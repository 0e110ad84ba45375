"""The base image's own programs (its CPython, its `gpgv`), on the host: run through its own
loader.

A pyc must come from the interpreter that will load it (3.11.2 and 3.11.7 compile some files
differently), so the image's bytecode is compiled by the base's CPython itself; the system
packages' release files are checked by the base's own `gpgv` against its own keyrings. Nothing
is run in a container: the programs and their shared libraries are taken out of the base's
layers (base_root.py) into Poetry's cache, once per base digest, and run as
`<root>/<loader> --library-path <root's library dirs> <root>/<program>`, the loader named by the
interpreter's own ELF header (glibc's or musl's). A program of another architecture runs under
QEMU user emulation when `qemu-<arch>-static` (or the kernel's binfmt_misc) is there; otherwise
`probe` says so, and the build stops before anything is pushed.
"""

from __future__ import annotations

import json
import platform
import posixpath
import re
import shutil
import struct
import subprocess
import sys

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:
    from pathlib import Path

    from poetry_ci_image.image.base_root import BaseRoot


_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
# ELF e_machine -> the architecture's name, as QEMU names its user emulators
_MACHINES = {
    3: "i386",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    50: "ia64",
    62: "x86_64",
    183: "aarch64",
    243: "riscv64",
}
_PROBE = (
    "import importlib.util, json, sys; print(json.dumps({'version': list(sys.version_info[:3]),"
    " 'magic': importlib.util.MAGIC_NUMBER.hex(), 'cache_tag': sys.implementation.cache_tag}))"
)


class RuntimeUnavailable(Exception):
    """The base's program cannot run on this host; `str()` says why."""


@dataclass(frozen=True)
class Runtime:
    """A base's interpreter on the host: where its files are, how to start it (and the base's
    other programs) on this host."""

    root: Path
    python: str  # its path in the image: /usr/bin/python3.11
    home: str  # its prefix in the image: /usr, /usr/local
    loader: str  # the ELF interpreter in the image: /lib64/ld-linux-x86-64.so.2
    machine: str  # "x86_64", "aarch64"
    library_dirs: tuple[str, ...]  # in the image, where shared libraries are
    stdlib_pycs: frozenset[str]  # the pycs the base ships for its standard library (image paths)

    @property
    def stdlib(self) -> str:
        """The standard library's directory in the image: /usr/lib/python3.11."""
        minor = re.search(r"python(\d+\.\d+)$", self.python)
        return f"{self.home}/lib/python{minor[1] if minor else ''}"

    def host_path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def command(self, *args: str) -> list[str]:
        """The command line that runs the interpreter with `args` on this host."""
        return _command(
            self.root,
            self.loader,
            self.library_dirs,
            self.machine,
            self.python,
            ("-S", "-s", "-B", *args),
        )

    def environment(self) -> dict[str, str]:
        """No variable of the host's: the prefix, a fixed hash seed, no bytecode written."""
        return {
            "PYTHONHOME": str(self.host_path(self.home)),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONUTF8": "1",
            "PATH": "/usr/bin:/bin",
        }

    def probe(self) -> dict[str, Any]:
        """What the interpreter says of itself (version, magic, cache tag); RuntimeUnavailable
        when it cannot run here."""
        if sys.platform != "linux":
            raise RuntimeUnavailable(f"this host runs {sys.platform}, not Linux")
        try:
            done = subprocess.run(
                self.command("-c", _PROBE),
                env=self.environment(),
                capture_output=True,
                timeout=120,
                check=False,
            )
        except OSError as error:
            raise RuntimeUnavailable(self._cannot_start(error.strerror or str(error))) from None
        except subprocess.TimeoutExpired:
            raise RuntimeUnavailable("it did not answer within 120 s") from None
        if done.returncode != 0:
            words = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeUnavailable(
                self._cannot_start(" ".join(words) or f"exit {done.returncode}")
            )
        try:
            answer: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeUnavailable("it did not say what it is") from None
        return answer

    def _cannot_start(self, why: str) -> str:
        if self.machine != host_machine():
            return (
                f"it is built for {self.machine} and this host is {host_machine()}, with no "
                f"qemu-{self.machine}-static to run it ({why})"
            )
        return why


@dataclass(frozen=True)
class BaseProgram:
    """A program of the base (not its Python: its `gpgv`), as it runs on the host."""

    root: Path
    path: str  # in the image: /usr/bin/gpgv
    loader: str
    machine: str
    library_dirs: tuple[str, ...]

    def command(self, *args: str) -> list[str]:
        return _command(self.root, self.loader, self.library_dirs, self.machine, self.path, args)


def program_of(root: BaseRoot, path: str) -> BaseProgram:
    """The program at `path` (in the image) of the base root `root`; RuntimeUnavailable when the
    base has none there."""
    real = root.resolve(path)
    if real is None or not root.host_path(real).is_file():
        raise RuntimeUnavailable(f"{path} is not among the base's files")
    machine, loader = elf_interpreter(root.host_path(real))
    return BaseProgram(root.path, "/" + real, loader, machine, _library_dirs(root))


def _library_dirs(root: BaseRoot) -> tuple[str, ...]:
    """Every directory of the root that holds a shared library (the loader's --library-path)."""
    return tuple(
        sorted(
            {"/" + posixpath.dirname(path) for path in root.files() if _SHARED_LIBRARY.search(path)}
        )
    )


def _command(
    root: Path,
    loader: str,
    library_dirs: tuple[str, ...],
    machine: str,
    path: str,
    args: tuple[str, ...],
) -> list[str]:
    """`path` run through the base's own loader, with the base's libraries (under QEMU for
    another architecture, when the host has it)."""
    libraries = ":".join(str(root / d.lstrip("/")) for d in library_dirs)
    command = [
        str(root / loader.lstrip("/")),
        "--library-path",
        libraries,
        str(root / path.lstrip("/")),
        *args,
    ]
    if machine != host_machine():
        emulator = shutil.which(f"qemu-{machine}-static") or shutil.which(f"qemu-{machine}")
        if emulator:
            command = [emulator, "-L", str(root), *command]
    return command


def host_machine() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def runtime_of(root: BaseRoot, python: str) -> Runtime:
    """The interpreter at `python` (a path in the image) in the base root `root`."""
    real = root.resolve(python)
    if real is None or not root.host_path(real).is_file():
        raise RuntimeUnavailable(f"{python} is not among the base's files")
    machine, loader = elf_interpreter(root.host_path(real))
    home = posixpath.dirname(posixpath.dirname("/" + real))
    return Runtime(
        root=root.path,
        python="/" + real,
        home=home,
        loader=loader,
        machine=machine,
        library_dirs=_library_dirs(root),
        stdlib_pycs=root.pycs,
    )


def elf_interpreter(path: Path) -> tuple[str, str]:
    """(machine, ELF interpreter) of the executable at `path`."""
    with path.open("rb") as stream:
        head = stream.read(64)
        if head[:4] != b"\x7fELF":
            raise RuntimeUnavailable(f"{path.name} is not an ELF executable")
        wide = head[4] == 2
        order = "<" if head[5] == 1 else ">"
        (machine,) = struct.unpack_from(order + "H", head, 18)
        if wide:
            (phoff,) = struct.unpack_from(order + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
        else:
            (phoff,) = struct.unpack_from(order + "I", head, 28)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
        for index in range(phnum):
            stream.seek(phoff + index * phentsize)
            entry = stream.read(phentsize)
            (kind,) = struct.unpack_from(order + "I", entry, 0)
            if kind != 3:  # PT_INTERP
                continue
            if wide:
                (offset,) = struct.unpack_from(order + "Q", entry, 8)
                (size,) = struct.unpack_from(order + "Q", entry, 32)
            else:
                (offset,) = struct.unpack_from(order + "I", entry, 4)
                (size,) = struct.unpack_from(order + "I", entry, 16)
            stream.seek(offset)
            loader = stream.read(size).rstrip(b"\0").decode()
            return _MACHINES.get(machine, f"machine {machine}"), loader
    raise RuntimeUnavailable(f"{path.name} names no ELF interpreter (a static build?)")
