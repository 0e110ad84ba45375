"""The image's documents: its config, its manifest, and (for several platforms) an index.

Plain values in, canonical JSON bytes out (sorted keys, no spaces: oci.py), so the same inputs
give the same digests; OCI media types throughout.

The config is the base's, with:
- `VIRTUAL_ENV` and `PATH` (the venv's bin first; Poetry's last) set;
- labels: the base's, then the plugin's (the fingerprint, the target, ...) and the OCI
  `org.opencontainers.image.base.name` / `.base.digest` / `.title`;
- a history entry per layer that says what it holds, and `created` at the epoch (no build time).
"""

from __future__ import annotations

import copy

from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.oci import OCI_CONFIG
from poetry_ci_image.oci import OCI_INDEX
from poetry_ci_image.oci import OCI_LAYER_GZIP
from poetry_ci_image.oci import OCI_LAYER_TYPES
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.oci import canonical
from poetry_ci_image.oci import digest_of
from poetry_ci_image.oci import platform_fields


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from poetry_ci_image.oci import Descriptor


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class AddedLayer:
    """A layer the plugin made, and what its history entry says."""

    digest: str
    diff_id: str
    size: int
    comment: str


def timestamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_config(
    base_config: Mapping[str, Any],
    layers: Sequence[AddedLayer],
    *,
    env: Mapping[str, str],
    path_prepend: Sequence[str],
    path_append: Sequence[str],
    labels: Mapping[str, str],
    epoch: int,
) -> bytes:
    """The base's config (`base_config`, as its registry gave it) with the plugin's layers."""
    config = copy.deepcopy(dict(base_config))
    inner = config.setdefault("config", {})
    variables = dict(item.partition("=")[::2] for item in inner.get("Env") or ())
    base_path = variables.get("PATH", DEFAULT_PATH)
    variables.update(env)
    variables["PATH"] = ":".join([*path_prepend, base_path, *path_append])
    inner["Env"] = [f"{key}={value}" for key, value in variables.items()]
    inner["Labels"] = {**(inner.get("Labels") or {}), **labels}
    created = timestamp(epoch)
    config["created"] = created
    config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    diff_ids = [*config["rootfs"].get("diff_ids", []), *(layer.diff_id for layer in layers)]
    config["rootfs"]["diff_ids"] = diff_ids
    config["history"] = [
        *(config.get("history") or []),
        *(
            {"created": created, "created_by": "poetry-ci-image", "comment": layer.comment}
            for layer in layers
        ),
    ]
    return canonical(config)


def image_manifest(
    config: bytes, base_layers: Sequence[Descriptor], layers: Sequence[AddedLayer]
) -> bytes:
    return canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
            "layers": [
                *(
                    {
                        "mediaType": OCI_LAYER_TYPES.get(item.media_type, item.media_type),
                        "digest": item.digest,
                        "size": item.size,
                    }
                    for item in base_layers
                ),
                *(
                    {"mediaType": OCI_LAYER_GZIP, "digest": layer.digest, "size": layer.size}
                    for layer in layers
                ),
            ],
        }
    )


def image_index(manifests: Sequence[tuple[bytes, str]]) -> bytes:
    """An index of `(manifest, platform)` pairs, platforms as "linux/arm64"."""
    entries = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(manifest),
            "size": len(manifest),
            "platform": platform_fields(platform),
        }
        for manifest, platform in manifests
    ]
    return canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
