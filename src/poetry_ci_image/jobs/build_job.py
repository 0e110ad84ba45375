"""`poetry image build`: the image of the lock, for the local engine or as an OCI image layout.

The built-in recipe assembles the image on the host (image/assemble.py) and hands it to the
engine with `docker load`, so the engine's image ID is the config digest the registry would show;
with `--output DIR` it writes an OCI image layout instead and needs no engine at all. Your own
Dockerfile is built by the engine (own_dockerfile.py).

`assemble` is the step both `build` and `push` start with.
"""

from __future__ import annotations

import time

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.engine.own_dockerfile import build_with_engine
from poetry_ci_image.errors import ConfigError
from poetry_ci_image.image.assemble import BuildSpec
from poetry_ci_image.image.assemble import assemble_image
from poetry_ci_image.image.build_cache import BuildCache
from poetry_ci_image.image.layout import docker_archive
from poetry_ci_image.image.layout import fetch_base_layers
from poetry_ci_image.image.layout import write_oci_layout
from poetry_ci_image.plumbing.workspace import run_directory
from poetry_ci_image.tag.labels import FINGERPRINT_LABEL
from poetry_ci_image.tag.labels import image_labels


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.engine.docker import Engine
    from poetry_ci_image.image.assemble import Image
    from poetry_ci_image.image.assemble import Reporter
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.registry.registries import RegistryOpener
    from poetry_ci_image.tag.resolve import Resolved


@dataclass(frozen=True)
class ImageJob:
    """What `build` and `push` work on: the project and its resolved inputs, the seams to the
    engine and the registries, the build cache, and the command's own options."""

    project: Project
    resolved: Resolved
    engine: Callable[[], Engine]  # made only when the work needs an engine
    registries: RegistryOpener
    cache_root: Path | None  # <cache-dir>/ci-image, or None with --no-cache
    extra_tags: tuple[str, ...] = ()
    force: bool = False


@dataclass(frozen=True)
class BuildOutcome:
    reference: str
    built: bool  # False when the engine already had the image
    seconds: float
    image_id: str | None = None  # the engine's image ID (for the built-in recipe: config digest)


def extra_references(resolved: Resolved, tags: Sequence[str]) -> list[str]:
    repository = resolved.reference
    return [str(repository.with_tag(tag)) for tag in tags]


def assemble(
    project: Project,
    resolved: Resolved,
    registries: RegistryOpener,
    reporter: Reporter,
    workdir: Path,
    cache: BuildCache,
) -> Image:
    """The built-in recipe's image of `resolved`, assembled on the host."""
    from poetry_ci_image.poetry.fetch import PoetrySources

    spec = BuildSpec(
        platforms=resolved.platforms,
        base=resolved.base,
        poetry_version=resolved.recipe.poetry_version,
        layers=resolved.recipe.layers,
        epoch=resolved.recipe.epoch,
        labels=image_labels(resolved),
    )
    sources = PoetrySources(
        project, workdir, reporter.status, reporter.detail, registries.cancelled
    )
    return assemble_image(spec, sources, registries, cache, reporter, workdir)


def build_image(job: ImageJob, reporter: Reporter, output: Path | None = None) -> BuildOutcome:
    started = time.monotonic()
    project, resolved, registries = job.project, job.resolved, job.registries
    reference = str(resolved.reference)
    references = [reference, *extra_references(resolved, job.extra_tags)]
    if output is not None:
        if not resolved.recipe.builtin:
            raise ConfigError(
                "--output writes the built-in recipe's image; your own Dockerfile is built by "
                "the engine.",
                "Leave out --output, or remove dockerfile from [tool.poetry-ci-image].",
            )
        with run_directory() as workdir:
            cache = BuildCache(job.cache_root, workdir)
            image = assemble(project, resolved, registries, reporter, workdir, cache)
            base_files: dict[str, Path] = {}
            for platform in image.platforms:
                base_files.update(fetch_base_layers(platform, registries, cache, reporter.status))
            reporter.status(f"Writing the OCI image layout {output}")
            write_oci_layout(image, resolved.fingerprint.tag, output, base_files)
        return BuildOutcome(reference, True, time.monotonic() - started, image.digest)

    if len(resolved.platforms) > 1:
        raise ConfigError(
            "A Docker engine holds one platform per image, and several are configured "
            f"({', '.join(p.target.platform for p in resolved.platforms)}).",
            "Write them all as an OCI image layout with --output DIR, push them with "
            "`poetry image push`, or build one with --platform.",
        )
    docker = job.engine()
    if not job.force:
        existing = existing_image(resolved, docker, reporter)
        if existing is not None:
            for extra in references[1:]:
                docker.tag(existing, extra)
            return BuildOutcome(reference, False, time.monotonic() - started, existing)

    with run_directory() as workdir:
        if not resolved.recipe.builtin:
            image_id = build_with_engine(project, resolved, docker, reporter, references, workdir)
            return BuildOutcome(reference, True, time.monotonic() - started, image_id)
        cache = BuildCache(job.cache_root, workdir)
        image = assemble(project, resolved, registries, reporter, workdir, cache)
        platform = image.platforms[0]
        present = docker.layers_of(platform.base.config_digest)
        base_files = fetch_base_layers(platform, registries, cache, reporter.status, present)
        reporter.status(f"Loading {reference} into the Docker engine")
        docker.load(docker_archive(platform, references, base_files), reporter.detail)
    return BuildOutcome(reference, True, time.monotonic() - started, platform.config_digest)


def existing_image(resolved: Resolved, engine: Engine, reporter: Reporter) -> str | None:
    """The image of this fingerprint if the engine has one: under this name, or another one."""
    reference = str(resolved.reference)
    if engine.has_image(reference):
        reporter.status(f"{reference} is already in the Docker engine; nothing to build.")
        return reference
    image = engine.find_labelled(FINGERPRINT_LABEL, resolved.fingerprint.digest)
    if image is None:
        return None
    reporter.status(f"The engine has an image of this fingerprint ({image[:19]}); tagging it.")
    engine.tag(image, reference)
    return image
