"""What the builder learns of the base from its registry (it never runs it), and what it refuses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.fake_registry import DEBIAN_FILES
from tests.support.fake_registry import FakeRegistry
from tests.support.fake_registry import add_base
from tests.support.fake_registry import layer_of

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.base_files import BaseFacts
from poetry_ci_image.image.base_files import facts_of
from poetry_ci_image.image.base_files import scan_layers
from poetry_ci_image.image.base_image import base_facts
from poetry_ci_image.image.base_image import check_base
from poetry_ci_image.image.base_image import resolve_base
from poetry_ci_image.image.base_image import wheel_libc
from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.reference import parse_image
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target
from poetry_ci_image.tag.plan import Distribution
from poetry_ci_image.tag.plan import InstallPlan
from poetry_ci_image.tag.plan import PlannedPackage
from poetry_ci_image.tag.plan import Source


if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TARGET = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36)))


def facts(*layers: Mapping[str, bytes | str], path: str = PATH) -> BaseFacts:
    return facts_of(scan_layers([[layer_of(files)] for files in layers]), path)


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        pytest.param(
            [DEBIAN_FILES],
            BaseFacts(
                {"3.11": "/usr/bin/python3.11"},
                {},
                Libc("glibc", (2, 36)),
                "Debian GNU/Linux 12 (bookworm)",
                libraries=("/usr/lib/x86_64-linux-gnu/libc.so.6",),
                links=(("/bin", "/usr/bin"),),
            ),
            id="Debian: python3.11 on PATH, glibc from libc.so.6",
        ),
        pytest.param(
            [
                {
                    "usr/lib/x86_64-linux-gnu/libc.so.6": "libc-2.31.so",
                    "usr/lib/x86_64-linux-gnu/libc-2.31.so": b"\x7fELF",
                    "usr/local/bin/python3.12": b"\x7fELF",
                    "usr/local/bin/python3": "python3.12",
                },
            ],
            BaseFacts(
                {"3.12": "/usr/local/bin/python3.12"},
                {},
                Libc("glibc", (2, 31)),
                "",
                libraries=(
                    "/usr/lib/x86_64-linux-gnu/libc-2.31.so",
                    "/usr/lib/x86_64-linux-gnu/libc.so.6",
                ),
            ),
            id="bullseye-like: libc.so.6 links to libc-2.31.so; Python in /usr/local/bin",
        ),
        pytest.param(
            [
                {
                    "lib/ld-musl-x86_64.so.1": b"\x7fELF",
                    "usr/bin/python3.12": b"\x7fELF",
                    "lib/apk/db/installed": b"P:musl\nV:1.2.5-r0\nA:x86_64\n\n"
                    b"P:python3\nV:3.12.8-r1\nA:x86_64\n",
                    "etc/os-release": b'PRETTY_NAME="Alpine Linux v3.21"\nID=alpine\n'
                    b"VERSION_ID=3.21.2\n",
                },
            ],
            BaseFacts(
                {"3.12": "/usr/bin/python3.12"},
                {"3.12": "3.12.8"},
                Libc("musl", (1, 2)),
                "Alpine Linux v3.21",
                "alpine",
                "3.21.2",
                (("musl", "1.2.5-r0", "x86_64"), ("python3", "3.12.8-r1", "x86_64")),
                ("/lib/ld-musl-x86_64.so.1",),
            ),
            id="Alpine: musl's loader and the apk database",
        ),
        pytest.param(
            [DEBIAN_FILES, {"usr/bin/.wh.python3.11": b"", "usr/bin/python3.12": b"\x7fELF"}],
            BaseFacts(
                {"3.12": "/usr/bin/python3.12"},
                {},
                Libc("glibc", (2, 36)),
                "Debian GNU/Linux 12 (bookworm)",
                libraries=("/usr/lib/x86_64-linux-gnu/libc.so.6",),
                links=(("/bin", "/usr/bin"),),
            ),
            id="a later layer removes one Python (whiteout) and adds another",
        ),
        pytest.param(
            [
                {
                    "var/lib/dpkg/status": b"Package: libc6\nStatus: install ok installed\n"
                    b"Architecture: amd64\nVersion: 2.36-9+deb12u7\n\n"
                    b"Package: python3.11-minimal\nStatus: install ok installed\n"
                    b"Architecture: amd64\nVersion: 3.11.2-6+deb12u6\n\n"
                    b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
                    "usr/bin/python3.11": b"\x7fELF",
                },
            ],
            BaseFacts(
                {"3.11": "/usr/bin/python3.11"},
                {"3.11": "3.11.2"},
                Libc("glibc", (2, 36)),
                "",
                packages=(
                    ("libc6", "2.36-9+deb12u7", "amd64"),
                    ("python3.11-minimal", "3.11.2-6+deb12u6", "amd64"),
                ),
            ),
            id="versions from dpkg's database when the files do not say",
        ),
    ],
)
def test_facts_of_the_base_files(
    layers: list[Mapping[str, bytes | str]], expected: BaseFacts
) -> None:
    """The Pythons on PATH, the Python's version, the libc and the OS, from the layers alone."""
    assert facts(*layers) == expected


def test_a_python_off_the_path_does_not_count() -> None:
    """A python3.12 in /opt/tools/bin is not the base's Python when PATH does not name it."""
    found = facts({"opt/tools/bin/python3.12": b"\x7fELF", **DEBIAN_FILES})
    assert found.pythons == {"3.11": "/usr/bin/python3.11"}


def test_base_is_resolved_for_the_platform_from_an_index() -> None:
    """An index lists both platforms: the target's manifest, config and layers are picked."""
    registry = FakeRegistry()
    name = add_base(registry, platforms=("linux/amd64", "linux/arm64"))
    arm = resolve_base(registry, parse_image(name), "linux/arm64")
    amd = resolve_base(registry, parse_image(name), "linux/amd64")
    assert arm.config["architecture"] == "arm64"
    assert amd.config["architecture"] == "amd64"
    assert arm.digest != amd.digest


def test_a_base_without_the_platform_says_what_it_offers() -> None:
    """An amd64-only base for an arm64 target: one message naming what there is."""
    registry = FakeRegistry()
    name = add_base(registry)
    with pytest.raises(ConfigError) as raised:
        resolve_base(registry, parse_image(name), "linux/arm64")
    assert raised.value.message == f"The base image {name} is for linux/amd64, not linux/arm64."


def test_facts_are_read_once_per_base_digest(tmp_path: Path) -> None:
    """The second time, the facts come from the cache: no layer is downloaded."""
    registry = FakeRegistry()
    base = resolve_base(registry, parse_image(add_base(registry)), "linux/amd64")
    first = base_facts(base, registry, BuildCache(tmp_path, tmp_path).facts)
    registry.calls.clear()
    assert base_facts(base, registry, BuildCache(tmp_path, tmp_path).facts) == first
    assert registry.calls == []


def plan(*files: str) -> InstallPlan:
    return InstallPlan(
        packages=tuple(
            PlannedPackage(
                name.split("-")[0], "1.0", Source("pypi"), Distribution(name, "sha256:0")
            )
            for name in sorted(files)
        ),
        groups=("main",),
        extras=(),
    )


def base_and_facts(
    libc: Libc | None, python: dict[str, str] | None = None
) -> tuple[object, BaseFacts]:
    registry = FakeRegistry()
    base = resolve_base(registry, parse_image(add_base(registry)), "linux/amd64")
    return base, BaseFacts(
        python or {"3.11": "/usr/bin/python3.11"}, {"3.11": "3.11.2"}, libc, "Debian"
    )


def test_the_venv_links_to_the_bases_python() -> None:
    """The base's python3.11 and its full version become the venv's interpreter."""
    base, found = base_and_facts(Libc("glibc", (2, 36)))
    python = check_base(base, found, TARGET, plan("beta-1.0-py3-none-any.whl"))  # type: ignore[arg-type]
    assert (python.executable, python.version, python.home) == (
        "/usr/bin/python3.11",
        "3.11.2",
        "/usr/bin",
    )


def test_a_base_with_another_python_is_refused_before_anything_is_built() -> None:
    """A base that runs Python 3.12 for a 3.11 target: one message with the Pythons found."""
    base, found = base_and_facts(Libc("glibc", (2, 36)), {"3.12": "/usr/local/bin/python3.12"})
    with pytest.raises(ConfigError) as raised:
        check_base(base, found, TARGET, plan())  # type: ignore[arg-type]
    assert "has no Python 3.11 on its PATH (Pythons found: 3.12 (/usr/local/bin/python3.12))" in (
        raised.value.message
    )


def test_wheels_for_a_newer_glibc_than_the_base_has_are_refused() -> None:
    """A python:3.11-slim that is bookworm (glibc 2.36) and a wheel for glibc 2.39: refused."""
    assumed = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 41)))
    base, found = base_and_facts(Libc("glibc", (2, 36)))
    wheels = plan(
        "numpy-2.3.0-cp311-cp311-manylinux_2_39_x86_64.whl",
        "beta-1.0-py3-none-any.whl",
        "orjson-3.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    )
    with pytest.raises(ConfigError) as raised:
        check_base(base, found, assumed, wheels)  # type: ignore[arg-type]
    assert raised.value.message.endswith(
        "has glibc 2.36 (Debian), older than the tag assumes (glibc 2.41): numpy 1.0 "
        "(numpy-2.3.0-cp311-cp311-manylinux_2_39_x86_64.whl needs glibc 2.39)."
    )
    assert raised.value.hint is not None
    assert 'Set libc = "glibc 2.36"' in raised.value.hint


def test_a_newer_assumption_whose_wheels_all_run_is_fine() -> None:
    """glibc 2.41 assumed, 2.36 there, every wheel needs at most 2.17: nothing to refuse, and
    the venv gets the base's Python."""
    assumed = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 41)))
    base, found = base_and_facts(Libc("glibc", (2, 36)))
    wheels = plan("orjson-3.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    python = check_base(base, found, assumed, wheels)  # type: ignore[arg-type]
    assert (python.executable, python.version, python.home) == (
        "/usr/bin/python3.11",
        "3.11.2",
        "/usr/bin",
    )


def test_a_musl_base_for_a_glibc_tag_is_refused() -> None:
    """The base runs musl, the tag chose glibc wheels: refused, saying to set libc."""
    base, found = base_and_facts(Libc("musl", (1, 2)))
    with pytest.raises(ConfigError) as raised:
        check_base(base, found, TARGET, plan())  # type: ignore[arg-type]
    assert "runs musl 1.2, but the tag assumes glibc 2.36" in raised.value.message


@pytest.mark.parametrize(
    ("filename", "family", "needs"),
    [
        pytest.param("a-1-py3-none-any.whl", "glibc", None, id="pure"),
        pytest.param("a-1-cp311-cp311-manylinux_2_28_x86_64.whl", "glibc", (2, 28), id="pep 600"),
        pytest.param(
            "a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "glibc",
            (2, 17),
            id="two tags: the older",
        ),
        pytest.param("a-1-cp311-cp311-manylinux1_x86_64.whl", "glibc", (2, 5), id="manylinux1"),
        pytest.param("a-1-cp311-cp311-musllinux_1_2_x86_64.whl", "musl", (1, 2), id="musl"),
        pytest.param("a-1-cp311-cp311-linux_x86_64.whl", "glibc", None, id="plain linux tag"),
        pytest.param("a-1.tar.gz", "glibc", None, id="an sdist"),
    ],
)
def test_wheel_libc(filename: str, family: str, needs: tuple[int, int] | None) -> None:
    """The oldest libc a wheel's platform tags say it runs on."""
    assert wheel_libc(filename, family) == needs
