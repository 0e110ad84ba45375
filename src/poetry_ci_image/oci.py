"""The OCI vocabulary every part shares: media types, descriptors, platforms, digests, canonical
JSON. A leaf: it imports nothing of the plugin, and image/, registry/ and the layout writer all
speak it.

Images are written with OCI's media types, which Docker 20.10+, containerd and the registries of
GitLab, GitHub and distribution accept; Docker's own types are read (a base image may use them)
and a Docker-typed base layer is listed with its OCI type (the bytes are the same).
"""

from __future__ import annotations

import hashlib
import json

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Mapping
    from pathlib import Path


OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# What a registry may answer for a manifest, in the order a client asks for them.
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
# A Docker-typed layer's OCI name (the bytes are the same).
OCI_LAYER_TYPES = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": OCI_LAYER_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar": OCI_LAYER_TAR,
}

# A platform as the plugin names it -> (architecture, variant) in configs and indexes.
PLATFORM_FIELDS: dict[str, tuple[str, str | None]] = {
    "linux/amd64": ("amd64", None),
    "linux/arm64": ("arm64", "v8"),
}

CHUNK = 1 << 20  # bytes read at once from a file


@dataclass(frozen=True)
class Descriptor:
    """A blob as a manifest lists it."""

    media_type: str
    digest: str  # "sha256:<hex>"
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def canonical(document: Mapping[str, Any]) -> bytes:
    """JSON with sorted keys and no spaces: the same document, the same bytes and digest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(data: bytes) -> str:
    """`sha256:<hex>` of `data`, as registries address blobs and manifests."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of the file at `path`, read in chunks (wheels reach hundreds of MB)."""
    digest = hashlib.new(algorithm)
    for chunk in file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def file_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of the file at `path`, `CHUNK` at a time."""
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def platform_fields(platform: str) -> dict[str, str]:
    """An index entry's `platform` object for "linux/arm64"."""
    architecture, variant = PLATFORM_FIELDS[platform]
    fields = {"os": "linux", "architecture": architecture}
    if variant:
        fields["variant"] = variant
    return fields
