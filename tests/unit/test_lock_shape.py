"""poetry.lock's shape as Poetry reads it: real locks pass; each damage a hand edit or a bad
merge makes is named, with the entry it is in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomlkit

from poetry_ci_image.poetry.lock_shape import lock_problem


LOCKS = Path(__file__).parent.parent / "fixtures" / "locks"
BASE = LOCKS / "base" / "poetry.lock"


def parsed(text: str) -> dict[str, Any]:
    """TOML as plain Python values, as Poetry's locker reads poetry.lock."""
    data: dict[str, Any] = tomlkit.parse(text).unwrap()
    return data


def edited(old: str, new: str) -> dict[str, Any]:
    """The base fixture's lock with the first `old` replaced by `new`, parsed."""
    text = BASE.read_text()
    assert old in text
    return parsed(text.replace(old, new, 1))


@pytest.mark.parametrize("lock", sorted(LOCKS.glob("*/poetry.lock")), ids=lambda p: p.parent.name)
def test_every_real_lock_is_readable(lock: Path) -> None:
    """Locks written by Poetry 1.8 to 2.5 (lock-version 2.0 and 2.1) have nothing missing."""
    assert lock_problem(parsed(lock.read_text())) is None


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(
            'name = "certifi"\n', "", "[[package]] 1 has no name", id="a package without name"
        ),
        pytest.param(
            'version = "2026.10.18"\n',
            "",
            "[[package]] 1 (certifi) has no version",
            id="a package without version",
        ),
        pytest.param(
            'version = "2026.10.18"\n',
            "version = 2026.10\n",
            "[[package]] 1 (certifi) has a version that is not a string",
            id="a version as a number",
        ),
        pytest.param(
            'optional = false\npython-versions = ">=3.7"\ngroups = ["main"]\nfiles = [\n'
            '    {file = "certifi',
            'python-versions = ">=3.7"\ngroups = ["main"]\nfiles = [\n    {file = "certifi',
            "[[package]] 1 (certifi) has no optional",
            id="a package without optional",
        ),
        pytest.param(
            'groups = ["main"]\nfiles = [\n    {file = "certifi',
            'files = [\n    {file = "certifi',
            "[[package]] 1 (certifi) has no groups",
            id="lock 2.1 without groups",
        ),
        pytest.param(
            ', hash = "sha256:73191c47',
            ', sha = "sha256:73191c47',
            "[[package]] 1 (certifi) has no hash for certifi-2026.10.18-py3-none-any.whl",
            id="a file without its hash",
        ),
        pytest.param(
            'content-hash = "4cb5',
            'content = "4cb5',
            "[metadata] has no content-hash",
            id="metadata without content-hash",
        ),
        pytest.param(
            "[metadata]\n",
            "[meta]\n",
            "it has no [metadata] table",
            id="no metadata",
        ),
        pytest.param(
            'lock-version = "2.1"',
            "lock-version = 2.1",
            "[metadata] has a lock-version that is not a string",
            id="lock-version as a number",
        ),
    ],
)
def test_damage_is_named(old: str, new: str, problem: str) -> None:
    assert lock_problem(edited(old, new)) == problem


def test_a_lock_without_any_package_list_is_damaged() -> None:
    """Poetry writes `package = []` when nothing is locked; no key at all is a broken file."""
    data = parsed(BASE.read_text())
    del data["package"]
    assert lock_problem(data) == "it has no [[package]] entries, not even an empty list"


def lock_1_1() -> dict[str, Any]:
    """The base fixture in the form of lock-version 1.1 (Poetry 1.2 to 1.4): each package's
    files under [metadata.files], no groups."""
    data = parsed(BASE.read_text())
    files = {}
    for package in data["package"]:
        files[package["name"]] = package.pop("files")
        package.pop("groups")
    data["metadata"]["files"] = files
    data["metadata"]["lock-version"] = "1.1"
    return data


def test_a_lock_1_1_keeps_its_files_in_the_metadata() -> None:
    assert lock_problem(lock_1_1()) is None


def test_a_lock_1_1_without_a_packages_files_is_damaged() -> None:
    data = lock_1_1()
    del data["metadata"]["files"]["certifi"]
    assert lock_problem(data) == (
        "[[package]] 1 (certifi) has no files (neither its own nor in [metadata.files])"
    )
