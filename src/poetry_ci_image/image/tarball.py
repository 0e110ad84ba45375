"""Layers as bytes that depend on their content alone: the deterministic tar + gzip writer.

A layer is a tar stream of `Entry`s, gzip-compressed. Whatever the host, the user, the umask,
the directory or the time, the same entries give the same bytes:

- entries sorted by path (parents before children), each directory once;
- every mtime `epoch` (SOURCE_DATE_EPOCH when set, else 0), uid and gid 0, no user or group
  names, modes 0755 for directories and executables and 0644 for other files, 0777 for links
  (an entry may carry its own mode, owner and mtime instead: a Debian package's files keep the
  ones the package gives them, as dpkg would);
- the POSIX (PAX) tar format, which only adds an extended header for long or non-ASCII paths;
- gzip with no file name, mtime 0 and compression level `LEVEL`.

Writing returns the layer's `digest` (sha256 of the gzip file, what registries address it by),
`diff_id` (sha256 of the tar stream, what image configs list) and size.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import tarfile

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import BinaryIO


if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


LEVEL = 6  # zlib's default: what `docker push` and most registries' clients use
CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    """One member of a layer: a file (its bytes, or a file on disk holding them), a directory or
    a symbolic link. `path` is absolute in the image, without the leading slash."""

    path: str
    kind: str = "file"  # "file", "dir", "symlink" or "hardlink"
    data: bytes | None = None
    source: Path | None = None  # the file's bytes are there (large files are not held in memory)
    size: int = 0
    digest: str = ""  # sha256 hex of the file's bytes (compares files without reading them)
    executable: bool = False
    target: str = ""  # a symlink's target; a hard link's (the path of an earlier entry)
    mode: int | None = None  # permission bits (setuid and sticky ones too); None: by kind
    owner: tuple[int, int] = (0, 0)  # uid, gid
    mtime: int | None = None  # None: the layer's epoch

    def open(self) -> BinaryIO:
        if self.source is not None:
            return self.source.open("rb")
        return io.BytesIO(self.data or b"")


def file_entry(path: str, data: bytes, *, executable: bool = False) -> Entry:
    return Entry(
        path,
        data=data,
        size=len(data),
        digest=hashlib.sha256(data).hexdigest(),
        executable=executable,
    )


def directory_entry(path: str) -> Entry:
    return Entry(path, kind="dir")


def symlink_entry(path: str, target: str) -> Entry:
    return Entry(path, kind="symlink", target=target)


@dataclass(frozen=True)
class LayerBlob:
    """A written layer: the gzip file and how registries and configs name it. A layer found in
    the registry's layer cache has no file on the host (`path` None): the registry has it."""

    path: Path | None
    digest: str  # "sha256:..." of the gzip bytes
    diff_id: str  # "sha256:..." of the tar stream
    size: int

    @property
    def file(self) -> Path:
        """The layer's file on the host (a layer the registry's cache gave has none)."""
        if self.path is None:
            raise ValueError(f"the layer {self.digest} is in the registry, not on this host")
        return self.path


def with_parents(entries: Iterable[Entry]) -> list[Entry]:
    """`entries` with every parent directory they need, each path once, sorted (parents first).

    A later entry for a path replaces an earlier one; a directory never replaces a file."""
    by_path: dict[str, Entry] = {}
    for entry in entries:
        path = entry.path.strip("/")
        parent = posixpath.dirname(path)
        while parent and parent not in by_path:
            by_path[parent] = directory_entry(parent)
            parent = posixpath.dirname(parent)
        if entry.kind == "dir" and by_path.get(path, entry).kind != "dir":
            continue
        by_path[path] = entry
    return [by_path[path] for path in sorted(by_path, key=lambda p: p.split("/"))]


class _Digesting:
    """A write-only stream that hashes what passes through it to the next one."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()


def write_layer(entries: Iterable[Entry], destination: Path, epoch: int) -> LayerBlob:
    """Write `entries` (with their parent directories) as a gzip layer to `destination`."""
    members = with_parents(entries)
    with destination.open("wb") as raw:
        compressed = _Digesting(raw)
        with gzip.GzipFile(
            filename="",
            mode="wb",
            fileobj=compressed,
            compresslevel=LEVEL,
            mtime=0,
        ) as gz:
            plain = _Digesting(gz)  # type: ignore[arg-type]
            with tarfile.open(
                fileobj=plain,
                mode="w|",
                format=tarfile.PAX_FORMAT,
                encoding="utf-8",  # type: ignore[call-overload]
            ) as tar:
                for entry in members:
                    _add(tar, entry, epoch)
        raw.flush()
        os.fsync(raw.fileno())
    return LayerBlob(
        path=destination,
        digest=f"sha256:{compressed.hasher.hexdigest()}",
        diff_id=f"sha256:{plain.hasher.hexdigest()}",
        size=compressed.size,
    )


def _add(tar: tarfile.TarFile, entry: Entry, epoch: int) -> None:
    info = tarfile.TarInfo(entry.path)
    info.mtime = epoch if entry.mtime is None else entry.mtime
    info.uid, info.gid = entry.owner
    info.uname = info.gname = ""
    if entry.kind == "dir":
        info.type = tarfile.DIRTYPE
        info.mode = 0o755 if entry.mode is None else entry.mode
        tar.addfile(info)
    elif entry.kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.mode = 0o777
        info.linkname = entry.target
        tar.addfile(info)
    elif entry.kind == "hardlink":
        info.type = tarfile.LNKTYPE
        info.mode = 0o644 if entry.mode is None else entry.mode
        info.linkname = entry.target
        tar.addfile(info)
    else:
        info.mode = (0o755 if entry.executable else 0o644) if entry.mode is None else entry.mode
        info.size = entry.size
        with entry.open() as stream:
            tar.addfile(info, stream)
