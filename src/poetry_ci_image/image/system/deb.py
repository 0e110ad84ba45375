"""A Debian package's contents, read on the host as dpkg reads them: an `ar` archive holding
`debian-binary`, `control.tar.*` (the control file, md5sums, conffiles, maintainer scripts) and
`data.tar.*` (the files), each tar compressed with xz, gzip, bzip2 or zstd (Ubuntu's; read with
the standard library's `compression.zstd` on Python 3.14, else the `zstandard` package).

The files become layer entries with the modes, owners and times the package gives them; paths
are taken through the base's directory links (`/bin` -> `usr/bin` on a merged-/usr base, as
dpkg follows an existing link when it unpacks), and files of more than `SPILL_BYTES` wait on
disk, not in memory.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
import io
import lzma
import posixpath
import tarfile

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import BinaryIO

from poetry_ci_image.errors import SystemPackageError
from poetry_ci_image.image.tarball import Entry


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Mapping
    from pathlib import Path


SPILL_BYTES = 256 * 1024
# The control members dpkg keeps in its database (/var/lib/dpkg/info/<package>.<member>).
KEPT_CONTROL = (
    "preinst",
    "postinst",
    "prerm",
    "postrm",
    "config",
    "templates",
    "triggers",
    "shlibs",
    "symbols",
    "md5sums",
    "conffiles",
)


@dataclass
class DebContents:
    """What a .deb holds: its control members, and its files as layer entries."""

    control: dict[str, bytes]  # member name -> bytes: "control", "postinst", "md5sums", ...
    entries: list[Entry] = field(default_factory=list)  # the files, at their paths in the image
    paths: list[str] = field(default_factory=list)  # the paths as the package lists them (.list)


def read_deb(deb: Path, aliases: Mapping[str, str], spill: Path, what: str) -> DebContents:
    """The contents of the .deb at `deb`; `aliases` maps the base's directory links (no
    leading slash: `bin` -> `usr/bin`) to where they point."""
    try:
        with deb.open("rb") as stream:
            members = dict(_ar_members(stream))
    except (OSError, ValueError) as error:
        raise SystemPackageError(f"{what} is not a Debian package: {error}.") from None
    control_name = next((name for name in members if name.startswith("control.tar")), None)
    data_name = next((name for name in members if name.startswith("data.tar")), None)
    if control_name is None or data_name is None:
        raise SystemPackageError(f"{what} has no control.tar or data.tar member.")
    contents = DebContents(control=_control(members[control_name], control_name, what))
    with _tar(members[data_name], data_name, what) as tar:
        md5sums = _read_data(tar, contents, aliases, spill)
    # dpkg writes the md5sums of a package that ships none when it unpacks it
    contents.control.setdefault("md5sums", md5sums.encode())
    return contents


def _ar_members(stream: BinaryIO) -> Iterator[tuple[str, bytes]]:
    if stream.read(8) != b"!<arch>\n":
        raise ValueError("no ar signature")
    while True:
        header = stream.read(60)
        if not header:
            return
        if len(header) < 60 or header[58:60] != b"`\n":
            raise ValueError("a damaged ar member header")
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        data = stream.read(size)
        if len(data) != size:
            raise ValueError(f"{name} is cut short")
        if size % 2:
            stream.read(1)
        yield name, data


def _decompressed(data: bytes, name: str, what: str) -> bytes:
    try:
        if name.endswith(".xz"):
            return lzma.decompress(data)
        if name.endswith(".gz"):
            return gzip.decompress(data)
        if name.endswith(".bz2"):
            return bz2.decompress(data)
        if name.endswith(".zst"):
            return _zstd(data, what)
    except (lzma.LZMAError, OSError, EOFError, ValueError) as error:
        raise SystemPackageError(f"{what}'s {name} does not decompress: {error}.") from None
    if name.endswith(".tar"):
        return data
    raise SystemPackageError(f"{what}'s {name} is compressed in a way dpkg does not use.")


def _zstd(data: bytes, what: str) -> bytes:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]

        result: bytes = zstd.decompress(data)
        return result
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise SystemPackageError(
            f"{what} is compressed with zstd, which this Python cannot read.",
            "Install zstandard beside Poetry (`poetry self add zstandard`), or push with "
            "Python 3.14.",
        ) from None
    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
        decompressed: bytes = reader.read()
        return decompressed


def _tar(data: bytes, name: str, what: str) -> tarfile.TarFile:
    return tarfile.open(fileobj=io.BytesIO(_decompressed(data, name, what)), mode="r:")


def _control(data: bytes, name: str, what: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with _tar(data, name, what) as tar:
        for member in tar:
            base = posixpath.basename(posixpath.normpath(member.name))
            if member.isfile() and (base == "control" or base in KEPT_CONTROL):
                stream = tar.extractfile(member)
                found[base] = stream.read() if stream else b""
    if "control" not in found:
        raise SystemPackageError(f"{what} has no control file.")
    return found


def _read_data(
    tar: tarfile.TarFile, contents: DebContents, aliases: Mapping[str, str], spill: Path
) -> str:
    """Read the files into `contents`; their md5sums, as dpkg would list them."""
    links: dict[str, list[str]] = {}  # a hard link's target -> the paths linked to it
    md5sums = ""
    for member in tar:
        listed = posixpath.normpath("/" + member.name.removeprefix("./").lstrip("/"))
        contents.paths.append(listed if listed != "/" else "/.")
        if listed == "/":
            continue
        path = through_aliases(listed.lstrip("/"), aliases)
        mode, owner, mtime = member.mode & 0o7777, (member.uid, member.gid), int(member.mtime)
        if member.isdir():
            contents.entries.append(Entry(path, kind="dir", mode=mode, owner=owner, mtime=mtime))
        elif member.issym():
            contents.entries.append(
                Entry(path, "symlink", target=member.linkname, mode=mode, owner=owner, mtime=mtime)
            )
        elif member.islnk():
            linked = posixpath.normpath(member.linkname.removeprefix("./").lstrip("/"))
            links.setdefault(through_aliases(linked, aliases), []).append(path)
        elif member.isfile():
            stream = tar.extractfile(member)
            data = stream.read() if stream else b""
            digest = hashlib.sha256(data).hexdigest()
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            md5sums += f"{md5}  {listed.lstrip('/')}\n"
            source = None
            if len(data) > SPILL_BYTES:
                spill.mkdir(parents=True, exist_ok=True)
                source = spill / digest
                source.write_bytes(data)
                data = b""
            contents.entries.append(
                Entry(
                    path,
                    data=None if source else data,
                    source=source,
                    size=member.size,
                    digest=digest,
                    mode=mode,
                    owner=owner,
                    mtime=mtime,
                )
            )
        # device files and fifos: not in the packages a CI image asks for; left out
    contents.entries = _hard_links(contents.entries, links)
    return md5sums


def _hard_links(entries: list[Entry], links: dict[str, list[str]]) -> list[Entry]:
    """The files with hard links to them: the one that sorts first (the layer writes paths in
    order, and a link must follow its target) holds the bytes, the others link to it."""
    if not links:
        return entries
    by_path = {entry.path: entry for entry in entries}
    result = [entry for entry in entries if entry.path not in links]
    for target, paths in links.items():
        original = by_path.get(target)
        if original is None:
            continue  # a link to a path the package does not hold: dpkg refuses it too
        group = sorted({target, *paths}, key=lambda p: p.split("/"))
        first = group[0]
        result.append(dataclasses.replace(original, path=first))
        for other in group[1:]:
            result.append(
                Entry(
                    other,
                    kind="hardlink",
                    target=first,
                    mode=original.mode,
                    owner=original.owner,
                    mtime=original.mtime,
                )
            )
    return result


def through_aliases(path: str, aliases: Mapping[str, str]) -> str:
    """`path` (no leading slash) with its leading directories taken through the base's
    directory links, as dpkg follows them: `bin/ip` -> `usr/bin/ip` on a merged-/usr base."""
    parts = path.split("/")
    for length in range(len(parts), 0, -1):
        prefix = "/".join(parts[:length])
        if prefix in aliases:
            moved = "/".join([aliases[prefix], *parts[length:]])
            others = {key: value for key, value in aliases.items() if key != prefix}
            return through_aliases(moved, others)  # a link under a link; never the same twice
    return path
