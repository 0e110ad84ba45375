"""A Debian package's contents read on the host as dpkg unpacks them: real .debs made by the
host's dpkg-deb, read back into layer entries and the records dpkg keeps of them."""

from __future__ import annotations

import builtins
import os
import shutil

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.support.debs import build_deb

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.image.system.database import database_entries
from poetry_ci_image.image.system.database import info_entries
from poetry_ci_image.image.system.database import status_paragraph
from poetry_ci_image.image.system.deb import read_deb
from poetry_ci_image.image.system.deb import through_aliases
from poetry_ci_image.image.system.scripts import Alternative
from poetry_ci_image.image.system.scripts import chosen_alternatives


if TYPE_CHECKING:
    from pathlib import Path

    from poetry_ci_image.image.tarball import Entry


MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "var/run": "run"}


@pytest.fixture(autouse=True)
def needs_dpkg_deb() -> None:
    if shutil.which("dpkg-deb") is None:
        if os.environ.get("CI"):
            pytest.fail("dpkg-deb is missing (CI is set, so this fails instead of skipping)")
        pytest.skip("dpkg-deb is not installed here")


def tool(directory: Path, compression: str = "xz") -> Path:
    return build_deb(
        directory,
        "tool",
        "1.0-1",
        files={
            "bin/tool+x": "#!/bin/sh\necho tool\n",
            "usr/lib/x86_64-linux-gnu/libtool.so.1.0.0": b"\x7fELF not really",
            "etc/tool.conf": "setting = 1\n",
            "var/run/tool/README": "runtime\n",
        },
        links={"usr/lib/x86_64-linux-gnu/libtool.so.1": "libtool.so.1.0.0"},
        hard_links={"usr/bin/tool-again": "bin/tool"},
        conffiles=("etc/tool.conf",),
        scripts={"postinst": "#!/bin/sh\nset -e\nldconfig\n"},
        compression=compression,
    )


def by_path(entries: list[Entry]) -> dict[str, Entry]:
    return {entry.path: entry for entry in entries}


def test_files_keep_their_modes_and_go_through_the_bases_directory_links(tmp_path: Path) -> None:
    """`/bin/tool` lands in usr/bin (the base links /bin there, as dpkg would follow it), its
    executable mode and the package's mtime kept; a hard link follows the file it links to."""
    contents = read_deb(tool(tmp_path), MERGED_USR, tmp_path / "spill", "tool 1.0-1")
    entries = by_path(contents.entries)
    assert "bin" not in entries
    assert "bin/tool" not in entries
    assert (entries["usr/bin/tool"].kind, entries["usr/bin/tool"].mode) == ("file", 0o755)
    assert entries["usr/bin/tool"].mtime == 1700000000
    assert (entries["usr/bin/tool-again"].kind, entries["usr/bin/tool-again"].target) == (
        "hardlink",
        "usr/bin/tool",
    )
    assert entries["usr/lib/x86_64-linux-gnu/libtool.so.1"].target == "libtool.so.1.0.0"
    assert "run/tool/README" in entries
    assert contents.paths[:3] == ["/.", "/bin", "/bin/tool"]


def test_the_records_dpkg_keeps_of_a_package(tmp_path: Path) -> None:
    """Its paragraph of the status file says it is installed and lists its conffile with the
    md5 of its content; its info files list what it installs and keep its scripts."""
    contents = read_deb(tool(tmp_path), MERGED_USR, tmp_path / "spill", "tool 1.0-1")
    paragraph = status_paragraph(contents)
    assert paragraph.startswith("Package: tool\nStatus: install ok installed\n")
    assert "Conffiles:\n /etc/tool.conf 6bc5aa55a24a9d663f97616fed018e1a\n" in paragraph
    info = by_path(info_entries(contents))
    assert sorted(info) == [
        "var/lib/dpkg/info/tool.conffiles",
        "var/lib/dpkg/info/tool.list",
        "var/lib/dpkg/info/tool.md5sums",
        "var/lib/dpkg/info/tool.postinst",
    ]
    assert info["var/lib/dpkg/info/tool.postinst"].executable
    listed = (info["var/lib/dpkg/info/tool.list"].data or b"").decode().splitlines()
    assert "/bin/tool" in listed  # as the package names it, not where it landed


def test_a_zstd_compressed_package_is_read_or_its_reader_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ubuntu compresses with zstd: read with zstandard where it is installed; without it, one
    message says what to install."""
    deb = tool(tmp_path, "zstd")
    real_import = builtins.__import__

    def without_zstd(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in {"zstandard", "compression"}:
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_zstd)
    with pytest.raises(SystemPackageError) as raised:
        read_deb(deb, MERGED_USR, tmp_path / "spill", "tool 1.0-1")
    assert (
        raised.value.message == "tool 1.0-1 is compressed with zstd, which this Python cannot read."
    )
    assert raised.value.hint == (
        "Install zstandard beside Poetry (`poetry self add zstandard`), or push with Python 3.14."
    )
    monkeypatch.undo()
    pytest.importorskip("zstandard")
    assert "usr/bin/tool" in by_path(read_deb(deb, MERGED_USR, tmp_path / "s", "tool").entries)


def test_a_file_that_is_no_package_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.deb"
    fake.write_bytes(b"<html>a proxy's error page</html>")
    with pytest.raises(SystemPackageError) as raised:
        read_deb(fake, {}, tmp_path, "libpq5 15.10")
    assert raised.value.message == "libpq5 15.10 is not a Debian package: no ar signature."


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("bin/ip", "usr/bin/ip", id="a merged-/usr link"),
        pytest.param("bin", "usr/bin", id="the linked directory itself"),
        pytest.param("var/run/x/pid", "run/x/pid", id="a link deeper down"),
        pytest.param("usr/binary", "usr/binary", id="a name that only starts the same"),
    ],
)
def test_paths_through_the_bases_links(path: str, expected: str) -> None:
    assert through_aliases(path, MERGED_USR) == expected


def test_the_status_file_keeps_the_bases_packages_and_adds_ours_in_order() -> None:
    """The base's paragraphs as they are, ours added (replacing an upgraded one), sorted by
    name; apt's extended states mark what came as a dependency."""
    base = b"Package: zlib1g\nStatus: install ok installed\nVersion: 1\n\nPackage: libc6\nStatus: install ok installed\nVersion: 2.36\n"  # noqa: E501
    ours = [
        "Package: libc6\nStatus: install ok installed\nVersion: 2.38\n",
        "Package: git\nStatus: install ok installed\nVersion: 2.39\n",
    ]
    entries = by_path(database_entries(base, b"", ours, ["libc6"], "amd64", {}, MERGED_USR))
    status = (entries["var/lib/dpkg/status"].data or b"").decode()
    assert status == (
        "Package: git\nStatus: install ok installed\nVersion: 2.39\n\n"
        "Package: libc6\nStatus: install ok installed\nVersion: 2.38\n\n"
        "Package: zlib1g\nStatus: install ok installed\nVersion: 1\n"
    )
    assert entries["var/lib/apt/extended_states"].data == (
        b"Package: libc6\nArchitecture: amd64\nAuto-Installed: 1\n"
    )


def test_alternatives_link_the_highest_priority_and_record_all() -> None:
    """`update-alternatives --install` of two packages: the links point at the higher priority,
    dpkg's record (/var/lib/dpkg/alternatives/cc) lists both, as update-alternatives writes it."""
    gcc = Alternative(
        "/usr/bin/cc",
        "cc",
        "/usr/bin/gcc",
        20,
        (("/usr/share/man/man1/cc.1.gz", "cc.1.gz", "/usr/share/man/man1/gcc.1.gz"),),
    )
    clang = Alternative("/usr/bin/cc", "cc", "/usr/bin/clang", 10)
    chosen = chosen_alternatives([("clang", clang), ("gcc", gcc)], existing=["editor"])
    entries = by_path(database_entries(b"", b"", [], [], "amd64", chosen, MERGED_USR))
    assert entries["usr/bin/cc"].target == "/etc/alternatives/cc"
    assert entries["etc/alternatives/cc"].target == "/usr/bin/gcc"
    assert entries["etc/alternatives/cc.1.gz"].target == "/usr/share/man/man1/gcc.1.gz"
    assert entries["var/lib/dpkg/alternatives/cc"].data == (
        b"auto\n/usr/bin/cc\ncc.1.gz\n/usr/share/man/man1/cc.1.gz\n\n"
        b"/usr/bin/gcc\n20\n/usr/share/man/man1/gcc.1.gz\n"
        b"/usr/bin/clang\n10\n\n\n"
    )
