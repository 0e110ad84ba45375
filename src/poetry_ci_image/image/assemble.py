"""The image of the install plan, assembled on the host: no Docker engine, no container.

    plan -> files (wheels installed at their paths in the image)
         -> layers (the venvs' skeleton, Poetry, the dependencies by the layer rule)
         -> image (the base's config and layers, plus ours: config + manifest; an index
            for several platforms)

Each step is a function of the one before (files.py, layers.py, tarball.py, config.py): this
module reads and checks the base of every platform first (base_image.py), then has the layers
written (layer_writer.py, through the build cache) and makes each platform's config and manifest,
and an index for several. `Registry` is the seam to the base's registry, `Sources`
(layer_writer.py) the one to where the wheels come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from poetry_ci_image.image.base_image import base_facts
from poetry_ci_image.image.base_image import check_base
from poetry_ci_image.image.base_image import resolve_base
from poetry_ci_image.image.base_root import BaseRoots
from poetry_ci_image.image.base_root import BaseSource
from poetry_ci_image.image.bytecode.maker import BytecodeMaker
from poetry_ci_image.image.bytecode.maker import Interpreter
from poetry_ci_image.image.config import AddedLayer
from poetry_ci_image.image.config import image_config
from poetry_ci_image.image.config import image_index
from poetry_ci_image.image.config import image_manifest
from poetry_ci_image.image.layer_context import LayerContext
from poetry_ci_image.image.layer_context import workers
from poetry_ci_image.image.layer_writer import LayerWriter
from poetry_ci_image.image.library_check import check_libraries
from poetry_ci_image.image.sbom import DebPackage
from poetry_ci_image.image.sbom import SbomInputs
from poetry_ci_image.image.sbom import sbom_artifact
from poetry_ci_image.image.sbom import sbom_document
from poetry_ci_image.image.system.archive import Archive
from poetry_ci_image.image.system.packages import SystemPackages
from poetry_ci_image.image.system.packages import SystemRequest
from poetry_ci_image.oci import OCI_INDEX
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.oci import digest_of
from poetry_ci_image.tag.labels import BASE_DIGEST_LABEL
from poetry_ci_image.tag.labels import FINGERPRINT_LABEL
from poetry_ci_image.tag.labels import SYSTEM_PACKAGES_LABEL
from poetry_ci_image.tag.labels import TARGET_LABEL
from poetry_ci_image.tag.recipe import POETRY_HOME
from poetry_ci_image.tag.recipe import VENV


if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from poetry_ci_image.image.base_files import BaseFacts
    from poetry_ci_image.image.base_image import BaseImage
    from poetry_ci_image.image.cache.build_cache import BuildCache
    from poetry_ci_image.image.layer_context import Sources
    from poetry_ci_image.image.layer_writer import PlatformLayers
    from poetry_ci_image.image.spec import BuildSpec
    from poetry_ci_image.image.tarball import LayerBlob
    from poetry_ci_image.image.venv import BasePython
    from poetry_ci_image.oci import Descriptor
    from poetry_ci_image.registry.registries import Registry
    from poetry_ci_image.run import Run
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import TargetPlan


@dataclass(frozen=True)
class PlatformImage:
    platform: str
    target: Target
    base: BaseImage
    config: bytes
    manifest: bytes
    layers: tuple[LayerBlob, ...]  # ours, after the base's
    comments: tuple[str, ...]  # what each of ours holds, as its history entry says
    sbom: bytes = b""  # CycloneDX JSON of what the image holds (sbom.py)

    @property
    def sbom_artifact(self) -> bytes:
        """The OCI artifact manifest that attaches the SBOM to this platform's manifest."""
        return sbom_artifact(self.sbom, self.manifest)

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    @property
    def config_digest(self) -> str:
        return digest_of(self.config)

    @property
    def base_layers(self) -> tuple[Descriptor, ...]:
        return self.base.layers


@dataclass(frozen=True)
class Image:
    """The assembled image: one manifest, or an index of one per platform."""

    platforms: tuple[PlatformImage, ...]
    index: bytes | None

    @property
    def top(self) -> bytes:
        """What the tag points at: the index, or the single platform's manifest."""
        return self.index if self.index is not None else self.platforms[0].manifest

    @property
    def media_type(self) -> str:
        return OCI_INDEX if self.index is not None else OCI_MANIFEST

    @property
    def digest(self) -> str:
        return digest_of(self.top)


def assemble_image(
    spec: BuildSpec, sources: Sources, run: Run, cache: BuildCache, workdir: Path
) -> Image:
    """The image of `spec`: every check of the base first, then the layers, then the config."""
    registry = run.registries.open(spec.base.registry)
    bases: list[tuple[TargetPlan, BaseImage, BasePython]] = []
    facts_of: dict[str, BaseFacts] = {}
    for build in spec.platforms:
        platform = build.target.platform
        run.reporter.status(f"Reading the base image {spec.base} for {platform}")
        with run.timeline.step("read the base image's manifest and config"):
            base = resolve_base(registry, spec.base, platform)
        with run.timeline.step("read the base image's files"):
            facts = base_facts(base, registry, cache.facts, run.reporter)
        bases.append((build, base, check_base(base, facts, build.target, build.plan)))
        facts_of[platform] = facts
    roots = BaseRoots(
        {
            build.target.platform: BaseSource(
                build.target.platform, str(spec.base), base.digest, partial(_layers, registry, base)
            )
            for build, base, _ in bases
        },
        cache.directory("roots"),
        run.reporter,
    )
    interpreters = {
        build.target.platform: Interpreter(
            build.target.platform, str(spec.base), python.executable, python.version
        )
        for build, _, python in bases
    }
    bytecode = BytecodeMaker(spec.bytecode, interpreters, roots, workers())
    system = None
    if spec.system_packages:
        archive = Archive(cache.directory("apt"), run.reporter, run.cancelled)
        request = SystemRequest(spec.system_packages, spec.system_sources)
        system = SystemPackages(request, roots, archive, cache.facts, run.reporter, workdir)

    def packages() -> SystemPackages:  # the base's archive, for what provides a library
        archive = Archive(cache.directory("apt"), run.reporter, run.cancelled)
        request = SystemRequest(spec.system_packages, spec.system_sources)
        return system or SystemPackages(request, roots, archive, cache.facts, run.reporter, workdir)

    try:
        context = LayerContext(spec, sources, cache, run, workdir, bytecode, roots)
        writer = LayerWriter(context, system)
        images = []
        for build, base, python in bases:
            facts = facts_of[build.target.platform]
            written = writer.layers(build, base, python)
            with run.timeline.step("check that compiled files find their libraries"):
                check_libraries(written, facts, build.target, packages)
            images.append(_platform_image(spec, written, build, base, facts))
    finally:
        bytecode.close()
    cache.prune()
    index = None
    if len(images) > 1:
        index = image_index([(image.manifest, image.platform) for image in images])
    return Image(tuple(images), index)


def _layers(registry: Registry, base: BaseImage) -> list[Iterator[bytes]]:
    """The base's layers, bottom first, each read from its registry as it is consumed."""
    return [registry.stream_blob(base.reference.path, layer.digest) for layer in base.layers]


def _platform_image(
    spec: BuildSpec,
    written: PlatformLayers,
    build: TargetPlan,
    base: BaseImage,
    facts: BaseFacts,
) -> PlatformImage:
    target = build.target
    layers, system = written.layers, written.system
    added = [AddedLayer(blob.digest, blob.diff_id, blob.size, comment) for blob, comment in layers]
    labels = {
        **spec.labels,
        TARGET_LABEL: target.describe(),
        BASE_DIGEST_LABEL: base.digest,
    }
    env = {"VIRTUAL_ENV": VENV}
    if system.installed:
        # The versions the archive gave: the tag names the request, the image what it holds.
        labels[SYSTEM_PACKAGES_LABEL] = ",".join(f"{n}={v}" for n, v in system.installed)
    path_append = [f"{POETRY_HOME}/bin"] if spec.poetry_version else []
    config = image_config(
        base.config,
        added,
        env=env,
        path_prepend=[f"{VENV}/bin"],
        path_append=path_append,
        labels=labels,
        epoch=spec.epoch,
    )
    manifest = image_manifest(config, base.layers, added)
    added_debs = {deb.name: deb for deb in system.debs}
    debs = [
        DebPackage(name, version, arch)
        for name, version, arch in facts.packages
        if name not in added_debs and facts.os_id != "alpine"
    ]
    sbom = sbom_document(
        SbomInputs(
            title=spec.labels.get("org.opencontainers.image.title", "dependencies"),
            version=spec.tag,
            fingerprint=spec.labels.get(FINGERPRINT_LABEL, ""),
            platform=target.platform,
            venv=VENV,
            python=build.plan.packages,
            poetry_home=POETRY_HOME if spec.poetry_version else None,
            poetry=written.poetry,
            os_id=facts.os_id,
            os_version=facts.os_version,
            debs=sorted([*debs, *added_debs.values()], key=lambda deb: deb.name),
            epoch=spec.epoch,
        )
    )
    return PlatformImage(
        target.platform,
        target,
        base,
        config,
        manifest,
        tuple(blob for blob, _ in layers),
        tuple(comment for _, comment in layers),
        sbom,
    )
