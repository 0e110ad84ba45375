"""The fingerprint: a hash of exactly what goes into the image, and the tag made from it.

In: for each platform, the install plan (every package with its version, source and the hash
of the file the target installs), the target, and the pinned set of Poetry's venv when Poetry
goes into the image (the plugin's pins for that Poetry version and target); the base image
reference; the recipe (for the built-in one: the builder's format, the layer budget, the epoch,
the system packages asked for; for your own Dockerfile: its text, the `hash-files`, the build
arguments); the version of Poetry when it goes into the image; and `SCHEMA_VERSION`.

Not in: anything else. The document is canonical JSON of plain values, so key order, comments,
paths and the host never reach it.
"""

from __future__ import annotations

import hashlib
import json

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any


if TYPE_CHECKING:
    from collections.abc import Sequence

    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import InstallPlan
    from poetry_ci_image.tag.recipe import ImageRecipe


# Bump when the meaning of the fingerprint changes, so that no old image keeps a tag it no longer
# deserves. 1: first release. 2: images assembled without an engine, layer by layer; several
# platforms.
SCHEMA_VERSION = 2
# Hex digits of the digest in the tag: 16 digits are 64 bits.
TAG_HASH_DIGITS = 16


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # sha256 hex of the canonical document
    tag: str  # e.g. py3.11-amd64-0123456789abcdef
    document: dict[str, Any]  # what was hashed


def fingerprint(
    platforms: Sequence[tuple[Target, InstallPlan]],
    recipe: ImageRecipe,
    poetry_sets: Sequence[tuple[str, ...] | None] = (),
) -> Fingerprint:
    """`poetry_sets`: per platform, the pinned set of Poetry's venv (`name==version`) when
    Poetry goes into the image and the plugin has pins for it (poetry/pins.py)."""
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "image": recipe.as_dict(),
        "platforms": [
            {
                "target": target.as_dict(),
                "packages": [package.as_dict() for package in plan.packages],
            }
            for target, plan in platforms
        ],
    }
    for entry, pinned in zip(document["platforms"], poetry_sets, strict=False):
        if pinned is not None and recipe.poetry_version is not None:
            entry["poetry"] = list(pinned)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return Fingerprint(
        digest=digest,
        tag=f"{tag_prefix([target for target, _ in platforms])}-{digest[:TAG_HASH_DIGITS]}",
        document=document,
    )


def tag_prefix(targets: Sequence[Target]) -> str:
    """The readable start of the tag: `py3.12-amd64`, `py3.12-amd64-arm64`, `py3.12-arm64-musl`.

    Several platforms name them all, so a multi-platform tag never equals a single-platform one.
    """
    first = targets[0]
    arches = "-".join(target.arch for target in targets)
    suffix = "-musl" if first.libc.family == "musl" else ""
    return f"py{first.python_minor}-{arches}{suffix}"
