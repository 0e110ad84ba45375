"""Image labels: OCI annotations, and which lock state the image holds.

`docker inspect` then says which fingerprint, schema and target an image was built for. The
labels are a function of the fingerprint's inputs alone (no build time, no git revision, no
directory name), so the same lock gives the same image anywhere; nothing here carries a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.tag.fingerprint import SCHEMA_VERSION


if TYPE_CHECKING:
    from poetry_ci_image.tag.resolve import Resolved


PREFIX = "io.github.poetry-ci-image"
FINGERPRINT_LABEL = f"{PREFIX}.fingerprint"
TARGET_LABEL = f"{PREFIX}.target"
BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"


def image_labels(resolved: Resolved) -> dict[str, str]:
    """The labels every platform's image carries (the target's label is set per platform)."""
    labels = {
        BASE_NAME_LABEL: resolved.base.canonical,
        FINGERPRINT_LABEL: resolved.fingerprint.digest,
        f"{PREFIX}.schema": str(SCHEMA_VERSION),
        f"{PREFIX}.groups": ",".join(resolved.plan.groups),
        f"{PREFIX}.extras": ",".join(resolved.plan.extras),
        f"{PREFIX}.poetry": resolved.recipe.poetry_version or "",
    }
    if resolved.project_name:
        labels["org.opencontainers.image.title"] = f"{resolved.project_name} dependencies"
    return labels
