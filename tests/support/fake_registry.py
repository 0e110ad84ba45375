"""An in-memory registry behind the plugin's `Registry` seam, and a tiny base image in it.

For unit tests of the builder's logic only: everything that speaks HTTP to a registry is tested
against the real one (tests/integration). `FakeRegistry` keeps manifests and blobs in dicts and
records each call, so a test can say "the no-op push is one manifest HEAD".
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Mapping

    from poetry_ci_image.registry.credentials import Credentials
    from poetry_ci_image.registry.wire import Manifest


OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
GLIBC_236 = b"\x7fELF...GNU C Library (Debian GLIBC 2.36-9+deb12u7) stable release version 2.36.\n"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    """Manifests by (repository, reference), blobs by (repository, digest); calls recorded."""

    name: str = "registry.example"
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # RegistryOpener: one registry for every name, no credentials.
    def open(self, registry: str) -> FakeRegistry:
        return self

    def api_host(self, registry: str) -> str:
        return registry

    def credentials(self, registry: str) -> Credentials | None:
        return None

    def _call(self, text: str) -> None:
        with self._lock:
            self.calls.append(text)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        self._call(f"HEAD manifest {repository}:{reference}")
        found = self.manifests.get((repository, reference))
        return digest(found[0]) if found else None

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        from poetry_ci_image.registry.wire import Manifest

        self._call(f"GET manifest {repository}:{reference}")
        body, media_type = self.manifests[(repository, reference)]
        return Manifest(body, media_type, digest(body))

    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str
    ) -> dict[str, str]:
        self._call(f"PUT manifest {repository}:{reference}")
        for descriptor in json.loads(body).get("layers", []):
            assert (repository, descriptor["digest"]) in self.blobs, "a tag before its blobs"
        self.manifests[(repository, reference)] = (body, media_type)
        self.manifests[(repository, digest(body))] = (body, media_type)
        return {}

    def has_blob(self, repository: str, blob: str) -> bool:
        self._call(f"HEAD blob {blob[:15]}")
        return (repository, blob) in self.blobs

    def get_blob(self, repository: str, blob: str) -> bytes:
        self._call(f"GET blob {blob[:15]}")
        return self.blobs[(repository, blob)]

    def stream_blob(self, repository: str, blob: str) -> Iterator[bytes]:
        self._call(f"GET blob {blob[:15]}")
        data = self.blobs[(repository, blob)]
        for start in range(0, len(data), 1 << 16):
            yield data[start : start + (1 << 16)]

    def mount_blob(self, repository: str, blob: str, source: str) -> bool:
        self._call(f"MOUNT blob {blob[:15]}")
        if (source, blob) not in self.blobs:
            return False
        self.blobs[(repository, blob)] = self.blobs[(source, blob)]
        return True

    def upload_blob(
        self, repository: str, blob: str, size: int, chunks: Callable[[], Iterable[bytes]]
    ) -> None:
        self._call(f"PUT blob {blob[:15]}")
        data = b"".join(chunks())
        assert len(data) == size, "an upload whose length is not its size"
        assert digest(data) == blob, "an upload that is not its digest"
        self.blobs[(repository, blob)] = data

    def put(self, repository: str, data: bytes) -> str:
        """Store a blob directly (for setting up a base image)."""
        self.blobs[(repository, digest(data))] = data
        return digest(data)


def layer_of(files: Mapping[str, bytes | str]) -> bytes:
    """A gzip layer: a str value is a symlink's target, bytes a file's content."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            if isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tar.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o755
                tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


DEBIAN_FILES: dict[str, bytes | str] = {
    "bin": "usr/bin",
    "etc/os-release": "../usr/lib/os-release",
    "usr/lib/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "usr/bin/python3.11": b"\x7fELF python",
    "usr/bin/python3": "python3.11",
    "usr/lib/x86_64-linux-gnu/libc.so.6": GLIBC_236,
}


def add_base(
    registry: FakeRegistry,
    repository: str = "library/python",
    tag: str = "3.11-slim-bookworm",
    *,
    files: Mapping[str, bytes | str] | None = None,
    env: tuple[str, ...] = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",),
    platforms: tuple[str, ...] = ("linux/amd64",),
) -> str:
    """A base image in `registry` (one layer per platform); returns its `host/repo:tag`."""
    manifests = []
    for platform in platforms:
        architecture = platform.split("/")[1]
        layer = layer_of(files if files is not None else DEBIAN_FILES)
        diff_id = digest(gzip.decompress(layer))
        config = json.dumps(
            {
                "architecture": architecture,
                "os": "linux",
                "config": {"Env": list(env), "Cmd": ["python3"]},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [{"created_by": "debootstrap"}],
            },
            sort_keys=True,
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": registry.put(repository, config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": registry.put(repository, layer),
                        "size": len(layer),
                    }
                ],
            },
            sort_keys=True,
        ).encode()
        registry.manifests[(repository, digest(manifest))] = (manifest, OCI_MANIFEST)
        manifests.append((manifest, platform))
    if len(manifests) == 1:
        registry.manifests[(repository, tag)] = (manifests[0][0], OCI_MANIFEST)
    else:
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest(manifest),
                    "size": len(manifest),
                    "platform": {"os": "linux", "architecture": platform.split("/")[1]},
                }
                for manifest, platform in manifests
            ],
        }
        registry.manifests[(repository, tag)] = (json.dumps(index).encode(), OCI_INDEX)
    return f"{registry.name}/{repository}:{tag}"
