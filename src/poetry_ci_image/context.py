"""The build context: a tar with the Dockerfile and what it installs.

Two layouts (see dockerfile.py):

- the built-in Dockerfile gets the venvs' files ready-made (`ci-image/venv/`,
  `ci-image/poetry-venv/`), installed on the host from the plan's wheels by venv_files.py;
- your own Dockerfile gets the documented contract: `ci-image/requirements.txt`,
  `ci-image/dists/`, `ci-image/pip.whl`, `ci-image/poetry-wheels/`.

Both get the `hash-files`. Files are streamed from where they lie into the tar, uncompressed
(wheels are zip files already), with fixed metadata, so the same inputs give the same context.
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
from poetry_ci_image.dockerfile import POETRY_HOME
from poetry_ci_image.dockerfile import VENV
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.venv_files import install_wheels


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable


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

    def add(self, arcname: str, source: Path | bytes, executable: bool = False) -> None:
        if arcname in self._names:
            raise ConfigError(
                f"Two files would land at one place in the build context: {arcname}.",
                "Rename the hash-files that collide with the plugin's ci-image/ directory.",
            )
        self._names.add(arcname)
        info = tarfile.TarInfo(arcname)
        info.mode = 0o755 if executable else 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        if isinstance(source, bytes):
            info.size = len(source)
            self._tar.addfile(info, io.BytesIO(source))
            return
        info.size = source.stat().st_size
        with source.open("rb") as stream:
            self._tar.addfile(info, stream)


def write_context(dockerfile: str, contents: Callable[[ContextTar], None]) -> Path:
    """Write the context to a temporary .tar and return its path (the caller deletes it)."""
    fd, name = tempfile.mkstemp(prefix="ci-image-context-", suffix=".tar")
    os.close(fd)
    target = Path(name)
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
    """The built-in layout: the plan's venv and Poetry's venv, as their files."""

    def add(arcname: str, data: bytes, executable: bool) -> None:
        context.add(arcname, data, executable)

    shipped = sorted(shipped, key=lambda s: s.name)
    metadata = {s.path.name: {"direct_url.json": s.direct_url} for s in shipped if s.direct_url}
    context.add_directory(f"{CONTEXT_DIR}/venv")  # COPY needs it even for an empty plan
    install_wheels(
        [item.path for item in shipped],
        add,
        prefix=f"{CONTEXT_DIR}/venv",
        venv=VENV,
        python=python,
        metadata=metadata,
    )
    if poetry_wheels is not None:
        install_wheels(
            sorted(poetry_wheels.glob("*.whl")),
            add,
            prefix=f"{CONTEXT_DIR}/poetry-venv",
            venv=POETRY_HOME,
            python=python,
        )


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
