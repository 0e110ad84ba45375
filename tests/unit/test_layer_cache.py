"""The registry as the layer cache, behind the registry seam: what one push keeps is what the
next finds, a blob the registry lost is not trusted, and two writers at once lose entries at
worst, never corrupt the table. (Against the real registry: tests/integration/test_layer_cache.py.)
"""

from __future__ import annotations

import json

from typing import TYPE_CHECKING

from tests.support.fake_registry import FakeRegistry
from tests.support.fake_registry import digest

from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.image.tarball import file_entry
from poetry_ci_image.plumbing.progress import SILENT
from poetry_ci_image.registry.layer_cache import CACHE_TAG
from poetry_ci_image.registry.layer_cache import KEEP_GENERATIONS
from poetry_ci_image.registry.layer_cache import CachedLayer
from poetry_ci_image.registry.layer_cache import RegistryCache


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping
    from pathlib import Path


REPOSITORY = "team/app/ci-image"


def no_pause() -> None:
    """No settling pause: the tests make the races happen where they want them."""


def written(registry: FakeRegistry, cache: BuildCache, key: str, content: bytes) -> None:
    """A layer written into `cache` and its blob sent to the repository, as a push does."""
    blob = cache.layers.write(key, [file_entry(key[-1], content)], 0)
    registry.upload_blob(REPOSITORY, blob.digest, blob.size, lambda: [blob.file.read_bytes()])


def pushed(registry: FakeRegistry, tmp_path: Path, name: str, content: bytes) -> BuildCache:
    """A push from an empty cache: its layer written, its blob sent, the cache updated."""
    remote = RegistryCache(registry, REPOSITORY, SILENT, settle=no_pause)
    remote.load()
    cache = BuildCache(tmp_path / name, tmp_path / f"{name}-run", remote)
    blob = cache.layers.get(name) or cache.layers.write(name, [file_entry("a", content)], 0)
    if blob.path is not None:
        registry.upload_blob(REPOSITORY, blob.digest, blob.size, lambda: [blob.file.read_bytes()])
    cache.facts.remember(f"fact-{name}", content.decode())
    remote.save(cache.used.layers, cache.used.records)
    return cache


def fresh(registry: FakeRegistry, tmp_path: Path, name: str) -> BuildCache:
    remote = RegistryCache(registry, REPOSITORY, SILENT, settle=no_pause)
    remote.load()
    return BuildCache(tmp_path / name, tmp_path / f"{name}-run", remote)


def test_what_one_push_keeps_the_next_finds_without_its_bytes(tmp_path: Path) -> None:
    """A runner with an empty cache gets the layer (digest, diff_id, size; no file) and the
    facts of an earlier push by their keys."""
    first = pushed(registry := FakeRegistry(), tmp_path, "layer-a", b"a")
    later = fresh(registry, tmp_path, "empty")
    found = later.layers.get("layer-a")
    assert found is not None
    assert found.path is None
    assert (found.digest, found.diff_id, found.size) == (
        first.used.layers["layer-a"].digest,
        first.used.layers["layer-a"].diff_id,
        first.used.layers["layer-a"].size,
    )
    assert later.facts.recall("fact-layer-a") == "a"
    assert later.layers.get("layer-b") is None


def test_a_blob_the_registry_lost_is_not_trusted(tmp_path: Path) -> None:
    """An entry whose blob was deleted since (a registry's clean-up) is a miss: rebuilt."""
    registry = FakeRegistry()
    first = pushed(registry, tmp_path, "layer-a", b"a")
    del registry.blobs[(REPOSITORY, first.used.layers["layer-a"].digest)]
    assert fresh(registry, tmp_path, "empty").layers.get("layer-a") is None


def test_entries_are_asked_about_at_once(tmp_path: Path) -> None:
    """Every key a push needs is checked in one batch, each blob once."""
    registry = FakeRegistry()
    pushed(registry, tmp_path, "layer-a", b"a")
    pushed(registry, tmp_path, "layer-b", b"b")
    later = fresh(registry, tmp_path, "empty")
    registry.calls.clear()
    later.layers.prefetch(["layer-a", "layer-b", "layer-c"])
    later.layers.get("layer-a")
    later.layers.get("layer-b")
    assert sorted(call.split(" ")[0] for call in registry.calls) == ["HEAD", "HEAD"]


def test_a_push_asks_about_all_its_layers_in_one_batch(tmp_path: Path) -> None:
    """get_many (what the dependencies' layers use): one question to the registry's cache for
    every key the runner lacks, however many keys; the answers are get's."""
    registry = FakeRegistry()
    pushed(registry, tmp_path, "layer-a", b"a")
    pushed(registry, tmp_path, "layer-b", b"b")
    later = fresh(registry, tmp_path, "empty")
    remote = later.layers._remote
    assert remote is not None
    asked: list[list[str]] = []
    answer = remote.layers

    def counted(keys: Iterable[str]) -> Mapping[str, CachedLayer]:
        asked.append(sorted(keys))
        return answer(keys)

    remote.layers = counted  # type: ignore[method-assign]
    found = later.layers.get_many(["layer-a", "layer-b", "layer-c"])

    assert asked == [["layer-a", "layer-b", "layer-c"]]
    assert {key: blob is not None for key, blob in found.items()} == {
        "layer-a": True,
        "layer-b": True,
        "layer-c": False,
    }
    assert sorted(later.used.layers) == ["layer-a", "layer-b"]


def test_a_push_keeps_what_others_wrote_meanwhile(tmp_path: Path) -> None:
    """Two pushes: the second reads, merges and writes; both entries are there after."""
    registry = FakeRegistry()
    pushed(registry, tmp_path, "layer-a", b"a")
    pushed(registry, tmp_path, "layer-b", b"b")
    later = fresh(registry, tmp_path, "empty")
    assert later.layers.get("layer-a") is not None
    assert later.layers.get("layer-b") is not None


def test_a_writer_that_loses_the_race_merges_again(tmp_path: Path) -> None:
    """A push whose read went stale (another wrote the tag after it) reads the table again
    and merges: the other push's entry survives."""
    registry = FakeRegistry()
    pushed(registry, tmp_path, "layer-a", b"a")
    slow = RegistryCache(registry, REPOSITORY, SILENT, settle=no_pause)
    slow.load()  # reads the table with layer-a ...
    pushed(registry, tmp_path, "layer-b", b"b")  # ... another push writes layer-b meanwhile
    cache = BuildCache(tmp_path / "slow", tmp_path / "slow-run", slow)
    written(registry, cache, "layer-c", b"c")
    slow.save(cache.used.layers, cache.used.records)
    later = fresh(registry, tmp_path, "empty")
    assert [later.layers.get(k) is not None for k in ("layer-a", "layer-b", "layer-c")] == [
        True,
        True,
        True,
    ]


def test_a_write_overwritten_by_a_writer_that_read_before_it_is_merged_back(
    tmp_path: Path,
) -> None:
    """The registry has no compare-and-swap: a writer that read the table before this push
    wrote it overwrites it. After its pause this push finds its entry gone, merges again, and
    both entries are there in the end; the overwriting push, checking in turn, finds its own."""
    registry = FakeRegistry()
    pushed(registry, tmp_path, "layer-a", b"a")
    before = registry.manifests[(REPOSITORY, CACHE_TAG)]  # the table the late writer reads
    late = RegistryCache(registry, REPOSITORY, SILENT, settle=no_pause)
    late_cache = BuildCache(tmp_path / "late", tmp_path / "late-run", late)
    written(registry, late_cache, "layer-b", b"b")
    overwritten: list[bool] = []

    def overwrite_once() -> None:
        """Right after the early write: the late writer, having read the table before it,
        writes its merge of that old table (as if its read and check had come first)."""
        if not overwritten:
            overwritten.append(True)
            registry.manifests[(REPOSITORY, CACHE_TAG)] = before
            late.save(late_cache.used.layers, late_cache.used.records)

    early = RegistryCache(registry, REPOSITORY, SILENT, settle=overwrite_once)
    early.load()
    cache = BuildCache(tmp_path / "early", tmp_path / "early-run", early)
    written(registry, cache, "layer-c", b"c")
    early.save(cache.used.layers, cache.used.records)

    later = fresh(registry, tmp_path, "empty")
    assert [later.layers.get(k) is not None for k in ("layer-a", "layer-b", "layer-c")] == [
        True,
        True,
        True,
    ]


def test_entries_no_push_used_for_a_while_go(tmp_path: Path) -> None:
    """After KEEP_GENERATIONS pushes that did not use it, an entry is dropped; the cache's
    manifest names every blob the table does, and no other."""
    registry = FakeRegistry()
    pushed(registry, tmp_path, "old", b"old")
    for number in range(KEEP_GENERATIONS):
        pushed(registry, tmp_path, f"layer-{number}", str(number).encode())
    later = fresh(registry, tmp_path, "empty")
    assert later.layers.get("old") is None
    assert later.layers.get(f"layer-{KEEP_GENERATIONS - 1}") is not None
    manifest = json.loads(registry.manifests[(REPOSITORY, CACHE_TAG)][0])
    config = json.loads(registry.blobs[(REPOSITORY, manifest["config"]["digest"])])
    named = {entry[0] for entry in config["layers"].values()} | set(config["bundles"])
    assert {layer["digest"] for layer in manifest["layers"]} == named


def test_a_cache_that_cannot_be_read_is_none(tmp_path: Path) -> None:
    """A tag of that name that is not the plugin's cache (another tool's image): no entries,
    no error."""
    registry = FakeRegistry()
    registry.put_manifest(REPOSITORY, CACHE_TAG, b'{"schemaVersion": 2}', "application/json")
    remote = RegistryCache(registry, REPOSITORY, SILENT, settle=no_pause)
    remote.load()
    assert remote.empty
    assert remote.layers(["x"]) == {}


def test_saving_writes_a_table_a_registry_accepts(tmp_path: Path) -> None:
    """The saved manifest's config is the table, its layers the blobs the registry has."""
    registry = FakeRegistry()
    remote = RegistryCache(registry, REPOSITORY, SILENT, settle=no_pause)
    remote.load()
    layer = digest(b"x")
    registry.upload_blob(REPOSITORY, layer, 1, lambda: [b"x"])
    remote.save({"k": CachedLayer(layer, "sha256:" + "b" * 64, 1)}, {})
    manifest = json.loads(registry.manifests[(REPOSITORY, CACHE_TAG)][0])
    assert manifest["config"]["mediaType"] == "application/vnd.poetry-ci-image.cache.v1+json"
    assert [layer["digest"] for layer in manifest["layers"]] == [layer]
