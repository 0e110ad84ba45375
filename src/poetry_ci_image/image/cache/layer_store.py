"""Layers by key: `layers/<key>.json` names the blob a key's entries were written to, so a
runner that keeps Poetry's cache writes only the layers whose inputs changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.image.tarball import LayerBlob


if TYPE_CHECKING:
    from collections.abc import Iterable

    from poetry_ci_image.image.cache.blob_store import BlobStore
    from poetry_ci_image.image.cache.records import Records
    from poetry_ci_image.image.tarball import Entry


class LayerStore:
    def __init__(self, records: Records, blobs: BlobStore) -> None:
        self._records = records
        self._blobs = blobs

    def get(self, key: str) -> LayerBlob | None:
        """The layer written for `key`, if its blob is still there."""
        data = self._records.load(key)
        if data is None:
            return None
        try:
            path = self._blobs.use(data["digest"], data["size"])
            if path is None:
                return None
            return LayerBlob(path, data["digest"], data["diff_id"], data["size"])
        except (KeyError, TypeError):
            return None

    def write(self, key: str, entries: Iterable[Entry], epoch: int) -> LayerBlob:
        """Write a layer (into the blob store, under its digest) and remember it under `key`."""
        blob = self._blobs.write_layer(entries, epoch, key)
        self._records.store(
            key, {"digest": blob.digest, "diff_id": blob.diff_id, "size": blob.size}
        )
        return blob

    def get_or_write(self, key: str, entries: Iterable[Entry], epoch: int) -> LayerBlob:
        return self.get(key) or self.write(key, entries, epoch)
