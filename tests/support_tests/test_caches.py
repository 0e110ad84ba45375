"""Self-tests of ``tests.support.caches`` and of the cache every test gets (tests/conftest.py)."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING

from tests.support.caches import SHARED_INPUTS
from tests.support.caches import cache_sharing_inputs


if TYPE_CHECKING:
    from pathlib import Path


def test_two_caches_share_the_inputs_and_nothing_else(tmp_path: Path) -> None:
    """What one cache keeps among the inputs, the other finds; its layers, blobs, records,
    places, plans and index pages it does not."""
    shared = tmp_path / "shared"
    one = cache_sharing_inputs(tmp_path / "one", shared)
    other = cache_sharing_inputs(tmp_path / "other", shared)
    for name in SHARED_INPUTS:
        (one / name / "kept").write_text(name)
    own = ["ci-image/layers", "ci-image/blobs/sha256", "ci-image/files", "ci-image/facts"]
    own += ["ci-image/places", "ci-image/plans", "cache/repositories/local"]
    for name in own:
        (one / name).mkdir(parents=True)
        (one / name / "kept").write_text(name)
    assert {name: (other / name / "kept").read_text() for name in SHARED_INPUTS} == {
        name: name for name in SHARED_INPUTS
    }
    assert [name for name in own if (other / name).exists()] == []


def test_each_test_has_a_cache_of_its_own(poetry_cache: Path, tmp_path: Path) -> None:
    """POETRY_CACHE_DIR is the test's own directory, outside its tmp_path, with the inputs."""
    assert os.environ["POETRY_CACHE_DIR"] == str(poetry_cache)
    assert not poetry_cache.is_relative_to(tmp_path)
    assert sorted(
        str(path.relative_to(poetry_cache)) for path in poetry_cache.rglob("*") if path.is_symlink()
    ) == sorted(SHARED_INPUTS)
