"""Compiled code built on the host goes into the image only when the host builds for the target;
a failed build is said by the lines that say why, remembered for that file and host, and
answered with the cheapest way out when there is one."""

from __future__ import annotations

import platform
import sys

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from poetry_ci_image.errors import FetchError
from poetry_ci_image.poetry.builds import check_built
from poetry_ci_image.poetry.builds import failed_before
from poetry_ci_image.poetry.builds import host_mismatch
from poetry_ci_image.poetry.builds import pythons_with_wheels
from poetry_ci_image.poetry.builds import remember_failure
from poetry_ci_image.poetry.builds import telling_lines
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target
from poetry_ci_image.tag.plan import Distribution
from poetry_ci_image.tag.plan import PlannedPackage
from poetry_ci_image.tag.plan import Source


if TYPE_CHECKING:
    from pathlib import Path


def this_host() -> Target:
    """A target this host builds for (its Python, its machine, its glibc)."""
    machine = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}[platform.machine()]
    _, version = platform.libc_ver()
    major, minor = (int(part) for part in version.split(".")[:2])
    return Target(
        (sys.version_info[0], sys.version_info[1], 0), machine, Libc("glibc", (major, minor))
    )


LDAP = PlannedPackage(
    "python-ldap", "3.4.4", Source("pypi"), Distribution("python-ldap-3.4.4.tar.gz", "sha256:0")
)


def test_this_host_builds_for_a_target_like_it() -> None:
    assert host_mismatch(this_host()) is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        pytest.param({"python": (3, 8, 0)}, "Python (cpython", id="another CPython minor"),
        pytest.param({"libc": Libc("glibc", (2, 17))}, "C library (glibc", id="an older glibc"),
        pytest.param({"libc": Libc("musl", (1, 2))}, "C library (glibc", id="musl"),
    ],
)
def test_what_of_the_host_differs_is_named(change: dict[str, object], says: str) -> None:
    mismatch = host_mismatch(replace(this_host(), **change))  # type: ignore[arg-type]
    assert mismatch is not None
    assert says in mismatch


def test_a_compiled_wheel_built_here_goes_in_when_the_host_builds_for_the_target(
    tmp_path: Path,
) -> None:
    """The host's own platform tag is one the target takes: accepted; for another target the
    same wheel is the host's binary: refused, naming what differs."""
    target = this_host()
    minor = f"cp{target.python[0]}{target.python[1]}"
    wheel = tmp_path / f"python_ldap-3.4.4-{minor}-{minor}-linux_{target.machine}.whl"
    check_built(wheel, LDAP, target)
    other = replace(target, python=(3, 8, 0))
    with pytest.raises(FetchError) as raised:
        check_built(wheel, LDAP, other)
    assert "whose Python (" in raised.value.message
    assert "the recipe for compiled dependencies" in str(raised.value.hint)


def test_the_lines_that_say_why_a_build_failed() -> None:
    """setuptools' banners left out; the output up to the last error line, not its trailer."""
    output = [
        "running build_ext",
        "*" * 80,
        "        !!",
        "        Please avoid running ``setup.py`` directly.",
        "        ********************************************************************************",
        "building '_ldap' extension",
        "Modules/constants.h:7:10: fatal error: lber.h: No such file or directory",
        "compilation terminated.",
        "error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1",
        "hint: See above for output from the failure.",
    ]
    assert telling_lines(output) == [
        "running build_ext",
        "        Please avoid running ``setup.py`` directly.",
        "building '_ldap' extension",
        "Modules/constants.h:7:10: fatal error: lber.h: No such file or directory",
        "compilation terminated.",
        "error: command '/usr/bin/x86_64-linux-gnu-gcc' failed with exit code 1",
    ]


def test_a_failed_build_is_remembered_for_that_file_and_host(tmp_path: Path) -> None:
    target = this_host()
    assert failed_before(tmp_path, LDAP, target) is None
    remember_failure(tmp_path, LDAP, target, FetchError("it failed", "do this"))
    again = failed_before(tmp_path, LDAP, target)
    assert again is not None
    assert again.message.startswith("it failed\n(As the last build of this file on this host")
    assert again.hint == "do this"
    other = replace(LDAP, distribution=Distribution("python-ldap-3.4.5.tar.gz", "sha256:1"))
    assert failed_before(tmp_path, other, target) is None


def test_the_pythons_for_which_every_package_without_a_wheel_has_one() -> None:
    """secp256k1 0.14.0 has wheels up to CPython 3.10: a 3.10 target needs no build."""
    target = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36)))
    files = {
        "secp256k1": [
            "secp256k1-0.14.0.tar.gz",
            "secp256k1-0.14.0-cp39-cp39-manylinux_2_17_x86_64.whl",
            "secp256k1-0.14.0-cp310-cp310-manylinux_2_17_x86_64.whl",
            "secp256k1-0.14.0-cp310-cp310-macosx_11_0_arm64.whl",
        ],
        "pure-only-sdist": ["pure_only_sdist-1.0.tar.gz"],
    }
    assert pythons_with_wheels(
        {"secp256k1": files["secp256k1"]}, target, ["3.9", "3.10", "3.11", "3.12"]
    ) == ["3.9", "3.10"]
    assert pythons_with_wheels(files, target, ["3.9", "3.10"]) == []
