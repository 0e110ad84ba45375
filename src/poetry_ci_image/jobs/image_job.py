"""What `build` and `push` share: the job (the project, resolved, and the command's options), the
image's labels, the built-in recipe's image assembled from it, and an image of the same
fingerprint an engine has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from poetry_ci_image.image.assemble import assemble_image
from poetry_ci_image.image.spec import BuildSpec
from poetry_ci_image.tag.fingerprint import SCHEMA_VERSION
from poetry_ci_image.tag.labels import BASE_NAME_LABEL
from poetry_ci_image.tag.labels import FINGERPRINT_LABEL
from poetry_ci_image.tag.labels import PREFIX


if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from poetry_ci_image.engine.docker import Engine
    from poetry_ci_image.image.assemble import Image
    from poetry_ci_image.image.cache.build_cache import BuildCache
    from poetry_ci_image.poetry.project import Project
    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.resolve import Resolved


@dataclass(frozen=True)
class ImageJob:
    """What `build` and `push` work on: the project and its resolved inputs, the seam to the
    engine, and the command's own options."""

    project: Project
    resolved: Resolved
    engine: Callable[[], Engine]  # made only when the work needs an engine
    extra_tags: tuple[str, ...] = ()
    force: bool = False

    @property
    def references(self) -> list[str]:
        """The image's reference, then one per extra tag."""
        reference = self.resolved.reference
        return [str(reference), *(str(reference.with_tag(tag)) for tag in self.extra_tags)]


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


def assemble(job: ImageJob, run: Run, cache: BuildCache, workdir: Path) -> Image:
    """The built-in recipe's image of the job, assembled on the host."""
    from poetry_ci_image.poetry.sources import PoetrySources

    resolved = job.resolved
    spec = BuildSpec(
        platforms=resolved.platforms,
        base=resolved.base,
        poetry_version=resolved.recipe.poetry_version,
        layers=resolved.recipe.layers,
        epoch=resolved.recipe.epoch,
        bytecode=resolved.recipe.bytecode,
        labels=image_labels(resolved),
        tag=resolved.fingerprint.tag,
        system_packages=resolved.recipe.system_packages,
        system_sources=resolved.recipe.system_sources,
    )
    sources = PoetrySources(job.project, workdir, run, cache.directory("poetry"))
    return assemble_image(spec, sources, run, cache, workdir)


def existing_image(resolved: Resolved, engine: Engine, run: Run) -> str | None:
    """The image of this fingerprint if the engine has one: under this name, or another one."""
    reference = str(resolved.reference)
    if engine.has_image(reference):
        run.reporter.status(f"{reference} is already in the Docker engine; nothing to build.")
        return reference
    image = engine.find_labelled(FINGERPRINT_LABEL, resolved.fingerprint.digest)
    if image is None:
        return None
    run.reporter.status(f"The engine has an image of this fingerprint ({image[:19]}); tagging it.")
    engine.tag(image, reference)
    return image
