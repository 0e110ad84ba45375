"""Where bytecode goes and what a base's interpreter is taken out with, behind fakes of the
compiler (the real interpreters are run in tests/integration/test_bytecode*.py)."""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from tests.support.distributions import build_wheel

from poetry_ci_image.image.base_root import BaseRoots
from poetry_ci_image.image.base_root import BaseSource
from poetry_ci_image.image.base_root import extract_base_root
from poetry_ci_image.image.base_runtime import Runtime
from poetry_ci_image.image.base_runtime import runtime_of
from poetry_ci_image.image.bytecode.maker import BytecodeMaker
from poetry_ci_image.image.bytecode.maker import Interpreter
from poetry_ci_image.image.bytecode.stdlib import missing_pycs
from poetry_ci_image.image.bytecode.stdlib import pyc_path
from poetry_ci_image.image.files import install_wheel
from poetry_ci_image.plumbing.progress import SILENT


if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import pytest


SITE = "opt/venv/lib/python3.11/site-packages"
SOURCES = "deb http://archive.example/debian bookworm main\n"


@dataclass
class FakeCompiler:
    """Compiles every source into b"pyc of <path>"; one that says `bad` does not compile."""

    cache_tag: str = "cpython-311"
    asked: list[str] = field(default_factory=list)

    def compile(self, sources: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
        self.asked += [path for path, _ in sources]
        return {path: f"pyc of {path}".encode() for path, source in sources if b"bad" not in source}


def test_a_wheels_modules_get_their_pycs_listed_in_record(tmp_path: Path) -> None:
    """Each module in site-packages gets `__pycache__/<name>.cpython-311.pyc`, listed in RECORD
    without hash, as pip lists them; a source that does not compile gets none; scripts none."""
    wheel = build_wheel(
        tmp_path,
        "alpha",
        "1.0",
        files={
            "alpha/__init__.py": b"x = 1\n",
            "alpha/broken.py": b"bad syntax\n",
            "alpha-1.0.data/scripts/tool.py": b"print(1)\n",
        },
    )
    compiler = FakeCompiler()
    files = install_wheel(
        "alpha", wheel, venv="/opt/venv", python="3.11", spill=tmp_path / "spill", compiler=compiler
    )
    paths = {entry.path: entry for entry in files.entries}
    pyc = f"{SITE}/alpha/__pycache__/__init__.cpython-311.pyc"
    assert paths[pyc].data == f"pyc of /{SITE}/alpha/__init__.py".encode()
    assert f"{SITE}/alpha/__pycache__/broken.cpython-311.pyc" not in paths
    assert "opt/venv/bin/tool.py" in paths
    assert sorted(compiler.asked) == [f"/{SITE}/alpha/__init__.py", f"/{SITE}/alpha/broken.py"]
    record = paths[f"{SITE}/alpha-1.0.dist-info/RECORD"].data
    assert record is not None
    assert "alpha/__pycache__/__init__.cpython-311.pyc,," in record.decode().splitlines()


def test_without_a_compiler_there_is_no_bytecode(tmp_path: Path) -> None:
    """bytecode = "off": the files of the wheel and nothing else."""
    wheel = build_wheel(tmp_path, "alpha", "1.0", files={"alpha/__init__.py": b"x = 1\n"})
    files = install_wheel("alpha", wheel, venv="/opt/venv", python="3.11", spill=tmp_path / "s")
    assert [e.path for e in files.entries if "__pycache__" in e.path] == []


def elf_x86_64(interpreter: bytes) -> bytes:
    """A 64-bit little-endian x86_64 ELF header naming `interpreter` (PT_INTERP)."""
    header = b"\x7fELF\x02\x01\x01" + bytes(9)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    header += struct.pack("<IIQQQQQQ", 3, 4, 120, 0, 0, len(interpreter), len(interpreter), 1)
    return header + interpreter


def layer(*members: tuple[str, str, bytes | str]) -> list[bytes]:
    """A tar layer of (kind, path, content or link target) members: "file", "link", "dir"."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for kind, path, content in members:
            info = tarfile.TarInfo(path)
            if kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, str(content)
                tar.addfile(info)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                data = content if isinstance(content, bytes) else content.encode()
                info.size, info.mode = len(data), 0o755
                tar.addfile(info, io.BytesIO(data))
    return [buffer.getvalue()]


def test_the_interpreter_is_taken_out_with_whiteouts_and_links_kept_inside(tmp_path: Path) -> None:
    """Two layers applied as a runtime applies them: the interpreter, its libraries and its
    standard library are there, packages and docs are not (apt's sources and dpkg's database
    are), a whiteout removes a pyc, an absolute link points inside the extraction, and the
    modules without a pyc are listed."""
    stdlib = "usr/lib/python3.11"
    bottom = layer(
        ("file", "usr/bin/python3.11", elf_x86_64(b"/lib64/ld-linux-x86-64.so.2\0")),
        ("dir", "usr/lib64", ""),
        ("link", "lib64", "usr/lib64"),
        ("file", "usr/lib64/ld-linux-x86-64.so.2", b"loader"),
        ("file", "usr/lib/x86_64-linux-gnu/libz.so.1.2.13", b"zlib"),
        ("file", f"{stdlib}/os.py", "import sys\n"),
        ("file", f"{stdlib}/__pycache__/os.cpython-311.pyc", b"old"),
        ("file", f"{stdlib}/__pycache__/abc.cpython-311.pyc", b"kept"),
        ("file", f"{stdlib}/abc.py", "pass\n"),
        ("file", f"{stdlib}/site-packages/pkg.py", "pass\n"),
        ("file", "usr/share/doc/python3.11/README", "docs"),
        ("file", "etc/apt/sources.list", SOURCES),
        ("file", "var/lib/dpkg/status", "Package: libc6\n"),
        ("file", "usr/bin/perl", "not wanted"),
    )
    top = layer(
        ("file", f"{stdlib}/__pycache__/.wh.os.cpython-311.pyc", b""),
        ("file", f"{stdlib}/json.py", "pass\n"),
        ("file", "etc/python3.11/sitecustomize.py", "pass\n"),
        ("link", f"{stdlib}/sitecustomize.py", "/etc/python3.11/sitecustomize.py"),
    )
    base_root = extract_base_root([bottom, top], tmp_path / "root")
    runtime = runtime_of(base_root, "/usr/bin/python3.11")
    root = runtime.root
    assert (runtime.python, runtime.home, runtime.loader, runtime.machine) == (
        "/usr/bin/python3.11",
        "/usr",
        "/lib64/ld-linux-x86-64.so.2",
        "x86_64",
    )
    assert (root / "lib64/ld-linux-x86-64.so.2").read_bytes() == b"loader"
    assert "/usr/lib/x86_64-linux-gnu" in runtime.library_dirs
    assert not (root / f"{stdlib}/site-packages").exists()
    assert not (root / "usr/share/doc").exists()
    assert not (root / "usr/bin/perl").exists()
    assert (
        base_root.read("/etc/apt/sources.list")
        == b"deb http://archive.example/debian bookworm main\n"
    )
    assert base_root.read("/var/lib/dpkg/status") == b"Package: libc6\n"
    link = os.readlink(root / f"{stdlib}/sitecustomize.py")
    assert not link.startswith("/")
    assert (root / f"{stdlib}/sitecustomize.py").read_text() == "pass\n"
    assert runtime.stdlib_pycs == {f"/{stdlib}/__pycache__/abc.cpython-311.pyc"}
    missing = [path for path, _ in missing_pycs(runtime, "cpython-311")]
    assert missing == [f"/{stdlib}/json.py", f"/{stdlib}/os.py", f"/{stdlib}/sitecustomize.py"]
    assert json.loads((tmp_path / "root" / "root.json").read_text())["format"] == 2


def test_a_pycs_place() -> None:
    """`__pycache__/<name>.<cache tag>.pyc` beside the source."""
    assert pyc_path("/usr/lib/python3.11/os.py", "cpython-311") == (
        "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc"
    )


def test_a_base_that_does_not_say_its_patch_version_is_asked_once_per_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base that says only "3.11": its interpreter is asked (under emulation, for another
    architecture, half a second), and what it said is kept beside its runtime, so a later push
    with the same cache does not ask again."""
    asked = _probes_answering_3_11_2(monkeypatch)

    def maker() -> BytecodeMaker:
        return BytecodeMaker("checked", _only_minor(), _only_root(tmp_path), 1)

    assert maker().version("linux/amd64") == (3, 11, 2)
    assert maker().version("linux/amd64") == (3, 11, 2)
    assert asked == ["/usr/bin/python3.11"]


def test_an_interpreter_asked_its_version_is_not_asked_again_for_its_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One question per run and platform: the version, then the compiler's cache tag."""
    asked = _probes_answering_3_11_2(monkeypatch)
    maker = BytecodeMaker("checked", _only_minor(), _only_root(tmp_path), 1)
    assert maker.version("linux/amd64") == (3, 11, 2)
    assert maker.compiler("linux/amd64").cache_tag == "cpython-311"
    assert asked == ["/usr/bin/python3.11"]


def _probes_answering_3_11_2(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every interpreter asked says CPython 3.11.2; the list of those asked, as they are."""
    asked: list[str] = []

    def probe(runtime: Runtime) -> dict[str, object]:
        asked.append(runtime.python)
        return {"version": [3, 11, 2], "cache_tag": "cpython-311"}

    monkeypatch.setattr(Runtime, "probe", probe)
    return asked


def _only_minor() -> dict[str, Interpreter]:
    """An amd64 base that says only "3.11" of its Python."""
    interpreter = Interpreter(
        platform="linux/amd64",
        base="python:3.11",
        python="/usr/bin/python3.11",
        version="3.11",
    )
    return {"linux/amd64": interpreter}


def _only_root(directory: Path) -> BaseRoots:
    """The root of that base: its interpreter only, kept in `directory`."""
    source = BaseSource(
        "linux/amd64",
        "python:3.11",
        "sha256:" + "a" * 64,
        lambda: [layer(("file", "usr/bin/python3.11", elf_x86_64(b"/lib64/ld.so\0")))],
    )
    return BaseRoots({"linux/amd64": source}, directory, SILENT)
