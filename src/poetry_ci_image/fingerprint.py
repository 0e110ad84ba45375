"""The fingerprint: a hash of exactly what goes into the image, and the tag made from it.

In: the install plan (every package with its version, source and the hash of the file the
target installs), the target, the base image reference, the Dockerfile text, the `hash-files`,
the build arguments, the version of Poetry when it goes into the image, and `SCHEMA_VERSION`.

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
    from poetry_ci_image.plan import InstallPlan
    from poetry_ci_image.target import Target


# Bump when the meaning of the fingerprint changes, so that no old image keeps a tag it no longer
# deserves. 1: first release.
SCHEMA_VERSION = 1
# Hex digits of the digest in the tag: 16 digits are 64 bits.
TAG_HASH_DIGITS = 16


@dataclass(frozen=True)
class ImageRecipe:
    """What the image holds besides the locked packages."""

    base: str
    dockerfile: str  # the text that is built: the user's file or the rendered built-in one
    hash_files: tuple[tuple[str, str], ...] = ()  # (path relative to the project, sha256)
    build_args: tuple[tuple[str, str], ...] = ()  # the user's build arguments
    poetry_version: str | None = None  # Poetry in the image, or None

    def as_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "dockerfile_sha256": hashlib.sha256(self.dockerfile.encode()).hexdigest(),
            "hash_files": dict(self.hash_files),
            "build_args": dict(self.build_args),
            "poetry": self.poetry_version,
        }


@dataclass(frozen=True)
class Fingerprint:
    digest: str  # sha256 hex of the canonical document
    tag: str  # e.g. py3.11-amd64-0123456789abcdef
    document: dict[str, Any]  # what was hashed


def fingerprint(plan: InstallPlan, target: Target, recipe: ImageRecipe) -> Fingerprint:
    document: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "target": target.as_dict(),
        "image": recipe.as_dict(),
        "packages": [package.as_dict() for package in plan.packages],
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return Fingerprint(
        digest=digest,
        tag=f"{target.tag_prefix}-{digest[:TAG_HASH_DIGITS]}",
        document=document,
    )
