"""`poetry image push`: make sure the image of the lock is in the registry.

The path every pipeline takes when dependencies did not change is one registry request: the tag
exists, done, without the Docker engine. Otherwise the image is built (or taken from the engine),
pushed, and its manifest confirmed.
"""

from __future__ import annotations

import time

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.build import build_image
from poetry_ci_image.build import extra_references
from poetry_ci_image.credentials import find_credentials
from poetry_ci_image.errors import RegistryError
from poetry_ci_image.errors import TagFileError
from poetry_ci_image.tagfile import check_tag_file


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping
    from collections.abc import Sequence

    from poetry_ci_image.build import Reporter
    from poetry_ci_image.engine import Engine
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.registry.registries import RegistryOpener
    from poetry_ci_image.resolve import Resolved


@dataclass(frozen=True)
class PushOutcome:
    reference: str
    pushed: bool  # False when the registry already had it
    built: bool
    seconds: float


def refuse_stale_tag_file(resolved: Resolved) -> None:
    """Refuse when the tag-file records another image than the lock's: tests would use it."""
    settings = resolved.settings
    if settings.tag_file is None:
        return
    check = check_tag_file(
        settings.tag_file, settings.variable, str(resolved.reference), settings.project_dir
    )
    if not check.current:
        raise TagFileError(
            f"{check.describe()}\nThe test jobs would run in another image than the lock's.",
            f"{check.hint} Then push again.",
        )


def push_image(
    project: Project,
    resolved: Resolved,
    engine: Callable[[], Engine],
    registries: RegistryOpener,
    reporter: Reporter,
    env: Mapping[str, str],
    *,
    extra_tags: Sequence[str] = (),
    force: bool = False,
) -> PushOutcome:
    started = time.monotonic()
    refuse_stale_tag_file(resolved)
    reference = resolved.reference
    credentials = find_credentials(reference.registry, env)
    registry = registries.open(reference.registry)

    if not force and registry.manifest_digest(reference.path, str(reference.tag)):
        reporter.status(f"{reference} is already in the registry; nothing to build or push.")
        if extra_tags:
            reporter.status(
                "Extra tags are only pushed with a new image; use --force to push them now."
            )
        return PushOutcome(
            str(reference), pushed=False, built=False, seconds=time.monotonic() - started
        )

    docker = engine()
    outcome = build_image(
        project, resolved, docker, reporter, env, extra_tags=extra_tags, force=force
    )
    for target in [str(reference), *extra_references(resolved, extra_tags)]:
        reporter.status(f"Pushing {target}")
        docker.push(target, credentials, reporter.detail)

    if not registry.manifest_digest(reference.path, str(reference.tag)):
        raise RegistryError(
            f"The registry {reference.registry} accepted the push but does not list {reference}.",
            "Check the registry's logs and storage, then push again.",
        )
    return PushOutcome(
        str(reference), pushed=True, built=outcome.built, seconds=time.monotonic() - started
    )
