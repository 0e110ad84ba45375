"""What a shared library or program says of itself in its ELF headers: its machine and class,
its soname, the libraries it needs and where it says to look for them (RPATH, RUNPATH).

Read with pyelftools (public domain) from the dynamic segment, as the dynamic linker reads it.
The loader's cache (system/ldcache.py) and the check that every compiled file of the image finds
its libraries are made from these facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import BinaryIO


if TYPE_CHECKING:
    from pathlib import Path


ELF_MAGIC = b"\x7fELF"
_STRINGS = ("DT_SONAME", "DT_NEEDED", "DT_RPATH", "DT_RUNPATH")


@dataclass(frozen=True)
class ElfFacts:
    machine: str  # pyelftools' e_machine name: "EM_X86_64", "EM_AARCH64"
    wide: bool  # ELFCLASS64
    shared: bool  # ET_DYN (a shared library, or a position-independent program)
    soname: str
    needed: tuple[str, ...]
    rpath: tuple[str, ...]  # DT_RPATH's directories (searched before LD_LIBRARY_PATH)
    runpath: tuple[str, ...]  # DT_RUNPATH's (searched after it); either may use $ORIGIN

    def as_json(self) -> list[object]:
        return [
            self.machine,
            self.wide,
            self.shared,
            self.soname,
            list(self.needed),
            list(self.rpath),
            list(self.runpath),
        ]

    @classmethod
    def from_json(cls, data: list[object]) -> ElfFacts:
        machine, wide, shared, soname, needed, rpath, runpath = data
        return cls(
            str(machine),
            bool(wide),
            bool(shared),
            str(soname),
            tuple(str(x) for x in needed),  # type: ignore[attr-defined]
            tuple(str(x) for x in rpath),  # type: ignore[attr-defined]
            tuple(str(x) for x in runpath),  # type: ignore[attr-defined]
        )


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def elf_facts(stream: BinaryIO) -> ElfFacts | None:
    """The facts of the ELF file open in `stream` (seekable), or None if it is not one the
    dynamic linker would load (no ELF header, or damaged)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile

    stream.seek(0)
    if not is_elf(stream.read(4)):
        return None
    stream.seek(0)
    try:
        elf = ELFFile(stream)
        soname, needed, rpath, runpath = "", [], [], []
        for segment in elf.iter_segments():
            if not isinstance(segment, DynamicSegment):
                continue
            for tag in segment.iter_tags():
                kind = tag.entry.d_tag
                # pyelftools names the string of each of these tags after the tag
                text = str(getattr(tag, kind[3:].lower(), "")) if kind in _STRINGS else ""
                if kind == "DT_SONAME":
                    soname = text
                elif kind == "DT_NEEDED":
                    needed.append(text)
                elif kind == "DT_RPATH":
                    rpath += text.split(":")
                elif kind == "DT_RUNPATH":
                    runpath += text.split(":")
        return ElfFacts(
            machine=str(elf["e_machine"]),
            wide=elf.elfclass == 64,
            shared=elf["e_type"] == "ET_DYN",
            soname=soname,
            needed=tuple(needed),
            rpath=tuple(path for path in rpath if path),
            runpath=tuple(path for path in runpath if path),
        )
    except (ELFError, ValueError, KeyError, OSError, AssertionError):
        return None


def file_facts(path: Path) -> ElfFacts | None:
    try:
        with path.open("rb") as stream:
            return elf_facts(stream)
    except OSError:
        return None
