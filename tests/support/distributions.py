"""Real, deterministic wheels and sdists made on the fly for tests.

Every archive member carries a fixed timestamp and fixed permissions, so the same inputs give the
same bytes and therefore the same sha256. The sdist carries its own in-tree PEP 517 backend, so
building it needs nothing from an index.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import itertools
import re
import tarfile
import zipfile

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping
    from pathlib import Path


#: Timestamp of every member of every archive made here (the earliest a zip file can hold).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
#: Same instant for tar members and the gzip header (seconds since the epoch).
TAR_MTIME = 315532800

PURE_TAGS = "py3-none-any"


def normalize_name(name: str) -> str:
    """The PEP 503 normalized form of a project name (``My_Pkg`` -> ``my-pkg``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def filename_name(name: str) -> str:
    """The project name as written in wheel and sdist file names (``My-Pkg`` -> ``my_pkg``)."""
    return normalize_name(name).replace("-", "_")


def import_name(name: str) -> str:
    """The import package the distributions made here contain (``my-pkg`` -> ``my_pkg``)."""
    return filename_name(name)


def expand_tags(tags: str) -> list[str]:
    """Every tag of a compressed tag set, e.g. ``cp311-cp311-a.b`` -> two tags."""
    parts = tags.split("-")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a compressed tag set: {tags!r}")
    pythons, abis, platforms = (part.split(".") for part in parts)
    return [f"{py}-{abi}-{plat}" for py, abi, plat in itertools.product(pythons, abis, platforms)]


def record_hash(data: bytes) -> str:
    """The ``sha256=...`` digest a wheel's RECORD gives for ``data`` (urlsafe base64, no pad)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, as package indexes and lock files give it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def core_metadata(name: str, version: str, requires: Iterable[str] = ()) -> str:
    """Core metadata (METADATA / PKG-INFO), Metadata-Version 2.1."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines.extend(f"Requires-Dist: {requirement}" for requirement in requires)
    return "\n".join(lines) + "\n"


def package_init(name: str, version: str) -> str:
    """The ``__init__.py`` of the import package of a made distribution."""
    return f'"""Test distribution {name}."""\n\n__version__ = "{version}"\n'


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    tags: str = PURE_TAGS,
    requires: Iterable[str] = (),
    files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """Write a valid wheel of ``name`` ``version`` into ``directory``, and return its path.

    It holds ``<import name>/__init__.py`` setting ``__version__``, plus ``files`` (archive path ->
    content) if given, and a dist-info with METADATA, WHEEL (one ``Tag:`` line per tag of the
    compressed set ``tags``) and a RECORD of sha256 hashes and sizes.
    """
    expanded = expand_tags(tags)
    stem = filename_name(name)
    dist_info = f"{stem}-{version}.dist-info"
    package = import_name(name)

    members: dict[str, bytes] = {f"{package}/__init__.py": package_init(name, version).encode()}
    for path, content in (files or {}).items():
        members[path] = content.encode() if isinstance(content, str) else content
    members[f"{dist_info}/METADATA"] = core_metadata(name, version, requires).encode()
    wheel_lines = [
        "Wheel-Version: 1.0",
        "Generator: poetry-ci-image-tests",
        f"Root-Is-Purelib: {'true' if tags == PURE_TAGS else 'false'}",
        *(f"Tag: {tag}" for tag in expanded),
    ]
    members[f"{dist_info}/WHEEL"] = ("\n".join(wheel_lines) + "\n").encode()

    record_path = f"{dist_info}/RECORD"
    record = (
        "".join(f"{path},{record_hash(data)},{len(data)}\n" for path, data in members.items())
        + f"{record_path},,\n"
    )
    members[record_path] = record.encode()

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{stem}-{version}-{tags}.whl"
    target.write_bytes(zip_bytes(members))
    return target


def zip_bytes(members: Mapping[str, bytes]) -> bytes:
    """A deterministic zip archive of ``members`` (archive path -> content), in the given order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def tar_gz_bytes(members: Mapping[str, bytes]) -> bytes:
    """A deterministic gzipped tar archive of ``members`` (archive path -> content)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = TAR_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=TAR_MTIME) as stream:
        stream.write(raw.getvalue())
    return compressed.getvalue()


PYPROJECT = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"""

# The in-tree PEP 517 backend shipped in every sdist made here: standard library only, it
# builds a pure wheel of the tree's import package(s) with PKG-INFO as METADATA.
BACKEND = r'''"""In-tree PEP 517 backend of a test sdist: standard library only, no index needed."""

import base64
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import zipfile

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
TAR_MTIME = 315532800
SKIP = {"__pycache__", "build", "dist"}


def _metadata():
    with open("PKG-INFO", encoding="utf-8") as handle:
        text = handle.read()
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, value)
    stem = re.sub(r"[-_.]+", "_", fields["Name"]).lower()
    return text, stem, fields["Version"]


def _sources():
    found = []
    for root, dirs, names in os.walk("."):
        dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.endswith(".egg-info"))
        for name in sorted(names):
            path = os.path.relpath(os.path.join(root, name), ".").replace(os.sep, "/")
            found.append(path)
    return found


def _package_files():
    return [
        path
        for path in _sources()
        if "/" in path and path.endswith(".py") and not path.startswith(".")
    ]


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _tag():
    """The wheel tag to build: py3-none-any unless the tree has a WHEEL_TAG file."""
    try:
        with open("WHEEL_TAG", encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return "py3-none-any"


def _dist_info(text):
    tag = _tag()
    wheel = (
        "Wheel-Version: 1.0\nGenerator: in-tree-backend\n"
        "Root-Is-Purelib: %s\nTag: %s\n" % ("true" if tag == "py3-none-any" else "false", tag)
    )
    return {"METADATA": text.encode("utf-8"), "WHEEL": wheel.encode("utf-8")}


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    text, stem, version = _metadata()
    name = "%s-%s.dist-info" % (stem, version)
    target = os.path.join(metadata_directory, name)
    os.makedirs(target, exist_ok=True)
    for filename, data in _dist_info(text).items():
        with open(os.path.join(target, filename), "wb") as handle:
            handle.write(data)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if os.path.exists("BUILD_FAILS"):  # a C extension whose headers the host lacks
        with open("BUILD_FAILS", encoding="utf-8") as handle:
            sys.stderr.write(handle.read())
        raise SystemExit(1)
    text, stem, version = _metadata()
    dist_info = "%s-%s.dist-info" % (stem, version)
    members = {}
    for path in _package_files():
        with open(path, "rb") as handle:
            members[path] = handle.read()
    for filename, data in _dist_info(text).items():
        members[dist_info + "/" + filename] = data
    record = "".join("%s,%s,%d\n" % (p, _hash(d), len(d)) for p, d in members.items())
    members[dist_info + "/RECORD"] = (record + dist_info + "/RECORD,,\n").encode("utf-8")
    basename = "%s-%s-%s.whl" % (stem, version, _tag())
    with zipfile.ZipFile(os.path.join(wheel_directory, basename), "w") as archive:
        for path, data in members.items():
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
    return basename


def build_sdist(sdist_directory, config_settings=None):
    text, stem, version = _metadata()
    top = "%s-%s" % (stem, version)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in _sources():
            with open(path, "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo(top + "/" + path)
            info.size = len(data)
            info.mtime = TAR_MTIME
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    basename = top + ".tar.gz"
    with open(os.path.join(sdist_directory, basename), "wb") as handle:
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=TAR_MTIME) as stream:
            stream.write(raw.getvalue())
    return basename
'''


def build_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    wheel_tag: str = PURE_TAGS,
    fails_with: str | None = None,
) -> Path:
    """Write a PEP 625 sdist of ``name`` ``version`` into ``directory``, and return its path.

    Its build backend is ``backend.py`` in the sdist itself (``requires = []``), so pip's isolated
    build works with no index; the wheel it builds holds the import package and is pure, unless
    ``wheel_tag`` names a platform (as a package with C extensions would build). With
    ``fails_with``, building its wheel prints that to stderr and fails, as a compiler would.
    """
    stem = filename_name(name)
    top = f"{stem}-{version}"
    requires = tuple(requires)
    members: dict[str, bytes] = {
        f"{top}/PKG-INFO": core_metadata(name, version, requires).encode(),
        f"{top}/pyproject.toml": PYPROJECT.encode(),
        f"{top}/backend.py": BACKEND.encode(),
        f"{top}/{import_name(name)}/__init__.py": package_init(name, version).encode(),
    }
    if wheel_tag != PURE_TAGS:
        members[f"{top}/WHEEL_TAG"] = wheel_tag.encode()
    if fails_with is not None:
        members[f"{top}/BUILD_FAILS"] = fails_with.encode()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{top}.tar.gz"
    target.write_bytes(tar_gz_bytes(members))
    return target
