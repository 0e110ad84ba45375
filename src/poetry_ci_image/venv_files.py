"""A virtual environment's files, made on the host from wheels, for the build context.

Installing a wheel is unpacking it into the right places, writing launcher scripts and a RECORD;
the `installer` library (which Poetry itself installs with) does exactly that, to any
destination. Here the destination is the build context: each file lands at the path it will
have in the image's venv (`lib/pythonX.Y/site-packages/...`, `bin/...` with a
`#!<venv>/bin/python` shebang). The built-in Dockerfile creates the venv with the base's
Python and copies these files into it: no pip and no wheel in the image, and no container
started to install anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath

from typing import TYPE_CHECKING
from typing import BinaryIO

from installer.destinations import WheelDestination


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Mapping
    from pathlib import Path

    from installer.records import RecordEntry
    from installer.scripts import LauncherKind
    from installer.scripts import ScriptSection
    from installer.utils import Scheme

    from poetry_ci_image.plan import PlannedPackage


INSTALLER_NAME = b"poetry-ci-image\n"


def venv_schemes(venv: str, python: str) -> dict[str, str]:
    """Where each wheel scheme goes in a POSIX venv at `venv` for CPython `python` (X.Y)."""
    site_packages = f"{venv}/lib/python{python}/site-packages"
    return {
        "purelib": site_packages,
        "platlib": site_packages,
        "scripts": f"{venv}/bin",
        "data": venv,
        "headers": f"{venv}/include/site/python{python}",
    }


class ContextDestination(WheelDestination):
    """A wheel destination that hands each file to `add` at its path under `prefix`.

    `prefix` is where the venv's root sits in the build context (e.g. `ci-image/venv`);
    the files are addressed relative to `venv`, the venv's path in the image.
    """

    def __init__(
        self,
        add: Callable[[str, bytes, bool], None],
        *,
        prefix: str,
        venv: str,
        python: str,
        distribution: str,
    ) -> None:
        self._add = add
        self._prefix = prefix.rstrip("/")
        self._venv = venv
        self._schemes = venv_schemes(venv, python)
        self._schemes["headers"] += f"/{distribution}"
        self._interpreter = f"{venv}/bin/python"

    def _write(self, scheme: Scheme, path: str, data: bytes, executable: bool) -> RecordEntry:
        from installer.records import Hash
        from installer.records import RecordEntry

        root = self._schemes[scheme]
        target = posixpath.normpath(posixpath.join(root, path))
        if not (target == root or target.startswith(root + "/")):
            raise ValueError(f"{path} would be written outside {root}")
        self._add(f"{self._prefix}/{posixpath.relpath(target, self._venv)}", data, executable)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
        return RecordEntry(path, Hash("sha256", digest), len(data))

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        from installer.utils import fix_shebang

        if scheme == "scripts":
            with fix_shebang(stream, self._interpreter) as fixed:
                return self._write(scheme, os.fspath(path), fixed.read(), is_executable)
        return self._write(scheme, os.fspath(path), stream.read(), is_executable)

    def write_script(
        self, name: str, module: str, attr: str, section: ScriptSection
    ) -> RecordEntry:
        from installer.scripts import Script
        from installer.utils import Scheme

        kind: LauncherKind = "posix"
        script_name, data = Script(name, module, attr, section).generate(self._interpreter, kind)
        return self._write(Scheme("scripts"), script_name, data, True)

    def finalize_installation(
        self,
        scheme: Scheme,
        record_file_path: str,
        records: Iterable[tuple[Scheme, RecordEntry]],
    ) -> None:
        from installer.utils import construct_record_file

        def prefix_for_scheme(file_scheme: str) -> str | None:
            if file_scheme == scheme:
                return None
            return posixpath.relpath(self._schemes[file_scheme], self._schemes[scheme]) + "/"

        with construct_record_file(list(records), prefix_for_scheme) as stream:
            self._write(scheme, record_file_path, stream.read(), False)


def direct_url(package: PlannedPackage) -> bytes | None:
    """The `direct_url.json` Poetry writes for a git or url dependency, or None for the others.

    Poetry in the CI job compares it with the lock: without it, a git or url dependency looks
    like another package and is installed again. (A file dependency's URL is the absolute path
    of the job's checkout, unknown at build time, so it gets none.)
    """
    source = package.source
    if source.type == "git":
        reference: dict[str, object] = {
            "url": source.url,
            "vcs_info": {
                "vcs": "git",
                "requested_revision": source.reference,
                "commit_id": source.resolved_reference,
            },
        }
        if source.subdirectory:
            reference["subdirectory"] = source.subdirectory
    elif source.type == "url" and package.distribution is not None:
        algorithm, _, value = package.distribution.hash.partition(":")
        reference = {"url": source.url, "archive_info": {"hashes": {algorithm: value}}}
    else:
        return None
    return json.dumps(reference, sort_keys=True).encode()


def install_wheels(
    wheels: Iterable[Path],
    add: Callable[[str, bytes, bool], None],
    *,
    prefix: str,
    venv: str,
    python: str,
    metadata: Mapping[str, Mapping[str, bytes]] | None = None,
) -> None:
    """Install each wheel's files as they would lie in `venv`, handing them to `add`.

    `metadata` adds dist-info files per wheel file name (e.g. `direct_url.json`).
    """
    import warnings

    from installer import install
    from installer.sources import WheelFile

    for wheel in wheels:
        with WheelFile.open(wheel) as source, warnings.catch_warnings():
            # installer skips __pycache__ files some wheels ship, as pip does; no need to say so.
            warnings.filterwarnings("ignore", "Skip installing", RuntimeWarning)
            destination = ContextDestination(
                add, prefix=prefix, venv=venv, python=python, distribution=source.distribution
            )
            extra = {"INSTALLER": INSTALLER_NAME, **(metadata or {}).get(wheel.name, {})}
            install(source, destination, dict(extra))
