"""An image into a registry, through its API: blobs first, the tag last.

What is sent is plain data: the blobs (each with a way to read its bytes on the host, or the
repository that has it) and the manifests in the order they must be put. Every blob must be in
the target repository before a manifest names it: a blob the repository has is skipped (HEAD);
a blob another repository of the same registry has (the base's, or one this runner pushed it to
before: blob_places.py) is mounted, so nothing crosses the network, or uploaded when the
registry refuses the mount; a base layer in another registry is streamed across,
digest-checked; the rest is uploaded from the host, in parallel. Then the manifests, the tag
last. The tag therefore exists only when everything it names does: an interrupted push leaves
no tag, and the next one finishes the job. Pushes of the same new tag at once do the same work
and write the same bytes: all succeed.
"""

from __future__ import annotations

import threading

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.plumbing.progress import size_text
from poetry_ci_image.registry.blob_places import BlobPlaces


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Sequence

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.registry.registries import RegistryOpener


UPLOADS = 4  # blobs in flight at once


@dataclass(frozen=True)
class Blob:
    """A blob the image names, and where its bytes are."""

    digest: str
    size: int
    what: str  # for messages: "layer own:numpy", "config linux/amd64", "base layer 2"
    read: Callable[[], Iterable[bytes]] | None = None  # its bytes on the host, from the start
    origin: ImageReference | None = None  # an image whose repository has it (the base)


@dataclass(frozen=True)
class ManifestPut:
    """A manifest to put, under a tag or its digest."""

    reference: str
    body: bytes
    media_type: str


@dataclass
class TransferStats:
    """What a push did with each blob, for the summary line and `push --json`."""

    present: int = 0
    mounted: int = 0
    copied: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    copied_bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def push_to_registry(
    blobs: Sequence[Blob],
    manifests: Sequence[ManifestPut],
    target: ImageReference,
    registries: RegistryOpener,
    reporter: Reporter,
    places: BlobPlaces | None = None,
) -> TransferStats:
    """Put `blobs`, then `manifests` in order, into `target`'s repository; `places` names other
    repositories of the registry to mount blobs from, and learns where these went."""
    registry = registries.open(target.registry)
    repository = target.path
    host = registries.api_host(target.registry)
    places = places or BlobPlaces(None)
    stats = TransferStats()
    lock = threading.Lock()

    def count(kind: str, size: int = 0) -> None:
        with lock:
            setattr(stats, kind, getattr(stats, kind) + 1)
            if kind in ("uploaded", "copied"):
                setattr(stats, f"{kind}_bytes", getattr(stats, f"{kind}_bytes") + size)

    def send(blob: Blob) -> None:
        if registry.has_blob(repository, blob.digest):
            count("present")
            return
        origin = blob.origin
        sources = [r for r in places.known(host, blob.digest) if r != repository]
        if origin is not None and registries.api_host(origin.registry) == host:
            sources.insert(0, origin.path)
        for source in dict.fromkeys(sources):
            if registry.mount_blob(repository, blob.digest, source):
                reporter.detail(f"{blob.what} {blob.digest[:19]}: mounted from {source}")
                count("mounted")
                return
        if origin is not None:
            read = blob.read or _stream_from(registries, origin, blob.digest)
            reporter.detail(
                f"{blob.what} {blob.digest[:19]}: copying {size_text(blob.size)} from {origin}"
            )
            registry.upload_blob(repository, blob.digest, blob.size, read)
            count("copied", blob.size)
            return
        assert blob.read is not None, f"{blob.what} has neither bytes nor an origin"
        reporter.detail(f"{blob.what} {blob.digest[:19]}: uploading {size_text(blob.size)}")
        registry.upload_blob(repository, blob.digest, blob.size, blob.read)
        count("uploaded", blob.size)

    reporter.status(f"Sending {len(blobs)} blobs to {target.registry}/{repository}")
    with ThreadPoolExecutor(max_workers=UPLOADS, thread_name_prefix="upload") as pool:
        try:
            list(pool.map(send, blobs))
        except BaseException:
            registries.cancelled.set()
            raise
    reporter.status(
        f"Blobs: {stats.uploaded} uploaded ({size_text(stats.uploaded_bytes)}), "
        f"{stats.copied} copied from the base's registry, {stats.mounted} mounted, "
        f"{stats.present} already there"
    )
    for manifest in manifests:
        registry.put_manifest(repository, manifest.reference, manifest.body, manifest.media_type)
    places.remember(host, repository, [blob.digest for blob in blobs])
    return stats


def _stream_from(
    registries: RegistryOpener, origin: ImageReference, digest: str
) -> Callable[[], Iterable[bytes]]:
    """A blob's bytes read from `origin`'s registry, again for every try."""
    source = registries.open(origin.registry)
    return lambda: source.stream_blob(origin.path, digest)
