"""A layer's bytes depend on its entries alone: the deterministic tar + gzip writer."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

from typing import TYPE_CHECKING

from poetry_ci_image.image.tarball import Entry
from poetry_ci_image.image.tarball import directory_entry
from poetry_ci_image.image.tarball import file_entry
from poetry_ci_image.image.tarball import symlink_entry
from poetry_ci_image.image.tarball import with_parents
from poetry_ci_image.image.tarball import write_layer


if TYPE_CHECKING:
    from pathlib import Path


ENTRIES = [
    file_entry("opt/venv/lib/python3.11/site-packages/b/__init__.py", b"B = 1\n"),
    file_entry("opt/venv/bin/tool", b"#!/opt/venv/bin/python\n", executable=True),
    symlink_entry("opt/venv/bin/python", "/usr/bin/python3.11"),
    file_entry("opt/venv/lib/python3.11/site-packages/a/__init__.py", b"A = 1\n"),
    file_entry("opt/venv/" + "long-name-" * 12 + "/x.py", b"long\n"),
]


def members(path: Path) -> list[tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return tar.getmembers()


def test_same_entries_same_bytes_whatever_the_order_umask_and_directory(tmp_path: Path) -> None:
    """Entries in another order, another umask, another directory: the same layer, byte for byte."""
    first = write_layer(ENTRIES, tmp_path / "one.tar.gz", 0)
    (tmp_path / "elsewhere").mkdir()
    previous = os.umask(0o077)
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path / "elsewhere")
        second = write_layer(list(reversed(ENTRIES)), tmp_path / "elsewhere" / "two.tar.gz", 0)
    finally:
        os.umask(previous)
        os.chdir(cwd)
    assert (first.digest, first.diff_id, first.size) == (second.digest, second.diff_id, second.size)
    assert first.file.read_bytes() == second.file.read_bytes()


def test_members_are_sorted_with_their_parents_and_fixed_metadata(tmp_path: Path) -> None:
    """Parents come first, every directory once; uid/gid 0, no names, the epoch, fixed modes."""
    layer = write_layer(ENTRIES, tmp_path / "layer.tar.gz", 1700000000)
    listed = members(layer.file)
    names = [member.name for member in listed]
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert names[:3] == ["opt", "opt/venv", "opt/venv/bin"]
    assert len(names) == len(set(names))
    for member in listed:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == 1700000000
        expected = {tarfile.DIRTYPE: 0o755, tarfile.SYMTYPE: 0o777}.get(member.type)
        if member.name == "opt/venv/bin/tool":
            expected = 0o755
        assert member.mode == (expected or 0o644), member.name


def test_gzip_header_carries_no_name_and_no_time(tmp_path: Path) -> None:
    """The gzip header: no file name flag, mtime 0."""
    layer = write_layer(ENTRIES, tmp_path / "layer.tar.gz", 0)
    header = layer.file.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0  # no FNAME, no FCOMMENT, no FEXTRA
    assert header[4:8] == b"\0\0\0\0"


def test_digests_name_the_compressed_and_the_uncompressed_bytes(tmp_path: Path) -> None:
    """digest is the gzip file's sha256, diff_id the tar stream's, as registries and configs use."""
    import hashlib

    layer = write_layer(ENTRIES, tmp_path / "layer.tar.gz", 0)
    data = layer.file.read_bytes()
    assert layer.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert layer.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()
    assert layer.size == len(data)


def test_a_file_on_disk_is_read_from_there(tmp_path: Path) -> None:
    """A large file waits on disk; its bytes land in the layer as if held in memory."""
    spilled = tmp_path / "big"
    spilled.write_bytes(b"x" * 1000)
    on_disk = Entry("opt/big", source=spilled, size=1000, digest="-")
    layer = write_layer([on_disk], tmp_path / "layer.tar.gz", 0)
    with tarfile.open(layer.path) as tar:
        extracted = tar.extractfile("opt/big")
        assert extracted is not None
        assert extracted.read() == b"x" * 1000


def test_with_parents_keeps_the_last_entry_of_a_path() -> None:
    """A later entry for a path replaces an earlier one; a directory never replaces a file."""
    result = with_parents(
        [file_entry("a/b", b"1"), file_entry("a/b", b"2"), directory_entry("a/b")]
    )
    assert [(e.path, e.kind, e.data) for e in result] == [
        ("a", "dir", None),
        ("a/b", "file", b"2"),
    ]


def test_a_tar_stream_any_runtime_reads(tmp_path: Path) -> None:
    """The layer is a plain POSIX tar in gzip: Python's tarfile reads back every member."""
    layer = write_layer(ENTRIES, tmp_path / "layer.tar.gz", 0)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.file.read_bytes()))) as tar:
        link = tar.getmember("opt/venv/bin/python")
        assert link.issym()
        assert link.linkname == "/usr/bin/python3.11"
        tool = tar.extractfile("opt/venv/bin/tool")
        assert tool is not None
        assert tool.read() == b"#!/opt/venv/bin/python\n"
