"""`poetry image push`: make sure the image of the lock is in the registry.

The path every pipeline takes when dependencies did not change is one registry request: the tag
exists, done, with no engine and no Poetry loaded. Otherwise the built-in recipe assembles the
image on the host and sends it through the registry API (registry/transfer.py): no Docker engine
anywhere. Your own Dockerfile is built and pushed by the engine.
"""

from __future__ import annotations

import time

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.engine.own_dockerfile import build_with_engine
from poetry_ci_image.errors import RegistryError
from poetry_ci_image.errors import TagFileError
from poetry_ci_image.image.build_cache import BuildCache
from poetry_ci_image.jobs.build_job import ImageJob
from poetry_ci_image.jobs.build_job import assemble
from poetry_ci_image.jobs.build_job import extra_references
from poetry_ci_image.plumbing.workspace import run_directory
from poetry_ci_image.registry.transfer import push_to_registry
from poetry_ci_image.tag.tagfile import check_tag_file


if TYPE_CHECKING:
    from poetry_ci_image.image.assemble import Reporter
    from poetry_ci_image.registry.transfer import TransferStats
    from poetry_ci_image.tag.resolve import Resolved


@dataclass(frozen=True)
class PushOutcome:
    reference: str
    pushed: bool  # False when the registry already had it
    seconds: float
    digest: str | None = None  # what the tag points at
    transfer: TransferStats | None = None


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


def push_image(job: ImageJob, reporter: Reporter) -> PushOutcome:
    started = time.monotonic()
    project, resolved, registries = job.project, job.resolved, job.registries
    refuse_stale_tag_file(resolved)
    reference = resolved.reference
    registry = registries.open(reference.registry)
    assert reference.tag is not None
    if not job.force:
        present = registry.manifest_digest(reference.path, reference.tag)
        if present is not None:
            reporter.status(f"{reference} is already in the registry; nothing to build or push.")
            if job.extra_tags:
                reporter.status(
                    "Extra tags are only pushed with a new image; use --force to push them now."
                )
            return PushOutcome(str(reference), False, time.monotonic() - started, present)

    if not resolved.recipe.builtin:
        return _push_with_engine(job, reporter, started)

    with run_directory() as workdir:
        cache = BuildCache(job.cache_root, workdir)
        image = assemble(project, resolved, registries, reporter, workdir, cache)
        reporter.status(f"Pushing {reference} ({image.digest[:19]})")
        stats = push_to_registry(
            image, reference, job.extra_tags, registries, cache, reporter.status, reporter.detail
        )
    listed = registry.manifest_digest(reference.path, reference.tag)
    if listed is None:
        raise RegistryError(
            f"The registry {reference.registry} accepted the push but does not list {reference}.",
            "Check the registry's logs and storage, then push again.",
        )
    if listed != image.digest:
        reporter.status(
            f"Note: {reference} now names {listed[:19]}, not {image.digest[:19]}: another job "
            "pushed the same tag at the same time, with other bytes (other Poetry dependencies?)."
        )
    return PushOutcome(str(reference), True, time.monotonic() - started, listed, stats)


def _push_with_engine(job: ImageJob, reporter: Reporter, started: float) -> PushOutcome:
    """Your own Dockerfile: the engine's image of it (reused or built), pushed by the engine."""
    from poetry_ci_image.jobs.build_job import existing_image

    docker = job.engine()
    reference = job.resolved.reference
    references = [str(reference), *extra_references(job.resolved, job.extra_tags)]
    if existing_image(job.resolved, docker, reporter) is None:
        with run_directory() as workdir:
            build_with_engine(job.project, job.resolved, docker, reporter, references, workdir)
    credentials = job.registries.credentials(reference.registry)
    for target in references:
        reporter.status(f"Pushing {target}")
        docker.push(target, credentials, reporter.detail)
    return PushOutcome(str(reference), True, time.monotonic() - started)
