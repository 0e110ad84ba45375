"""The build context: a tar laid out as `dockerfile.py` documents.

Files are streamed from where they lie (Poetry's artifact cache, the project) into the tar;
nothing is copied first, and nothing is compressed (wheels are zip files already).
Entries are sorted and carry fixed metadata, so the same inputs give
the same context.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from poetry_ci_image.dockerfile import CONTEXT_DIR
from poetry_ci_image.errors import ConfigError


if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class Shipped:
    """A distribution file that goes into `ci-image/dists/` and its requirements line."""

    name: str
    version: str
    path: Path


def requirements(shipped: Iterable[Shipped]) -> str:
    """`name==version --hash=sha256:...` per file, for `pip install --require-hashes`."""
    lines = [
        f"{item.name}=={item.version} --hash=sha256:{sha256_of(item.path)}"
        for item in sorted(shipped, key=lambda s: s.name)
    ]
    return "\n".join(lines) + "\n"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_context(
    *,
    dockerfile: str,
    shipped: Iterable[Shipped],
    pip_wheel: Path,
    poetry_wheels: Path | None,
    hash_files: Iterable[Path],
    project_dir: Path,
    directory: Path | None = None,
) -> Path:
    """Write the context to a temporary .tar and return its path (the caller deletes it)."""
    shipped = list(shipped)
    entries: list[tuple[str, Path | bytes]] = [
        ("Dockerfile", dockerfile.encode()),
        (f"{CONTEXT_DIR}/requirements.txt", requirements(shipped).encode()),
        (f"{CONTEXT_DIR}/pip.whl", pip_wheel),
    ]
    entries += [(f"{CONTEXT_DIR}/dists/{item.path.name}", item.path) for item in shipped]
    if poetry_wheels is not None:
        entries += [
            (f"{CONTEXT_DIR}/poetry/{wheel.name}", wheel)
            for wheel in sorted(poetry_wheels.glob("*.whl"))
        ]
    for path in hash_files:
        relative = os.path.relpath(path, project_dir).replace(os.sep, "/")
        if relative.startswith("../"):
            raise ConfigError(
                f"hash-files entry {relative} lies outside the project.",
                "List files inside the project directory.",
            )
        entries.append((relative, path))

    names = [name for name, _ in entries]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ConfigError(
            f"Two files would land at one place in the build context: {', '.join(duplicates)}.",
            "Rename the hash-files that collide with the plugin's ci-image/ directory.",
        )

    fd, name = tempfile.mkstemp(prefix="ci-image-context-", suffix=".tar", dir=directory)
    os.close(fd)
    target = Path(name)
    try:
        with target.open("wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            for arcname, source in sorted(entries, key=lambda entry: entry[0]):
                _add(tar, arcname, source)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def _add(tar: tarfile.TarFile, arcname: str, source: Path | bytes) -> None:
    info = tarfile.TarInfo(arcname)
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if isinstance(source, bytes):
        info.size = len(source)
        tar.addfile(info, io.BytesIO(source))
        return
    info.size = source.stat().st_size
    with source.open("rb") as stream:
        tar.addfile(info, stream)
