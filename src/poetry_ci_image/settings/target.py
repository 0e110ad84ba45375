"""The target: the interpreter and platform of the image, never those of the host.

A `Target` answers the two questions Poetry asks of an environment when it decides what to
install: the values of the PEP 508 environment markers, and the wheel tags the interpreter
accepts. Both are computed here from plain values (Python X.Y, architecture, libc), so the
fingerprint is the same whichever machine, OS or Python runs Poetry.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import ConfigError


if TYPE_CHECKING:
    from collections.abc import Iterable

    from packaging.tags import Tag


PLATFORMS = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
# CPython minors a target may be: 3.8 (the oldest with wheels for today's manylinux tags) to the
# newest release this version of the plugin knows; NEXT_MINOR is in development.
OLDEST_MINOR = 8
NEWEST_MINOR = 15
NEXT_MINOR = NEWEST_MINOR + 1
KNOWN_MINORS = tuple(f"3.{minor}" for minor in range(OLDEST_MINOR, NEXT_MINOR + 1))
# Poetry 2, which goes into the image unless poetry = false, runs on CPython 3.9 and later.
POETRY_OLDEST_MINOR = 9
DEFAULT_PLATFORM = "linux/amd64"

# glibc of the Debian and Ubuntu releases that official images are built on, by code name.
GLIBC_BY_CODENAME = {
    "buster": (2, 28),
    "bullseye": (2, 31),
    "bookworm": (2, 36),
    "trixie": (2, 41),
    "focal": (2, 31),
    "jammy": (2, 35),
    "noble": (2, 39),
}
# `python:X.Y`, `python:X.Y-slim` without a code name: Debian trixie since August 2025.
DEFAULT_PYTHON_IMAGE_GLIBC = (2, 41)
# Any other base: the oldest glibc of a supported Debian, so that whatever wheel is chosen runs.
UNKNOWN_BASE_GLIBC = (2, 28)
ALPINE_MUSL = (1, 2)

_PYTHON_IMAGE = re.compile(r"^(?:[^/]+/)*python:(?P<minor>\d+\.\d+)(?:\.\d+)?(?:-(?P<rest>.*))?$")
_PYTHON_VERSION = re.compile(r"^(?P<major>3)\.(?P<minor>\d+)(?:\.(?P<micro>\d+))?$")
_LIBC = re.compile(r"^(?P<family>glibc|musl)[ -]?(?P<major>\d+)\.(?P<minor>\d+)$")


@dataclass(frozen=True)
class Libc:
    family: str  # "glibc" or "musl"
    version: tuple[int, int]

    def __str__(self) -> str:
        return f"{self.family} {self.version[0]}.{self.version[1]}"


@dataclass(frozen=True)
class Target:
    """CPython X.Y on Linux for one architecture and libc."""

    python: tuple[int, int, int]
    platform: str  # "linux/amd64" or "linux/arm64"
    libc: Libc

    @property
    def python_minor(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def machine(self) -> str:
        return PLATFORMS[self.platform]

    @property
    def arch(self) -> str:
        return self.platform.split("/")[1]

    def describe(self) -> str:
        return f"CPython {self.python_minor} on {self.platform} ({self.libc})"

    def as_dict(self) -> dict[str, str]:
        return {
            "implementation": "cpython",
            "python": self.python_minor,
            "platform": self.platform,
            "libc": str(self.libc),
        }

    def marker_env(self) -> dict[str, Any]:
        """Every PEP 508 marker variable, for the target. Nothing comes from the host."""
        major, minor, micro = self.python
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{major}.{minor}.{micro}",
            "os_name": "posix",
            "platform_machine": self.machine,
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{major}.{minor}.{micro}",
            "platform_python_implementation": "CPython",
            "python_version": f"{major}.{minor}",
            "sys_platform": "linux",
            "version_info": (major, minor, micro, "final", 0),
            "interpreter_name": "cp",
            "interpreter_version": f"{major}{minor}",
            "sysconfig_platform": f"linux-{self.machine}",
            "free_threading": False,
        }

    def platform_tags(self) -> list[str]:
        """Platform tags, most specific first, as `packaging.tags` orders them on the target.

        The image's Poetry runs the host Poetry's `packaging`, so its order is followed: since
        packaging 26.3 the native `linux_<arch>` tag comes first, before that it came last.
        """
        machine = self.machine
        tags = self._libc_tags()
        if _native_linux_first():
            return [f"linux_{machine}", *tags]
        return [*tags, f"linux_{machine}"]

    def _libc_tags(self) -> list[str]:
        tags: list[str] = []
        machine = self.machine
        major, newest = self.libc.version
        if self.libc.family == "musl":
            tags += [f"musllinux_{major}_{m}_{machine}" for m in range(newest, -1, -1)]
        else:
            oldest = 17 if machine == "aarch64" else 5
            legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
            for m in range(newest, oldest - 1, -1):
                tags.append(f"manylinux_{major}_{m}_{machine}")
                if m in legacy and (machine == "x86_64" or m == 17):
                    tags.append(f"{legacy[m]}_{machine}")
        return tags

    def supported_tags(self) -> list[Tag]:
        """The wheel tags the target's CPython accepts, best first."""
        from packaging.tags import compatible_tags
        from packaging.tags import cpython_tags

        version = self.python[:2]
        platforms = self.platform_tags()
        return [
            *cpython_tags(version, platforms=platforms),
            *compatible_tags(version, f"cp{version[0]}{version[1]}", platforms),
        ]


def _native_linux_first() -> bool:
    import packaging

    from packaging.version import Version

    return Version(packaging.__version__) >= Version("26.3")


def python_of_base(base: str) -> str | None:
    """`3.12` for `python:3.12-slim` (or `docker.io/library/python:3.12`); None otherwise."""
    match = _PYTHON_IMAGE.match(base)
    return match["minor"] if match else None


def libc_of_base(base: str) -> Libc:
    """The libc a base image runs, guessed from its name; `libc` in the settings overrides it."""
    name = base.lower()
    if "alpine" in name:
        return Libc("musl", ALPINE_MUSL)
    for codename, version in GLIBC_BY_CODENAME.items():
        if codename in name:
            return Libc("glibc", version)
    if _PYTHON_IMAGE.match(base):
        return Libc("glibc", DEFAULT_PYTHON_IMAGE_GLIBC)
    return Libc("glibc", UNKNOWN_BASE_GLIBC)


def parse_libc(value: str) -> Libc:
    match = _LIBC.match(value.strip())
    if not match:
        raise ConfigError(
            f"libc '{value}' is not understood.",
            "Write it as 'glibc 2.36' or 'musl 1.2'.",
        )
    return Libc(match["family"], (int(match["major"]), int(match["minor"])))


def parse_python(value: str, source: str) -> tuple[int, int, int]:
    match = _PYTHON_VERSION.match(value.strip())
    if not match:
        raise ConfigError(
            f"{source} '{value}' is not a CPython version.",
            "Write it as X.Y, for example 3.12 (or X.Y.Z to pin the patch level for markers).",
        )
    return (3, int(match["minor"]), int(match["micro"] or 0))


def _check_release(minor: int, origin: str) -> None:
    """Refuse a CPython minor the plugin cannot build for, saying why."""
    newest = f"3.{NEWEST_MINOR}"
    if minor < OLDEST_MINOR:
        raise ConfigError(
            f"The target Python 3.{minor} ({origin}) is older than poetry-ci-image supports "
            f"(3.{OLDEST_MINOR} to {newest}).",
            f"Set python (or base) in [tool.poetry-ci-image] to 3.{OLDEST_MINOR} or later.",
        )
    if minor == NEXT_MINOR:
        raise ConfigError(
            f"The target Python 3.{minor} ({origin}) is not released yet; the newest CPython "
            f"is {newest}.",
            f"Set python (or base) in [tool.poetry-ci-image] to a released one, up to {newest}.",
        )
    if minor > NEXT_MINOR:
        raise ConfigError(
            f"The target Python 3.{minor} ({origin}) is not a CPython release: the newest is "
            f"{newest}.",
            f"Set python (or base) in [tool.poetry-ci-image] to a version from 3.{OLDEST_MINOR} "
            f"to {newest}.",
        )


def resolve_target(
    *,
    python: str | None,
    platform: str | None,
    libc: str | None,
    base: str | None,
    allowed_minors: Iterable[str],
    python_constraint: str,
    poetry_in_image: bool = True,
) -> tuple[Target, str]:
    """The target and the base image reference, from settings and the project's Python constraint.

    `allowed_minors` are the CPython X.Y versions the project's constraint allows, lowest first.
    """
    allowed = list(allowed_minors)
    platform = platform or DEFAULT_PLATFORM
    if platform not in PLATFORMS:
        raise ConfigError(
            f"platform '{platform}' is not supported.",
            f"Use one of: {', '.join(PLATFORMS)}.",
        )

    if python is not None:
        version = parse_python(python, "python")
        origin = "python"
    elif base is not None and (base_minor := python_of_base(base)) is not None:
        version = parse_python(base_minor, f"the Python of base '{base}'")
        origin = f"the Python of base '{base}'"
    elif allowed:
        version = parse_python(allowed[0], "python")
        origin = "the lowest Python the project allows"
    else:
        raise ConfigError(
            f"The project's Python constraint '{python_constraint}' allows no CPython 3.x release.",
            "Fix requires-python in pyproject.toml, or set python in [tool.poetry-ci-image].",
        )

    minor = f"{version[0]}.{version[1]}"
    base_minor = python_of_base(base) if base is not None else None
    if base_minor is not None and base_minor != minor:
        raise ConfigError(
            f"The target Python {minor} does not match base image '{base}' (Python {base_minor}).",
            "Set python and base to the same version, or leave one of them unset.",
        )
    _check_release(version[1], origin)
    if poetry_in_image and version[1] < POETRY_OLDEST_MINOR:
        raise ConfigError(
            f"Poetry runs on CPython 3.{POETRY_OLDEST_MINOR} and later, and the target is {minor}: "
            "it cannot go into the image.",
            "Set poetry = false in [tool.poetry-ci-image] (or --no-poetry), or a newer python.",
        )
    if minor not in allowed:
        raise ConfigError(
            f"The target Python {minor} is outside the project's Python constraint "
            f"'{python_constraint}'.",
            "Set python (or base) in [tool.poetry-ci-image] to a version the project supports.",
        )

    base = base or f"python:{minor}-slim"
    target_libc = parse_libc(libc) if libc is not None else libc_of_base(base)
    return Target(python=version, platform=platform, libc=target_libc), base
