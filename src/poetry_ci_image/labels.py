"""Image labels: OCI annotations, and which lock state the image holds.

`docker inspect` then says which fingerprint, schema and target an image was built for. Nothing
here may carry a secret: URLs lose their user-info before they become labels.
"""

from __future__ import annotations

import subprocess

from typing import TYPE_CHECKING

from poetry_ci_image import __version__
from poetry_ci_image.fingerprint import SCHEMA_VERSION
from poetry_ci_image.urls import strip_credentials


if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from poetry_ci_image.resolve import Resolved


PREFIX = "io.github.poetry-ci-image"
FINGERPRINT_LABEL = f"{PREFIX}.fingerprint"


def image_labels(resolved: Resolved, env: Mapping[str, str], project_dir: Path) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.title": f"{project_dir.name} dependencies",
        "org.opencontainers.image.base.name": resolved.recipe.base,
        FINGERPRINT_LABEL: resolved.fingerprint.digest,
        f"{PREFIX}.schema": str(SCHEMA_VERSION),
        f"{PREFIX}.target": resolved.target.describe(),
        f"{PREFIX}.groups": ",".join(resolved.plan.groups),
        f"{PREFIX}.extras": ",".join(resolved.plan.extras),
        f"{PREFIX}.poetry": resolved.recipe.poetry_version or "",
        f"{PREFIX}.plugin-version": __version__,
    }
    source = _source(env, project_dir)
    if source:
        labels["org.opencontainers.image.source"] = source
    revision = _revision(env, project_dir)
    if revision:
        labels["org.opencontainers.image.revision"] = revision
    return labels


def _source(env: Mapping[str, str], project_dir: Path) -> str | None:
    if env.get("CI_PROJECT_URL"):
        return strip_credentials(env["CI_PROJECT_URL"])
    if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY"):
        return f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}"
    remote = _git(project_dir, "config", "--get", "remote.origin.url")
    return strip_credentials(remote) if remote else None


def _revision(env: Mapping[str, str], project_dir: Path) -> str | None:
    return (
        env.get("CI_COMMIT_SHA") or env.get("GITHUB_SHA") or _git(project_dir, "rev-parse", "HEAD")
    )


def _git(project_dir: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(project_dir), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    output = result.stdout.strip()
    return output if result.returncode == 0 and output else None
