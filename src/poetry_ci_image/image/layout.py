"""An assembled image on the host: an OCI image layout directory, or a tar for `docker load`.

Both need the base's layers as files: they are read from the base's registry once into the
build cache (digest-checked) unless the target (the Docker engine) already has them.

- `write_oci_layout`: `oci-layout`, `index.json` (the image, tagged with
  `org.opencontainers.image.ref.name`) and `blobs/sha256/...`: what skopeo, crane, podman and
  `docker buildx imagetools` read. Written beside the directory and moved into place at the end.
- `docker_archive`: a `docker save`-style tar (manifest.json, the config, the layers) that
  `docker load` turns into an image whose ID is the config's digest, as in the registry.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile

from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.sbom import EMPTY
from poetry_ci_image.image.sbom import SBOM_TYPE
from poetry_ci_image.oci import OCI_INDEX
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.oci import canonical
from poetry_ci_image.oci import digest_of
from poetry_ci_image.oci import file_chunks
from poetry_ci_image.plumbing.progress import size_text


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.assemble import Image
    from poetry_ci_image.image.assemble import PlatformImage
    from poetry_ci_image.image.cache.build_cache import BuildCache
    from poetry_ci_image.run import Run


def fetch_base_layers(
    platform: PlatformImage, run: Run, cache: BuildCache, skip: frozenset[str] = frozenset()
) -> dict[str, Path]:
    """The base's layers as files in the build cache (downloaded once), by digest; `skip` names
    diff_ids the target already has, whose layers are not needed."""
    base = platform.base
    registry = run.registries.open(base.reference.registry)
    diff_ids = base.config.get("rootfs", {}).get("diff_ids", [])
    files: dict[str, Path] = {}
    for layer, diff_id in zip(base.layers, diff_ids, strict=False):
        if diff_id in skip:
            continue
        if not cache.blobs.has(layer.digest, layer.size):
            run.reporter.status(
                f"Downloading a base layer ({size_text(layer.size)}) of {base.reference}"
            )
            cache.blobs.store(layer.digest, registry.stream_blob(base.reference.path, layer.digest))
        files[layer.digest] = cache.blobs.path(layer.digest)
    return files


def write_oci_layout(image: Image, tag: str, directory: Path, base_files: dict[str, Path]) -> None:
    """Write `image` as an OCI image layout at `directory` (replacing an earlier layout there)."""
    if directory.exists() and any(directory.iterdir()) and not (directory / "oci-layout").exists():
        raise ConfigError(
            f"{directory} exists and is not an OCI image layout; it is left as it is.",
            "Name a new or empty directory for --output.",
        )
    staging = directory.with_name(f".{directory.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    blobs = staging / "blobs" / "sha256"
    try:
        blobs.mkdir(parents=True)
        (staging / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

        def put_bytes(data: bytes) -> None:
            (blobs / digest_of(data).partition(":")[2]).write_bytes(data)

        def put_file(digest: str, source: Path) -> None:
            target = blobs / digest.partition(":")[2]
            if target.exists():
                return
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)

        attached = []
        for platform in image.platforms:
            put_bytes(platform.config)
            put_bytes(platform.manifest)
            if platform.sbom:  # the SBOM, as an artifact whose subject is the manifest
                put_bytes(EMPTY)
                put_bytes(platform.sbom)
                put_bytes(platform.sbom_artifact)
                attached.append(
                    {
                        "mediaType": OCI_MANIFEST,
                        "artifactType": SBOM_TYPE,
                        "digest": digest_of(platform.sbom_artifact),
                        "size": len(platform.sbom_artifact),
                    }
                )
            for layer in platform.base_layers:
                put_file(layer.digest, base_files[layer.digest])
            for blob in platform.layers:
                put_file(blob.digest, blob.file)
        if image.index is not None:
            put_bytes(image.index)
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": image.media_type,
                    "digest": image.digest,
                    "size": len(image.top),
                    "annotations": {"org.opencontainers.image.ref.name": tag},
                },
                *attached,
            ],
        }
        (staging / "index.json").write_bytes(canonical(index))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def docker_archive(
    platform: PlatformImage, references: Sequence[str], base_files: dict[str, Path]
) -> Iterator[bytes]:
    """A `docker load` stream of `platform`'s image, tagged `references`, made as it is read.
    Base layers missing from `base_files` must be ones the engine has (it does not read them)."""
    config_name = f"{platform.config_digest.partition(':')[2]}.json"
    digests = [layer.digest for layer in platform.base_layers] + [b.digest for b in platform.layers]
    layer_names = [f"{digest.partition(':')[2]}/layer.tar" for digest in digests]
    manifest = [{"Config": config_name, "RepoTags": list(references), "Layers": layer_names}]
    yield from _member("manifest.json", [json.dumps(manifest).encode()])
    yield from _member(config_name, [platform.config])
    sources = {**base_files, **{blob.digest: blob.file for blob in platform.layers}}
    for name, digest in zip(layer_names, digests, strict=True):
        path = sources.get(digest)
        if path is not None:
            yield from _member(name, file_chunks(path), path.stat().st_size)
    yield b"\0" * (tarfile.BLOCKSIZE * 2)


def _member(name: str, chunks: Iterable[bytes], size: int | None = None) -> Iterator[bytes]:
    """One tar member: its header, its bytes, the padding to the next block."""
    parts = list(chunks) if size is None else chunks
    info = tarfile.TarInfo(name)
    info.size = sum(len(part) for part in parts) if size is None else size
    yield info.tobuf(format=tarfile.USTAR_FORMAT)
    yield from parts
    remainder = info.size % tarfile.BLOCKSIZE
    if remainder:
        yield b"\0" * (tarfile.BLOCKSIZE - remainder)
