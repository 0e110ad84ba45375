"""Real wheels from the package index, for CPython 3.11 on manylinux (glibc) x86_64 and aarch64,
and on musllinux; and real sdists and pure-Python wheels.

Tests that build for linux/amd64, linux/arm64 or a musl system need a package with a compiled
extension for each; pip downloads them on the host, with the machine's pip configuration (its index,
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


# libc -> the wheel platform tags pip may pick, for a machine name
PLATFORM_TAGS = {
    "glibc": ("manylinux_2_17_{}", "manylinux2014_{}"),
    "musl": ("musllinux_1_2_{}", "musllinux_1_1_{}"),
}


class WheelDownloadError(RuntimeError):
    """pip could not download the wheel of a requirement for a platform."""


def wheel_cache() -> Path:
    """Where downloaded wheels are kept between sessions."""
    return Path(os.environ.get("CI_IMAGE_STATE") or DEFAULT_STATE) / "wheels"


def real_wheels(
    destination: Path, requirement: str, platforms: Sequence[str], libc: str = "glibc"
) -> list[Path]:
    """Copy the wheels of ``requirement`` (pinned, e.g. ``markupsafe==3.0.2``) for each of
    ``platforms`` (``x86_64``/``aarch64`` or ``linux/amd64``/``linux/arm64``) and ``libc``
    (``glibc``: manylinux wheels, ``musl``: musllinux ones) into ``destination``; return their
    paths, in the order of ``platforms``."""
    destination.mkdir(parents=True, exist_ok=True)
    copied: list[Path] = []
    for platform in platforms:
        try:
            arch = ARCHES[platform]
        except KeyError:
            known = ", ".join(ARCHES)
            raise ValueError(f"unknown platform {platform!r}; known: {known}") from None
        for wheel in _cached_wheels(requirement, arch, libc):
            target = destination / wheel.name
            shutil.copy2(wheel, target)
            copied.append(target)
    return copied


def real_distribution(destination: Path, requirement: str, kind: str) -> Path:
    """Copy the distribution of ``requirement`` (pinned) into ``destination``: its sdist
    (``kind="sdist"``) or its pure-Python wheel (``kind="wheel"``); return its path."""
    options = {"sdist": "--no-binary=:all:", "wheel": "--only-binary=:all:"}
    if kind not in options:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(options)}")
    slot = wheel_cache() / kind / re.sub(r"[^A-Za-z0-9._=-]+", "_", requirement)
    found = sorted(slot.glob("*"))
    if not found:
        slot.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=slot.parent, prefix=".download-") as scratch:
            downloaded = Path(scratch) / "files"
            _pip(["download", options[kind], "--no-deps", "--dest", str(downloaded), requirement])
            files = sorted(downloaded.iterdir())
            if len(files) != 1 or (kind == "wheel" and not files[0].name.endswith("-any.whl")):
                raise WheelDownloadError(
                    f"pip download of the {kind} of {requirement} gave {[f.name for f in files]}"
                )
            try:
                downloaded.rename(slot)
            except OSError:
                if not any(slot.iterdir()):  # not filled by someone else meanwhile
                    raise
        found = sorted(slot.glob("*"))
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / found[0].name
    shutil.copy2(found[0], target)
    return target


def _cached_wheels(requirement: str, arch: str, libc: str) -> list[Path]:
    """The wheels of ``requirement`` for ``arch`` and ``libc`` in the cache, downloaded if
    absent."""
    try:
        tags = PLATFORM_TAGS[libc]
    except KeyError:
        raise ValueError(f"unknown libc {libc!r}; known: {', '.join(PLATFORM_TAGS)}") from None
    folder = arch if libc == "glibc" else f"{arch}-{libc}"
    slot = wheel_cache() / folder / re.sub(r"[^A-Za-z0-9._=-]+", "_", requirement)
    found = sorted(slot.glob("*.whl"))
    if found:
        return found
    slot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=slot.parent, prefix=".download-") as scratch:
        downloaded = Path(scratch) / "wheels"
        _download(requirement, [tag.format(arch) for tag in tags], downloaded)
        wheels = sorted(downloaded.glob("*.whl"))
        policy = tags[0].split("_", 1)[0]  # manylinux or musllinux
        wrong = [
            wheel.name
            for wheel in wheels
            if not wheel.name.endswith(f"_{arch}.whl") or f"-{policy}" not in wheel.name
        ]
        if not wheels or wrong:
            raise WheelDownloadError(
                f"pip download of {requirement} for {policy} {arch} gave"
                f" {wrong or 'no wheel'}, not only {policy} *_{arch}.whl"
            )
        try:
            downloaded.rename(slot)
        except OSError:
            if not any(slot.glob("*.whl")):  # not filled by someone else meanwhile
                raise
    return sorted(slot.glob("*.whl"))


def _pip(arguments: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise WheelDownloadError(
            f"pip {' '.join(arguments)} failed (exit {result.returncode}):\n"
            + (result.stderr.strip() or result.stdout.strip())
        )


def _download(requirement: str, platforms: Sequence[str], directory: Path) -> None:
    _pip(
        [
            "download",
            "--only-binary=:all:",
            "--no-deps",
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--abi",
            ABI,
            *(option for platform in platforms for option in ("--platform", platform)),
            "--dest",
            str(directory),
            requirement,
        ]
    )
