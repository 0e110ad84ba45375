"""What `poetry image tag` says of a resolved lock besides the reference: the fingerprint and
every input of it (`--json`), and the packages `push` would have to build on the host."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.tag.fingerprint import SCHEMA_VERSION
from poetry_ci_image.tag.plan import built_on_the_host


if TYPE_CHECKING:
    from poetry_ci_image.tag.resolve import Resolved


def describe(resolved: Resolved) -> dict[str, Any]:
    """`tag --json`: the reference, the fingerprint, and every input of it, per platform."""
    settings = resolved.settings
    reference = str(resolved.image) if resolved.image else None
    return {
        "reference": reference,
        "repository": settings.repository,
        "tag": resolved.fingerprint.tag,
        "fingerprint": resolved.fingerprint.digest,
        "schema": SCHEMA_VERSION,
        "image": resolved.recipe.as_dict(),
        "groups": list(resolved.plan.groups),
        "extras": list(resolved.plan.extras),
        "platforms": [
            {
                "target": platform.target.as_dict(),
                "packages": [package.as_dict() for package in platform.plan.packages],
                "not_in_image": {"directory_dependencies": list(platform.plan.directories)},
            }
            for platform in resolved.platforms
        ],
    }


def sdist_warnings(resolved: Resolved) -> list[str]:
    """What `push` would meet in CI, said now: a package without a wheel for the target, whose
    sdist the built-in recipe builds on the host (your own Dockerfile builds them itself)."""
    if not resolved.recipe.builtin:
        return []
    warnings = []
    for platform in resolved.platforms:
        for package in built_on_the_host(platform.plan):
            assert package.distribution is not None
            warnings.append(
                f"Warning: {package.name} {package.version} has no wheel for "
                f"{platform.target.describe()}: `poetry image push` builds one from its "
                f"sdist ({package.distribution.filename}) on the host: pure-Python code builds "
                "anywhere; compiled code only where the deps job runs in the base image with "
                "its build packages (the recipe for compiled dependencies), or use a version "
                "(or an index) with a wheel for the target."
            )
    return warnings
