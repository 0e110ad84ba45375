"""The build context: a tar with the Dockerfile and what it installs.

Two layouts (see dockerfile.py):

- the built-in Dockerfile gets the venvs' files ready-made, one tar per venv
  (`ci-image/venv.tar`, `ci-image/poetry-venv.tar`), installed on the host from the plan's
  wheels by venv_files.py;
- your own Dockerfile gets the documented contract: `ci-image/requirements.txt`,
  `ci-image/dists/`, `ci-image/pip.whl`, `ci-image/poetry-wheels/`.

Both get the `hash-files`. Files are streamed from where they lie into the tar, uncompressed
(wheels are zip files already), with fixed metadata, so the same inputs give the same context.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.digests import file_digest
from poetry_ci_image.dockerfile import CONTEXT_DIR
from poetry_ci_image.dockerfile import POETRY_HOME
from poetry_ci_image.dockerfile import VENV
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.venv_files import install_wheels


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Mapping
    from pathlib import Path
    from typing import BinaryIO


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

    def add_directory(self, arcname: str) -> None:
        info = tarfile.TarInfo(arcname)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        self._tar.addfile(info)

    def add_stream(self, arcname: str, stream: BinaryIO, size: int) -> None:
        self._tar.addfile(self._info(arcname, size, executable=False), stream)

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
                "Rename the hash-files that collide with the plugin's ci-image/ directory.",
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


def add_venvs(
    context: ContextTar, shipped: Iterable[Shipped], poetry_wheels: Path | None, python: str
) -> None:
    """The built-in layout: each venv's files as one tar, which the Dockerfile ADDs.

    One file for the engine to receive and unpack, rather than thousands to extract from the
    context and copy again: on the benchmark's webservice this cut the engine's part by a third.
    """
    shipped = sorted(shipped, key=lambda s: s.name)
    metadata = {s.path.name: {"direct_url.json": s.direct_url} for s in shipped if s.direct_url}
    if poetry_wheels is not None:
        wheels = sorted(poetry_wheels.glob("*.whl"))
        _add_venv_tar(context, "poetry-venv.tar", wheels, POETRY_HOME, python, {})
    _add_venv_tar(context, "venv.tar", [s.path for s in shipped], VENV, python, metadata)


def _add_venv_tar(
    context: ContextTar,
    name: str,
    wheels: list[Path],
    venv: str,
    python: str,
    metadata: Mapping[str, Mapping[str, bytes]],
) -> None:
    with tempfile.TemporaryFile() as raw:
        with tarfile.open(fileobj=raw, mode="w") as tar:
            inner = ContextTar(tar)
            # Never an empty archive, even for an empty plan: ADD unpacks only what is a tar.
            inner.add_directory(f"lib/python{python}/site-packages")
            install_wheels(
                wheels, inner.add, prefix=".", venv=venv, python=python, metadata=metadata
            )
        size = raw.tell()
        raw.seek(0)
        context.add_stream(f"{CONTEXT_DIR}/{name}", raw, size)


def add_pip_contract(
    context: ContextTar, shipped: Iterable[Shipped], pip_wheel: Path, poetry_wheels: Path | None
) -> None:
    """Your own Dockerfile's layout: the locked files, their requirements, a pip to run."""
    shipped = sorted(shipped, key=lambda s: s.name)
    context.add(f"{CONTEXT_DIR}/requirements.txt", requirements(shipped).encode())
    context.add(f"{CONTEXT_DIR}/pip.whl", pip_wheel)
    for item in shipped:
        context.add(f"{CONTEXT_DIR}/dists/{item.path.name}", item.path)
    if poetry_wheels is not None:
        for wheel in sorted(poetry_wheels.glob("*.whl")):
            context.add(f"{CONTEXT_DIR}/poetry-wheels/{wheel.name}", wheel)


def add_hash_files(context: ContextTar, hash_files: Iterable[Path], project_dir: Path) -> None:
    for path in sorted(hash_files):
        relative = os.path.relpath(path, project_dir).replace(os.sep, "/")
        if relative.startswith("../"):
            raise ConfigError(
                f"hash-files entry {relative} lies outside the project.",
                "List files inside the project directory.",
            )
        context.add(relative, path)


def requirements(shipped: Iterable[Shipped]) -> str:
    """`name==version --hash=sha256:...` per file, for `pip install --require-hashes`."""
    lines = [
        f"{item.name}=={item.version} --hash=sha256:{file_digest(item.path)}"
        for item in sorted(shipped, key=lambda s: s.name)
    ]
    return "\n".join(lines) + "\n"
