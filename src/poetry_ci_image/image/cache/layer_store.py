"""Layers by key: `layers/<key>.json` names the blob a key's entries were written to, so a
runner that keeps Poetry's cache writes only the layers whose inputs changed; and, on a runner
that keeps nothing, the registry's layer cache (registry/layer_cache.py) names the blob the
repository already has for the key, so the layer is neither written nor sent. A group key names
several layers by their own keys: what a set of inputs known before any download (Poetry's pinned
set) was found to be, once downloaded (kept, like the file lists, where the registry's cache
finds it too)."""

from __future__ import annotations

import threading

from typing import TYPE_CHECKING

from poetry_ci_image.image.tarball import LayerBlob
from poetry_ci_image.registry.layer_cache import CachedLayer


if TYPE_CHECKING:
    from collections.abc import Iterable

    from poetry_ci_image.image.cache.blob_store import BlobStore
    from poetry_ci_image.image.cache.records import Records
    from poetry_ci_image.image.cache.records import Remote
    from poetry_ci_image.image.cache.records import Used
    from poetry_ci_image.image.tarball import Entry


class LayerStore:
    def __init__(
        self,
        records: Records,
        blobs: BlobStore,
        used: Used,
        remote: Remote | None = None,
        groups: Records | None = None,
    ) -> None:
        self._records = records
        self._groups = groups
        self._blobs = blobs
        self._used = used
        self._remote = remote
        self._found: dict[str, CachedLayer | None] = {}  # the registry's answers, by key
        self._lock = threading.Lock()

    def get(self, key: str) -> LayerBlob | None:
        """The layer written for `key`: its blob here, else the registry's (no file here)."""
        found = self._local(key)
        if found is None and self._remote is not None:
            self.prefetch([key])
            remote = self._found.get(key)
            if remote is not None:
                found = LayerBlob(None, remote.digest, remote.diff_id, remote.size)
        if found is not None:
            with self._lock:
                self._used.layers[key] = CachedLayer(found.digest, found.diff_id, found.size)
        return found

    def get_many(self, keys: Iterable[str]) -> dict[str, LayerBlob | None]:
        """`get` of each key, the registry asked about all those this cache lacks at once (a
        fresh runner's push needs every layer's answer: one by one, that is a round trip each)."""
        wanted = list(keys)
        self.prefetch(wanted)
        return {key: self.get(key) for key in wanted}

    def prefetch(self, keys: Iterable[str]) -> None:
        """Ask the registry's layer cache about every key this cache lacks, all at once."""
        if self._remote is None:
            return
        with self._lock:
            asked = [
                k for k in keys if k not in self._found and self._local(k, touch=False) is None
            ]
        if not asked:
            return
        answers = self._remote.layers(asked)
        with self._lock:
            for key in asked:
                self._found[key] = answers.get(key)

    def write(self, key: str, entries: Iterable[Entry], epoch: int) -> LayerBlob:
        """Write a layer (into the blob store, under its digest) and remember it under `key`."""
        blob = self._blobs.write_layer(entries, epoch, key)
        record = {"digest": blob.digest, "diff_id": blob.diff_id, "size": blob.size}
        self._records.store(key, record)
        with self._lock:
            self._used.layers[key] = CachedLayer(blob.digest, blob.diff_id, blob.size)
        return blob

    def get_or_write(self, key: str, entries: Iterable[Entry], epoch: int) -> LayerBlob:
        return self.get(key) or self.write(key, entries, epoch)

    def _local(self, key: str, touch: bool = True) -> LayerBlob | None:
        data = self._records.load(key) if touch else self._records.peek(key)
        if data is None:
            return None
        try:
            path = self._blobs.use(data["digest"], data["size"]) if touch else None
            if touch and path is None:
                return None
            if not touch and not self._blobs.has(data["digest"], data["size"]):
                return None
            return LayerBlob(path, data["digest"], data["diff_id"], data["size"])
        except (KeyError, TypeError, OSError):
            return None

    def get_group(self, key: str) -> list[tuple[str, LayerBlob]] | None:
        """The layers remembered under the group `key`, each with its name, if all are there."""
        data = self._groups.load(key) if self._groups is not None else None
        members = data.get("group") if data else None
        if not isinstance(members, list):
            return None
        found = []
        for member in members:
            if not (isinstance(member, list) and len(member) == 2):
                return None
            blob = self.get(str(member[1]))
            if blob is None:
                return None
            found.append((str(member[0]), blob))
        return found

    def remember_group(self, key: str, members: list[tuple[str, str]]) -> None:
        """Remember layers (name, layer key), in order, under the group `key`."""
        if self._groups is not None:
            self._groups.store(key, {"group": [list(member) for member in members]})
