"""The build cache: each store gives back what was put under a key, and pruning removes what no
run used for KEEP_DAYS days, in every directory the cache holds, but never what this run used."""

from __future__ import annotations

import dataclasses
import os
import time

from typing import TYPE_CHECKING

import pytest

from poetry_ci_image.image.cache.build_cache import KEPT_ELSEWHERE
from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.image.cache.keys import cache_key
from poetry_ci_image.image.cache.pruning import KEEP_DAYS
from poetry_ci_image.image.files import PackageFiles
from poetry_ci_image.image.tarball import file_entry


if TYPE_CHECKING:
    from pathlib import Path


OLD = time.time() - (KEEP_DAYS + 1) * 86400


def age(path: Path) -> Path:
    """Make `path` look last used more than KEEP_DAYS days ago."""
    os.utime(path, (OLD, OLD))
    return path


def test_a_layer_comes_back_by_its_key_while_its_blob_is_there(tmp_path: Path) -> None:
    """A hit is exactly what writing gave; a record whose blob is gone is a miss."""
    cache = BuildCache(tmp_path / "cache", tmp_path / "run")
    key = cache_key("layer", 1)
    written = cache.layers.write(key, [file_entry("opt/a.txt", b"a\n")], epoch=0)
    assert cache.layers.get(key) == written
    assert cache.layers.get(cache_key("layer", 2)) is None
    written.file.unlink()
    assert cache.layers.get(key) is None


def test_file_lists_and_facts_come_back_by_key(tmp_path: Path) -> None:
    """A file list keeps every entry but its bytes; a fact is a string."""
    cache = BuildCache(tmp_path / "cache", tmp_path / "run")
    entry = file_entry("opt/venv/alpha.py", b"x = 1\n")
    cache.files.put("k1", PackageFiles("alpha", (entry,), frozenset({"alpha"})))
    cache.facts.remember("k2", "none needed")
    assert cache.files.get("k1", "alpha") == PackageFiles(
        "alpha", (dataclasses.replace(entry, data=None),), frozenset({"alpha"})
    )
    assert cache.files.get("k3", "alpha") is None
    assert cache.facts.recall("k2") == "none needed"
    assert cache.facts.recall("k3") is None


@pytest.mark.parametrize("directory", ["files", "layers", "facts", "blobs/sha256", *KEPT_ELSEWHERE])
def test_pruning_reaches_every_directory_of_the_cache(tmp_path: Path, directory: str) -> None:
    """An old entry goes, whether a file or a directory (the bases' facts, their interpreters,
    Poetry's wheels, the places blobs were pushed to); a recent one stays."""
    root = tmp_path / "cache"
    folder = root / directory
    folder.mkdir(parents=True)
    old_file = folder / "old.json"
    old_file.write_text("{}")
    age(old_file)
    old_directory = folder / "old-directory"
    (old_directory / "inside").mkdir(parents=True)
    age(old_directory)
    recent = folder / "recent.json"
    recent.write_text("{}")
    removed = BuildCache(root, tmp_path / "run").prune()
    assert sorted(removed) == sorted([old_file, old_directory])
    assert sorted(path.name for path in folder.iterdir()) == ["recent.json"]


def test_pruning_keeps_what_this_run_used_however_old(tmp_path: Path) -> None:
    """A layer read by this run stays, even if its files' times could not be brought forward."""
    cache = BuildCache(tmp_path / "cache", tmp_path / "run")
    key = cache_key("layer", 1)
    blob = cache.layers.write(key, [file_entry("opt/a.txt", b"a\n")], epoch=0)
    record = tmp_path / "cache" / "layers" / f"{key}.json"
    assert cache.layers.get(key) == blob
    age(record)
    age(blob.file)
    assert cache.prune() == []
    assert record.is_file()
    assert blob.file.is_file()


def test_a_run_without_a_cache_prunes_nothing(tmp_path: Path) -> None:
    """With `poetry --no-cache` the cache lives in the run's directory and goes with it."""
    cache = BuildCache(None, tmp_path / "run")
    (tmp_path / "run" / "cache" / "bases").mkdir(parents=True)
    age(tmp_path / "run" / "cache" / "bases")
    assert cache.prune() == []
