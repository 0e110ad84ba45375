"""`poetry image build`: the image of the lock, for the local engine or as an OCI image layout.

The built-in recipe assembles the image on the host (image/assemble.py) and hands it to the
engine with `docker load`, so the engine's image ID is the config digest the registry would show;
with `--output DIR` it writes an OCI image layout instead and needs no engine at all. Your own
Dockerfile is built by the engine (jobs/dockerfile_job.py).
"""

from __future__ import annotations

import time

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.image.layout import docker_archive
from poetry_ci_image.image.layout import fetch_base_layers
from poetry_ci_image.image.layout import write_oci_layout
from poetry_ci_image.jobs.dockerfile_job import build_with_engine
from poetry_ci_image.jobs.image_job import assemble
from poetry_ci_image.jobs.image_job import existing_image
from poetry_ci_image.plumbing.workspace import run_directory


if TYPE_CHECKING:
    from pathlib import Path

    from poetry_ci_image.jobs.image_job import ImageJob
    from poetry_ci_image.run import Run


@dataclass(frozen=True)
class BuildOutcome:
    reference: str
    built: bool  # False when the engine already had the image
    seconds: float


def build_image(job: ImageJob, run: Run, output: Path | None = None) -> BuildOutcome:
    started = time.monotonic()
    resolved = job.resolved
    references = job.references
    reference = references[0]
    if output is not None:
        if not resolved.recipe.builtin:
            raise ConfigError(
                "--output writes the built-in recipe's image; your own Dockerfile is built by "
                "the engine.",
                "Leave out --output, or remove dockerfile from [tool.poetry-ci-image].",
            )
        with run_directory() as workdir:
            cache = BuildCache(run.cache_root, workdir)
            image = assemble(job, run, cache, workdir)
            base_files: dict[str, Path] = {}
            for platform in image.platforms:
                base_files.update(fetch_base_layers(platform, run, cache))
            run.reporter.status(f"Writing the OCI image layout {output}")
            write_oci_layout(image, resolved.fingerprint.tag, output, base_files)
        return BuildOutcome(reference, True, time.monotonic() - started)

    if len(resolved.platforms) > 1:
        raise ConfigError(
            "A Docker engine holds one platform per image, and several are configured "
            f"({', '.join(p.target.platform for p in resolved.platforms)}).",
            "Write them all as an OCI image layout with --output DIR, push them with "
            "`poetry image push`, or build one with --platform.",
        )
    docker = job.engine()
    if not job.force:
        existing = existing_image(resolved, docker, run)
        if existing is not None:
            for extra in references[1:]:
                docker.tag(existing, extra)
            return BuildOutcome(reference, False, time.monotonic() - started)

    with run_directory() as workdir:
        if not resolved.recipe.builtin:
            build_with_engine(job.project, resolved, docker, run, references, workdir)
            return BuildOutcome(reference, True, time.monotonic() - started)
        cache = BuildCache(run.cache_root, workdir)
        image = assemble(job, run, cache, workdir)
        platform = image.platforms[0]
        present = docker.layers_of(platform.base.config_digest)
        base_files = fetch_base_layers(platform, run, cache, present)
        run.reporter.status(f"Loading {reference} into the Docker engine")
        docker.load(docker_archive(platform, references, base_files), run.reporter)
    return BuildOutcome(reference, True, time.monotonic() - started)
