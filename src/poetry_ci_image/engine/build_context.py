"""Your own Dockerfile's build context: a tar with the Dockerfile and what it installs.

The documented contract (see dockerfile.py): `ci-image/requirements.txt`, `ci-image/dists/`,
`ci-image/pip.whl`, `ci-image/poetry-wheels/`, and the `hash-files`. Files are streamed from
where they lie into the tar, uncompressed (wheels are zip files already), with fixed metadata,
so the same inputs give the same context.
"""

from __future__ import annotations

import io
import os
import tarfile

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.engine.dockerfile import CONTEXT_DIR
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.oci import file_digest


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Sequence
    from pathlib import Path


@dataclass(frozen=True)
class Shipped:
    """A distribution file of the plan, and its requirements line's name and version."""

    name: str
    version: str
    path: Path
    direct_url: bytes | None = None  # dist-info/direct_url.json for git and url dependencies


class ContextTar:
    """Adds files to the context tar; two files at one path is an error."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self._tar = tar
        self._names: set[str] = set()

    def add(self, arcname: str, source: Path | bytes, executable: bool = False) -> None:
        if isinstance(source, bytes):
            self._tar.addfile(self._info(arcname, len(source), executable), io.BytesIO(source))
            return
        with source.open("rb") as stream:
            self._tar.addfile(self._info(arcname, source.stat().st_size, executable), stream)

    def _info(self, arcname: str, size: int, executable: bool) -> tarfile.TarInfo:
        if arcname in self._names:
            raise ConfigError(
                f"Two files would land at one place in the build context: {arcname}.",
                "This is a bug in poetry-ci-image: report it, with your [tool.poetry-ci-image].",
            )
        self._names.add(arcname)
        info = tarfile.TarInfo(arcname)
        info.size = size
        info.mode = 0o755 if executable else 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info


def write_context(dockerfile: str, contents: Callable[[ContextTar], None], workdir: Path) -> Path:
    """Write the context to a .tar in `workdir` and return its path."""
    target = workdir / "context.tar"
    try:
        with target.open("wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            context = ContextTar(tar)
            context.add("Dockerfile", dockerfile.encode())
            contents(context)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def add_pip_contract(
    context: ContextTar,
    shipped: Iterable[Shipped],
    pip_wheel: Path,
    poetry_wheels: Sequence[Path] | None,
) -> None:
    """Your own Dockerfile's layout: the locked files, their requirements, a pip to run."""
    shipped = sorted(shipped, key=lambda s: s.name)
    context.add(f"{CONTEXT_DIR}/requirements.txt", requirements(shipped).encode())
    context.add(f"{CONTEXT_DIR}/pip.whl", pip_wheel)
    for item in shipped:
        context.add(f"{CONTEXT_DIR}/dists/{item.path.name}", item.path)
    if poetry_wheels is not None:
        for wheel in sorted(poetry_wheels, key=lambda path: path.name):
            context.add(f"{CONTEXT_DIR}/poetry-wheels/{wheel.name}", wheel)


def add_hash_files(context: ContextTar, hash_files: Iterable[Path], project_dir: Path) -> None:
    for path in sorted(hash_files):
        relative = os.path.relpath(path, project_dir).replace(os.sep, "/")
        if relative.startswith("../"):
            raise ConfigError(
                f"hash-files entry {relative} lies outside the project.",
                "List files inside the project directory.",
            )
        if relative == "Dockerfile" or relative.startswith(f"{CONTEXT_DIR}/"):
            raise ConfigError(
                f"hash-files entry {relative} collides with the build context's own "
                f"{'Dockerfile' if relative == 'Dockerfile' else CONTEXT_DIR + '/ directory'}.",
                "Move the file (or rename the directory) and list its new path in hash-files.",
            )
        context.add(relative, path)


def requirements(shipped: Iterable[Shipped]) -> str:
    """`name==version --hash=sha256:...` per file, for `pip install --require-hashes`."""
    lines = [
        f"{item.name}=={item.version} --hash=sha256:{file_digest(item.path)}"
        for item in sorted(shipped, key=lambda s: s.name)
    ]
    return "\n".join(lines) + "\n"
