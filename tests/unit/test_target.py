"""The target: markers and wheel tags of the image, from plain settings, never from the host."""

from __future__ import annotations

import platform
import sys

import pytest

from packaging import tags

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target
from poetry_ci_image.settings.target import libc_of_base
from poetry_ci_image.settings.target import python_of_base
from poetry_ci_image.settings.target import resolve_target


ALL_MINORS = ("3.10", "3.11", "3.12", "3.13", "3.14")


def resolve(**settings: str) -> tuple[Target, str]:
    return resolve_target(
        python=settings.get("python"),
        platform=settings.get("platform"),
        libc=settings.get("libc"),
        base=settings.get("base"),
        allowed_minors=[m for m in settings.get("allowed", ",".join(ALL_MINORS)).split(",") if m],
        python_constraint=settings.get("constraint", ">=3.10,<4"),
        poetry_in_image=settings.get("poetry", "true") == "true",
    )


@pytest.mark.parametrize(
    ("settings", "python", "platform", "libc", "base"),
    [
        pytest.param({}, "3.10", "linux/amd64", "glibc 2.41", "python:3.10-slim", id="defaults"),
        pytest.param(
            {"python": "3.12"},
            "3.12",
            "linux/amd64",
            "glibc 2.41",
            "python:3.12-slim",
            id="python chooses the default base",
        ),
        pytest.param(
            {"base": "python:3.11-slim-bookworm"},
            "3.11",
            "linux/amd64",
            "glibc 2.36",
            "python:3.11-slim-bookworm",
            id="base chooses python and glibc",
        ),
        pytest.param(
            {"base": "python:3.13-alpine", "platform": "linux/arm64"},
            "3.13",
            "linux/arm64",
            "musl 1.2",
            "python:3.13-alpine",
            id="alpine base is musl",
        ),
        pytest.param(
            {"base": "registry.example/mirror/python:3.12.4-bullseye"},
            "3.12",
            "linux/amd64",
            "glibc 2.31",
            "registry.example/mirror/python:3.12.4-bullseye",
            id="mirrored python image with a patch version",
        ),
        pytest.param(
            {"base": "registry.example/team/base:7", "python": "3.11"},
            "3.11",
            "linux/amd64",
            "glibc 2.28",
            "registry.example/team/base:7",
            id="unknown base assumes an old glibc",
        ),
        pytest.param(
            {"base": "registry.example/team/base:7", "python": "3.11", "libc": "glibc 2.39"},
            "3.11",
            "linux/amd64",
            "glibc 2.39",
            "registry.example/team/base:7",
            id="libc overrides the guess",
        ),
        pytest.param(
            {"allowed": "3.12,3.13"},
            "3.12",
            "linux/amd64",
            "glibc 2.41",
            "python:3.12-slim",
            id="lowest minor the project allows",
        ),
    ],
)
def test_resolve_target(
    settings: dict[str, str], python: str, platform: str, libc: str, base: str
) -> None:
    """Unset settings come from the base image, then from the project's Python constraint."""
    target, resolved_base = resolve(**settings)
    assert (target.python_minor, target.platform, str(target.libc), resolved_base) == (
        python,
        platform,
        libc,
        base,
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param(
            {"python": "3.9"},
            "The target Python 3.9 is outside the project's Python constraint '>=3.10,<4'.",
            id="python outside the constraint",
        ),
        pytest.param(
            {"python": "3.12", "base": "python:3.11-slim"},
            "The target Python 3.12 does not match base image 'python:3.11-slim' (Python 3.11).",
            id="python and base disagree",
        ),
        pytest.param(
            {"platform": "windows/amd64"},
            "platform 'windows/amd64' is not supported.",
            id="unknown platform",
        ),
        pytest.param(
            {"python": "three"}, "python 'three' is not a CPython version.", id="bad python"
        ),
        pytest.param({"libc": "uclibc"}, "libc 'uclibc' is not understood.", id="bad libc"),
        pytest.param(
            {"allowed": ""},
            "The project's Python constraint '>=3.10,<4' allows no CPython 3.x release.",
            id="constraint allows nothing",
        ),
    ],
)
def test_resolve_target_errors(settings: dict[str, str], message: str) -> None:
    """Each bad setting gives one message that names it."""
    with pytest.raises(ConfigError) as raised:
        resolve(**settings)
    assert raised.value.message == message
    assert raised.value.hint


# Why a target Python is refused: the exact reason, whatever the project's constraint allows.
PYTHON_REFUSALS = [
    pytest.param(
        {"python": "3.99", "base": "python:3.99-slim", "constraint": ">=3.11,<4"},
        "The target Python 3.99 (python) is not a CPython release: the newest is 3.15.",
        id="a minor that does not exist, inside the constraint",
    ),
    pytest.param(
        {"base": "python:3.99-slim"},
        "The target Python 3.99 (the Python of base 'python:3.99-slim') is not a CPython "
        "release: the newest is 3.15.",
        id="a base that names a minor that does not exist",
    ),
    pytest.param(
        {"python": "3.16"},
        "The target Python 3.16 (python) is not released yet; the newest CPython is 3.15.",
        id="the minor in development",
    ),
    pytest.param(
        {"python": "3.7", "poetry": "false"},
        "The target Python 3.7 (python) is older than poetry-ci-image supports (3.8 to 3.15).",
        id="too old for the plugin",
    ),
    pytest.param(
        {"python": "3.8", "allowed": "3.8,3.9"},
        "Poetry runs on CPython 3.9 and later, and the target is 3.8: it cannot go into the image.",
        id="too old for Poetry in the image",
    ),
    pytest.param(
        {"python": "3.9"},
        "The target Python 3.9 is outside the project's Python constraint '>=3.10,<4'.",
        id="a real minor outside the constraint",
    ),
]


@pytest.mark.parametrize(("settings", "message"), PYTHON_REFUSALS)
def test_why_a_target_python_is_refused(settings: dict[str, str], message: str) -> None:
    """The message says the true reason: unknown, unreleased, too old, or the constraint."""
    with pytest.raises(ConfigError) as raised:
        resolve(**settings)
    assert raised.value.message == message
    assert raised.value.hint


def test_python_3_8_without_poetry_is_a_target() -> None:
    """3.8 is a target when Poetry stays out of the image."""
    target, _ = resolve(python="3.8", allowed="3.8,3.9", poetry="false")
    assert target.python_minor == "3.8"


def test_marker_env_is_the_targets_whatever_the_host() -> None:
    """Every PEP 508 marker variable is set for the target, none is read from the host."""
    env = Target((3, 12, 0), "linux/arm64", Libc("glibc", (2, 36))).marker_env()
    assert env == {
        "implementation_name": "cpython",
        "implementation_version": "3.12.0",
        "os_name": "posix",
        "platform_machine": "aarch64",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": "3.12.0",
        "platform_python_implementation": "CPython",
        "python_version": "3.12",
        "sys_platform": "linux",
        "version_info": (3, 12, 0, "final", 0),
        "interpreter_name": "cp",
        "interpreter_version": "312",
        "sysconfig_platform": "linux-aarch64",
        "free_threading": False,
    }


@pytest.mark.skipif(
    not (
        sys.platform == "linux"
        and platform.machine() == "x86_64"
        and sys.version_info[:2] == (3, 11)
        and platform.libc_ver() == ("glibc", "2.36")
    ),
    reason="compares with the tags of a CPython 3.11 on glibc 2.36 x86_64 host",
)
def test_tags_equal_those_of_a_real_interpreter_of_the_same_kind() -> None:
    """On a host that is the target, the computed tags are packaging's own, in the same order."""
    target = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36)))
    assert target.supported_tags() == list(tags.sys_tags())


def test_arm64_tags_start_at_manylinux2014() -> None:
    """aarch64 wheels exist from manylinux2014 (glibc 2.17) on; there is no manylinux1 alias."""
    target = Target((3, 12, 0), "linux/arm64", Libc("glibc", (2, 36)))
    platforms = [p for p in target.platform_tags() if p.startswith("manylinux")]
    assert platforms[0] == "manylinux_2_36_aarch64"
    assert platforms[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]


def test_musl_tags() -> None:
    """A musl target accepts musllinux wheels and no manylinux ones."""
    target = Target((3, 12, 0), "linux/amd64", Libc("musl", (1, 2)))
    platforms = target.platform_tags()
    assert "musllinux_1_2_x86_64" in platforms
    assert not any(p.startswith("manylinux") for p in platforms)


@pytest.mark.parametrize(
    ("base", "python"),
    [
        pytest.param("python:3.12", "3.12", id="plain"),
        pytest.param("python:3.12-slim", "3.12", id="slim"),
        pytest.param("docker.io/library/python:3.13-alpine3.20", "3.13", id="full name"),
        pytest.param("pythonic:3.12", None, id="another image"),
        pytest.param("python:latest", None, id="no version"),
    ],
)
def test_python_of_base(base: str, python: str | None) -> None:
    """Only `python:X.Y...` images say which Python they run."""
    assert python_of_base(base) == python


def test_libc_of_unknown_base_is_conservative() -> None:
    """A base the plugin cannot place gets glibc 2.28, so any wheel chosen runs on it."""
    assert libc_of_base("ubuntu-derived:1") == Libc("glibc", (2, 28))
