"""Real wheels from the package index, for CPython 3.11 on manylinux x86_64 and aarch64.

Tests that build for linux/amd64 and linux/arm64 need a package with a compiled extension
for each; pip downloads them on the host, with the machine's pip configuration (its index,
certificates and find-links), into a cache that outlives the session
(``$CI_IMAGE_STATE/wheels``, by default /var/tmp/poetry-ci-image/wheels), so later sessions do
not download them again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

from pathlib import Path
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Sequence


DEFAULT_STATE = Path("/var/tmp/poetry-ci-image")  # $STATE of .ci/engine
PYTHON_VERSION = "3.11"
ABI = "cp311"

# What a platform may be called here -> the machine name in manylinux wheel tags.
ARCHES = {
    "x86_64": "x86_64",
    "aarch64": "aarch64",
    "linux/amd64": "x86_64",
    "linux/arm64": "aarch64",
}


class WheelDownloadError(RuntimeError):
    """pip could not download the wheel of a requirement for a platform."""


def wheel_cache() -> Path:
    """Where downloaded wheels are kept between sessions."""
    return Path(os.environ.get("CI_IMAGE_STATE") or DEFAULT_STATE) / "wheels"


def real_wheels(destination: Path, requirement: str, platforms: Sequence[str]) -> list[Path]:
    """Copy the wheels of ``requirement`` (pinned, e.g. ``markupsafe==3.0.2``) for each of
    ``platforms`` (``x86_64``/``aarch64`` or ``linux/amd64``/``linux/arm64``) into
    ``destination``; return their paths, in the order of ``platforms``."""
    destination.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    for platform in platforms:
        try:
            arch = ARCHES[platform]
        except KeyError:
            known = ", ".join(ARCHES)
            raise ValueError(f"unknown platform {platform!r}; known: {known}") from None
        for wheel in _cached_wheels(requirement, arch):
            target = destination / wheel.name
            shutil.copy2(wheel, target)
            copied.append(target)
    return copied


def _cached_wheels(requirement: str, arch: str) -> list[Path]:
    """The wheels of ``requirement`` for ``arch`` in the cache, downloaded if absent."""
    slot = wheel_cache() / arch / re.sub(r"[^A-Za-z0-9._=-]+", "_", requirement)
    found = sorted(slot.glob("*.whl"))
    if found:
        return found
    slot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=slot.parent, prefix=".download-") as scratch:
        downloaded = Path(scratch) / "wheels"
        _download(requirement, arch, downloaded)
        wheels = sorted(downloaded.glob("*.whl"))
        wrong = [wheel.name for wheel in wheels if not wheel.name.endswith(f"_{arch}.whl")]
        if not wheels or wrong:
            raise WheelDownloadError(
                f"pip download of {requirement} for manylinux {arch} gave"
                f" {wrong or 'no wheel'}, not only *_{arch}.whl"
            )
        try:
            downloaded.rename(slot)
        except OSError:
            if not any(slot.glob("*.whl")):  # not filled by someone else meanwhile
                raise
    return sorted(slot.glob("*.whl"))


def _download(requirement: str, arch: str, directory: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--no-deps",
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--abi",
        ABI,
        "--platform",
        f"manylinux_2_17_{arch}",
        "--platform",
        f"manylinux2014_{arch}",
        "--dest",
        str(directory),
        requirement,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise WheelDownloadError(
            f"pip could not download {requirement} for manylinux {arch}"
            f" (exit {result.returncode}):\n{result.stderr.strip() or result.stdout.strip()}"
        )
