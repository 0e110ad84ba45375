"""An assembled image into a registry, through its API: blobs first, the tag last.

Every blob the image names must be in the target repository before its manifest is: a blob the
repository has is skipped (HEAD); a base layer in the same registry is mounted from the base's
repository (nothing crosses the network); any other base layer is streamed across from the
base's registry, digest-checked; the plugin's layers and configs are uploaded from the host, in
parallel. Then the manifests: for several platforms each one by digest, then the index under
the tag; for one platform the manifest under the tag. The tag therefore exists only when
everything it names does: an interrupted push leaves no tag, and the next one finishes the job.
Pushes of the same new tag at once do the same work and write the same bytes: all succeed.
"""

from __future__ import annotations

import threading

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.assemble import Image
    from poetry_ci_image.image.build_cache import BuildCache
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.registry.registries import RegistryOpener


UPLOADS = 4  # blobs in flight at once
CHUNK = 1 << 20


@dataclass(frozen=True)
class Blob:
    """A blob the image names, and where its bytes are."""

    digest: str
    size: int
    what: str  # for messages: "layer own:numpy", "config linux/amd64", "base layer 2"
    path: Path | None = None  # on the host (the plugin's layers)
    data: bytes | None = None  # in memory (configs)
    base: ImageReference | None = None  # in the base's repository


@dataclass
class TransferStats:
    """What a push did with each blob, for the summary line (and the benchmarks)."""

    present: int = 0
    mounted: int = 0
    copied: int = 0
    uploaded: int = 0
    uploaded_bytes: int = 0
    copied_bytes: int = 0


def blobs_of(image: Image) -> list[Blob]:
    """Every blob of `image`, each digest once: base layers, the plugin's layers, configs."""
    found: dict[str, Blob] = {}
    for platform in image.platforms:
        base = platform.base.reference
        for index, descriptor in enumerate(platform.base_layers):
            what = f"base layer {index + 1}"
            blob = Blob(descriptor.digest, descriptor.size, what, base=base)
            found.setdefault(descriptor.digest, blob)
        for layer in platform.layers:
            found.setdefault(layer.digest, Blob(layer.digest, layer.size, "layer", path=layer.path))
        found.setdefault(
            platform.config_digest,
            Blob(
                platform.config_digest,
                len(platform.config),
                f"config {platform.platform}",
                data=platform.config,
            ),
        )
    return list(found.values())


def push_to_registry(
    image: Image,
    reference: ImageReference,
    extra_tags: Sequence[str],
    registries: RegistryOpener,
    cache: BuildCache,
    on_status: Callable[[str], None],
    on_detail: Callable[[str], None],
) -> TransferStats:
    """Put `image` in the registry under `reference`'s tag (and `extra_tags`), blobs first."""
    registry = registries.open(reference.registry)
    repository = reference.path
    stats = TransferStats()
    lock = threading.Lock()
    blobs = blobs_of(image)

    def send(blob: Blob) -> None:
        if registry.has_blob(repository, blob.digest):
            with lock:
                stats.present += 1
            return
        base = blob.base
        if (
            base is not None
            and registries.api_host(base.registry) == registries.api_host(reference.registry)
            and registry.mount_blob(repository, blob.digest, base.path)
        ):
            on_detail(f"{blob.what} {blob.digest[:19]}: mounted from {base.path}")
            with lock:
                stats.mounted += 1
            return
        if base is not None:
            source = registries.open(base.registry)
            on_detail(f"{blob.what} {blob.digest[:19]}: copying {_mb(blob.size)} from {base}")
            registry.upload_blob(
                repository,
                blob.digest,
                blob.size,
                _from_cache_or(cache, blob, lambda: source.stream_blob(base.path, blob.digest)),
            )
            with lock:
                stats.copied += 1
                stats.copied_bytes += blob.size
            return
        on_detail(f"{blob.what} {blob.digest[:19]}: uploading {_mb(blob.size)}")
        registry.upload_blob(repository, blob.digest, blob.size, _local(blob))
        with lock:
            stats.uploaded += 1
            stats.uploaded_bytes += blob.size

    on_status(f"Sending {len(blobs)} blobs to {reference.registry}/{repository}")
    with ThreadPoolExecutor(max_workers=UPLOADS, thread_name_prefix="upload") as pool:
        try:
            list(pool.map(send, blobs))
        except BaseException:
            registries.cancelled.set()
            raise
    on_status(
        f"Blobs: {stats.uploaded} uploaded ({_mb(stats.uploaded_bytes)}), "
        f"{stats.copied} copied from the base's registry, {stats.mounted} mounted, "
        f"{stats.present} already there"
    )
    if image.index is not None:
        for platform in image.platforms:
            registry.put_manifest(repository, platform.digest, platform.manifest, _manifest_type())
    assert reference.tag is not None
    for tag in (reference.tag, *extra_tags):
        registry.put_manifest(repository, tag, image.top, image.media_type)
    return stats


def _manifest_type() -> str:
    from poetry_ci_image.image.config import OCI_MANIFEST

    return OCI_MANIFEST


def _local(blob: Blob) -> Callable[[], Iterable[bytes]]:
    if blob.data is not None:
        data = blob.data
        return lambda: [data]
    path = blob.path
    assert path is not None
    return lambda: _file_chunks(path)


def _from_cache_or(
    cache: BuildCache, blob: Blob, stream: Callable[[], Iterator[bytes]]
) -> Callable[[], Iterable[bytes]]:
    """A base layer from the build cache when `image build` kept it, else from its registry."""
    if cache.has_blob(blob.digest, blob.size):
        path = cache.blob_path(blob.digest)
        return lambda: _file_chunks(path)
    return stream


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
