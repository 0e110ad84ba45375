"""Where system packages come from: apt's sources in both of their forms, as the base writes
them (the official images' deb822 file, debootstrap's one-line list), or as the settings give
them; and the relation fields of the archive's control format."""

from __future__ import annotations

import pytest

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.system.apt_sources import AptSource
from poetry_ci_image.image.system.apt_sources import configured_sources
from poetry_ci_image.image.system.apt_sources import deb822_sources
from poetry_ci_image.image.system.apt_sources import one_line_sources
from poetry_ci_image.image.system.control import ControlError
from poetry_ci_image.image.system.control import Relation
from poetry_ci_image.image.system.control import paragraphs
from poetry_ci_image.image.system.control import relation_of
from poetry_ci_image.image.system.control import relations
from poetry_ci_image.image.system.control import render
from poetry_ci_image.image.system.versions import Version


# As python:3.11-slim-bookworm writes /etc/apt/sources.list.d/debian.sources (hosts replaced).
OFFICIAL = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://archive.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://archive.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_the_official_images_deb822_sources() -> None:
    """One source per suite, each with its keyring."""
    keyring = ("/usr/share/keyrings/debian-archive-keyring.gpg",)
    assert deb822_sources(OFFICIAL) == [
        AptSource("http://archive.example/debian", "bookworm", ("main",), keyring),
        AptSource("http://archive.example/debian", "bookworm-updates", ("main",), keyring),
        AptSource(
            "http://archive.example/debian-security", "bookworm-security", ("main",), keyring
        ),
    ]


def test_one_line_sources_with_options_and_comments() -> None:
    text = (
        "# debootstrap's\n"
        "deb http://archive.example/debian bookworm main contrib\n"
        "deb-src http://archive.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] https://x.example/apt stable main\n"
    )
    assert one_line_sources(text) == [
        AptSource("http://archive.example/debian", "bookworm", ("main", "contrib"), ()),
        AptSource(
            "https://x.example/apt", "stable", ("main",), ("/etc/apt/keyrings/x.gpg",), ("amd64",)
        ),
    ]


def test_a_source_shows_no_credentials() -> None:
    (source,) = configured_sources(["deb https://user:token@mirror.example/debian bookworm main"])
    assert source.uri == "https://user:token@mirror.example/debian"
    assert source.label == "https://mirror.example/debian bookworm"
    assert source.url("InRelease").endswith("@mirror.example/debian/dists/bookworm/InRelease")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            "deb [trusted=yes] http://x.example/debian bookworm main",
            "system-sources line 1 is marked trusted=yes: apt would install from it unchecked, "
            "and the plugin installs only what a signature vouches for",
            id="an unsigned source",
        ),
        pytest.param(
            "deb http://x.example/debian ./",
            "system-sources line 1 is a flat repository (./), which is not supported",
            id="a flat repository",
        ),
        pytest.param(
            "deb file:/srv/debian bookworm main",
            "system-sources line 1 names file:/srv/debian: only http(s) archives work",
            id="a local archive",
        ),
        pytest.param(
            "rpm http://x.example/fedora 40 main",
            "system-sources line 1 is not a `deb` entry: 'rpm http://x.example/fedora 40 main'",
            id="not apt",
        ),
    ],
)
def test_sources_apt_would_not_use_are_refused(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        configured_sources([line])
    assert raised.value.message == (
        f"system-sources in [tool.poetry-ci-image] has an entry apt would not read: {message}."
    )


def test_relations_with_alternatives_versions_and_qualifiers() -> None:
    assert relations("libc6 (>= 2.34), libpq5 | libpq-dev (<< 16~) [amd64], python3:any") == [
        (Relation("libc6", ">=", Version("2.34")),),
        (Relation("libpq5"), Relation("libpq-dev", "<<", Version("16~"))),
        (Relation("python3", qualifier="any"),),
    ]
    assert relation_of("libpq5=15.10-0+deb12u1") == Relation(
        "libpq5", "=", Version("15.10-0+deb12u1")
    )
    with pytest.raises(ControlError):
        relation_of("LibPQ")


def test_paragraphs_round_trip_with_continuation_lines() -> None:
    text = "Package: tool\nDescription: one line\n second line\n .\n third\n\nPackage: other\n"
    first, second = paragraphs(text)
    assert first["Description"] == "one line\nsecond line\n.\nthird"
    assert render(first) == "Package: tool\nDescription: one line\n second line\n .\n third\n"
    assert second == {"Package": "other"}
