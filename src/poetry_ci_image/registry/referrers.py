"""An artifact (the image's SBOM) attached to a manifest it names as its subject, where clients
look for it: the registry's referrers API when the registry has one (it says so by answering the
artifact's put with `OCI-Subject`), else the referrers tag scheme of the OCI distribution spec
(1.1): an image index under the tag `sha256-<hex of the subject's digest>` listing every
artifact that refers to it, which `oras discover`, cosign and the scanners read too.

The tag scheme's index is read, the artifact added (once), and written back; another artifact
attached by another tool at the same moment may be lost from the index (the spec's own caveat),
never the image.
"""

from __future__ import annotations

import json

from functools import partial
from typing import TYPE_CHECKING

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.oci import OCI_INDEX
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.oci import canonical
from poetry_ci_image.oci import digest_of


if TYPE_CHECKING:
    from collections.abc import Mapping

    from poetry_ci_image.registry.registries import Registry


def referrers_tag(subject: str) -> str:
    """The tag scheme's tag for the referrers of `subject` (`sha256:ab...` -> `sha256-ab...`)."""
    return subject.replace(":", "-")


def attach(
    registry: Registry,
    repository: str,
    artifact: bytes,
    blobs: Mapping[str, bytes],
) -> str:
    """Push the artifact manifest `artifact` (and its `blobs`, by digest) to `repository` and
    make it findable from its subject; how: "referrers API" or "tag scheme"."""
    for digest, data in blobs.items():
        if not registry.has_blob(repository, digest):
            registry.upload_blob(repository, digest, len(data), partial(list, [data]))
    document = json.loads(artifact)
    subject = str(document["subject"]["digest"])
    answer = registry.put_manifest(repository, digest_of(artifact), artifact, OCI_MANIFEST)
    if any(key.lower() == "oci-subject" for key in answer):
        return "referrers API"
    tag = referrers_tag(subject)
    try:
        index = json.loads(registry.get_manifest(repository, tag).body)
    except RegistryError:
        index = None  # no artifact refers to it yet (a 404), or an unreadable one: a new index
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    descriptor = {
        "mediaType": OCI_MANIFEST,
        "digest": digest_of(artifact),
        "size": len(artifact),
        "artifactType": document.get("artifactType", ""),
    }
    listed = [m for m in index["manifests"] if m.get("digest") != descriptor["digest"]]
    index["manifests"] = sorted([*listed, descriptor], key=lambda m: str(m.get("digest")))
    registry.put_manifest(repository, tag, canonical(index), OCI_INDEX)
    return "tag scheme"
