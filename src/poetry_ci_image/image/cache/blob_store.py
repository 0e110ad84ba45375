"""Blobs by digest (`blobs/sha256/<hex>`): the layers written, and base layers kept for
`image build` and `--output`. Each is written beside its place and moved there in one rename,
since another process may write the same blob."""

from __future__ import annotations

import os

from typing import TYPE_CHECKING

from poetry_ci_image.image.tarball import LayerBlob
from poetry_ci_image.image.tarball import write_layer


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator
    from pathlib import Path

    from poetry_ci_image.image.cache.records import Used
    from poetry_ci_image.image.tarball import Entry


class BlobStore:
    def __init__(self, directory: Path, used: Used) -> None:
        self.directory = directory
        self._used = used

    def path(self, digest: str) -> Path:
        return self.directory / digest.partition(":")[2]

    def has(self, digest: str, size: int) -> bool:
        path = self.path(digest)
        return path.is_file() and path.stat().st_size == size

    def use(self, digest: str, size: int) -> Path | None:
        """The blob's file, noted as used; None if it is missing or not of `size` bytes."""
        try:
            if not self.has(digest, size):
                return None
        except OSError:
            return None
        path = self.path(digest)
        self._used.touch(path)
        return path

    def store(self, digest: str, chunks: Iterator[bytes]) -> Path:
        """Keep a blob (its chunks are digest-checked by whoever gives them)."""
        final = self.path(digest)
        partial = self._partial(digest.partition(":")[2])
        try:
            with partial.open("wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        self._used.touch(final)
        return final

    def write_layer(self, entries: Iterable[Entry], epoch: int, name: str) -> LayerBlob:
        """Write a layer of `entries` (staged under `name`) and keep it under its digest."""
        partial = self._partial(name)
        try:
            blob = write_layer(entries, partial, epoch)
            final = self.path(blob.digest)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        self._used.touch(final)
        return LayerBlob(final, blob.digest, blob.diff_id, blob.size)

    def _partial(self, name: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / f".{name}.{os.getpid()}.partial"
