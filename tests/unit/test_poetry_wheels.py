"""Which of Poetry's distributions go into the image: the walk from `poetry` over the host's.

The walk runs on a thread of its own while the main thread fetches the dependencies; these
tests say what it pins, for the target's markers, and that it does not depend on what other
threads are importing at the time.
"""

from __future__ import annotations

import sys

from importlib import metadata
from typing import TYPE_CHECKING
from typing import Any

import pytest

from packaging.requirements import Requirement

from poetry_ci_image.poetry.wheels import _Closure
from poetry_ci_image.settings.target import Libc
from poetry_ci_image.settings.target import Target


if TYPE_CHECKING:
    from collections.abc import Iterator


AMD64 = Target((3, 11, 0), "linux/amd64", Libc("glibc", (2, 36)))


class HalfImportedFinder:
    """What `importlib_metadata` puts on `sys.meta_path` before its module has finished
    importing (keyring imports it when the main thread first needs credentials)."""

    def find_spec(self, *args: Any) -> None:
        return None

    def find_distributions(self, *args: Any) -> Iterator[metadata.Distribution]:
        raise NameError("name 'PathDistribution' is not defined")


@pytest.fixture
def half_imported_finder() -> Iterator[None]:
    finder = HalfImportedFinder()
    sys.meta_path.append(finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def test_poetry_is_pinned_to_the_running_version() -> None:
    requests = _Closure(AMD64).add([Requirement("poetry")])

    assert f"poetry=={metadata.version('poetry')}" in requests
    assert f"poetry-core=={metadata.version('poetry-core')}" in requests


def test_the_walk_reads_the_host_by_the_standard_library_alone(half_imported_finder: None) -> None:
    requests = _Closure(AMD64).add([Requirement("poetry"), Requirement("not-on-the-host")])

    assert f"poetry=={metadata.version('poetry')}" in requests
    assert "not-on-the-host" in requests


def test_the_walk_reads_the_host_after_importlib_metadata_took_over() -> None:
    pytest.importorskip("importlib_metadata")  # removes the stdlib's finder from sys.meta_path

    requests = _Closure(AMD64).add([Requirement("poetry")])

    assert f"poetry=={metadata.version('poetry')}" in requests


def test_a_requirement_the_host_lacks_is_asked_for_by_its_specifier() -> None:
    requests = _Closure(AMD64).add([Requirement("not-installed-anywhere>=1.0")])

    assert requests == ["not-installed-anywhere>=1.0"]


def test_the_targets_markers_decide_what_is_needed() -> None:
    walk = _Closure(AMD64)
    needed = walk._needed(
        [
            Requirement('for-linux ; sys_platform == "linux"'),
            Requirement('for-windows ; sys_platform == "win32"'),
            Requirement('for-old-pythons ; python_version < "3.11"'),
            Requirement('with-extra ; extra == "socks"'),
        ],
        extras=["socks"],
    )

    assert [requirement.name for requirement in needed] == ["for-linux", "with-extra"]
