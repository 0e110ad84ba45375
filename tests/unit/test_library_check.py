"""A compiled file finds a library where the dynamic linker would look: its RUNPATH (else its
RPATH, `$ORIGIN` its own directory), then the directories the loader's configuration names, then
its system directories, through the base's directory links. A table of where a library is and
whether the file finds it."""

from __future__ import annotations

import pytest

from poetry_ci_image.image.elf import ElfFacts
from poetry_ci_image.image.library_check import Missing
from poetry_ci_image.image.library_check import loader_directories
from poetry_ci_image.image.library_check import missing_libraries
from poetry_ci_image.image.system.packages import library_packages


EXTENSION = "/opt/venv/lib/python3.11/site-packages/pglink/_ext.cpython-311-x86_64-linux-gnu.so"
MERGED_USR = {"/lib": "/usr/lib", "/lib64": "/usr/lib64"}
DIRECTORIES = loader_directories(
    "glibc",
    "x86_64",
    [
        ("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n"),
        (
            "/etc/ld.so.conf.d/x86_64-linux-gnu.conf",
            "# multiarch\n/usr/local/lib/x86_64-linux-gnu\n",
        ),
        ("/etc/ld.so.conf.d/vendor.conf", "/opt/vendor/lib\n"),
    ],
)


def facts(*needed: str, rpath: tuple[str, ...] = (), runpath: tuple[str, ...] = ()) -> ElfFacts:
    return ElfFacts("EM_X86_64", True, True, "", needed, rpath, runpath)


@pytest.mark.parametrize(
    ("elf", "present", "found"),
    [
        pytest.param(
            facts("libpq.so.5"),
            ["/usr/lib/x86_64-linux-gnu/libpq.so.5"],
            True,
            id="in the multiarch directory",
        ),
        pytest.param(
            facts("libpq.so.5"),
            ["/usr/lib/x86_64-linux-gnu/libpq.so.5.15"],
            False,
            id="only the real file, not the soname's link: not found",
        ),
        pytest.param(
            facts("libc.so.6"),
            ["/usr/lib/x86_64-linux-gnu/libc.so.6"],
            True,
            id="/lib/x86_64-linux-gnu is searched through the base's /lib link",
        ),
        pytest.param(
            facts("libgfortran-040039e1.so.5.0.0", runpath=("$ORIGIN/../numpy.libs",)),
            ["/opt/venv/lib/python3.11/site-packages/numpy.libs/libgfortran-040039e1.so.5.0.0"],
            True,
            id="auditwheel's bundled library through $ORIGIN",
        ),
        pytest.param(
            facts("libvendor.so.1"),
            ["/opt/vendor/lib/libvendor.so.1"],
            True,
            id="a directory the loader's configuration names",
        ),
        pytest.param(
            facts("libvendor.so.1"),
            ["/opt/elsewhere/libvendor.so.1"],
            False,
            id="a directory nothing names",
        ),
        pytest.param(
            facts("libx.so.1", rpath=("/opt/rpath",), runpath=("/opt/runpath",)),
            ["/opt/rpath/libx.so.1"],
            False,
            id="RUNPATH set: RPATH is not read",
        ),
        pytest.param(
            facts("/opt/abs/libabs.so"),
            ["/opt/abs/libabs.so"],
            True,
            id="a path, not a name",
        ),
    ],
)
def test_where_a_compiled_file_finds_a_library(
    elf: ElfFacts, present: list[str], found: bool
) -> None:
    missing = missing_libraries([("pglink", EXTENSION, elf)], present, DIRECTORIES, MERGED_USR)
    assert (missing == []) is found
    if not found:
        assert missing == [Missing("pglink", EXTENSION, elf.needed[0])]


def test_the_loaders_directories_in_order() -> None:
    """The configuration's directories first (its included files in name order, as their glob
    gives them), then the loader's system directories, each once."""
    assert DIRECTORIES == [
        "/opt/vendor/lib",
        "/usr/local/lib/x86_64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ]


@pytest.mark.parametrize(
    ("soname", "first"),
    [
        pytest.param("libpq.so.5", "libpq5", id="name and version joined"),
        pytest.param("libldap-2.5.so.0", "libldap-2.5-0", id="a name ending in a digit: a dash"),
        pytest.param("libxml2.so.2", "libxml2-2", id="the policy's name first, libxml2 next"),
    ],
)
def test_the_package_names_debian_gives_a_library(soname: str, first: str) -> None:
    """The names tried, in order, for the package that installs a library (each is checked
    against the archive's index and the .deb's files before it is suggested)."""
    names = library_packages(soname)
    assert names[0] == first
    assert soname.split(".so.")[0] in names
