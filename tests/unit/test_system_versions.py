"""Debian versions sort as dpkg sorts them: checked against `dpkg --compare-versions` itself."""

from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest

from poetry_ci_image.image.system.versions import Version
from poetry_ci_image.image.system.versions import compare
from poetry_ci_image.image.system.versions import satisfies


# Real versions of bookworm's archive and the corner cases of the rule.
VERSIONS = [
    "1.0~rc1",
    "1.0~~",
    "1.0~",
    "1.0",
    "1.00",
    "1.0-0",
    "1.0-1~bpo12+1",
    "1.0-1",
    "1.0-1+b1",
    "1.0a",
    "1.0+b1",
    "1.0.1",
    "1:0.1",
    "2:1.0",
    "0:1.0",
    "2.36-9+deb12u4",
    "2.36-9+deb12u10",
    "15.10-0+deb12u1",
    "15.14-0+deb12u1",
    "7.88.1-10+deb12u8",
    "1:2.39.5-0+deb12u2",
    "3.0.11-1~deb12u2",
    "3.0.15-1~deb12u1",
    "20230311",
    "2.9.14+dfsg-1.3~deb12u1",
    "4.4.1-1",
    "1.2.13.dfsg-1",
    "1.2.13-1",
]


def test_versions_sort_as_dpkg_sorts_them() -> None:
    """Every pair of the table compares as `dpkg --compare-versions` says."""
    if shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed here")
    disagreements = []
    for left, right in itertools.combinations(VERSIONS, 2):
        ours = compare(Version(left), Version(right))
        ours_word = "lt" if ours < 0 else "eq" if ours == 0 else "gt"
        dpkg_says = next(
            word
            for word in ("lt", "eq", "gt")
            if subprocess.run(
                ["dpkg", "--compare-versions", left, word, right], check=False
            ).returncode
            == 0
        )
        if ours_word != dpkg_says:
            disagreements.append(f"{left} {ours_word} {right}, dpkg: {dpkg_says}")
    assert disagreements == []


@pytest.mark.parametrize(
    ("version", "relation", "wanted", "expected"),
    [
        pytest.param("15.10-0+deb12u1", ">=", "15~beta1", True, id="a release satisfies >= a beta"),
        pytest.param("1.0~rc1", ">=", "1.0", False, id="a tilde sorts before the release"),
        pytest.param("1.0", "<<", "1.0+b1", True, id="a binNMU is later"),
        pytest.param("1.0", "=", "1.00", True, id="leading zeros do not count"),
        pytest.param("1.0", "=", "0:1.0-0", True, id="no epoch is epoch 0, no revision is 0"),
        pytest.param("1:0.1", ">>", "9.9", True, id="the epoch comes first"),
        pytest.param("2.0", "<=", "2.0", True, id="<= includes equal"),
        pytest.param("2.0", "<", "2.0", True, id="the obsolete < means <="),
    ],
)
def test_relations(version: str, relation: str, wanted: str, expected: bool) -> None:
    assert satisfies(Version(version), relation, Version(wanted)) is expected


def test_a_version_reads_back_as_written() -> None:
    version = Version("1:2.39.5-0+deb12u2")
    assert (version.epoch, version.upstream, version.revision) == (1, "2.39.5", "0+deb12u2")
    assert str(version) == "1:2.39.5-0+deb12u2"
    assert Version("2.9.14+dfsg-1.3~deb12u1").upstream == "2.9.14+dfsg"
