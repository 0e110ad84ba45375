"""`poetry image push`: make sure the image of the lock is in the registry.

The path every pipeline takes when dependencies did not change is one registry request: the tag
exists, done, with no engine and no Poetry loaded. Otherwise the built-in recipe assembles the
image on the host and sends it through the registry API (registry/transfer.py): no Docker engine
anywhere. Your own Dockerfile is built and pushed by the engine.
"""

from __future__ import annotations

import time

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import RegistryError
from poetry_ci_image.errors import TagFileError
from poetry_ci_image.image.cache.build_cache import BuildCache
from poetry_ci_image.image.sbom import EMPTY
from poetry_ci_image.jobs.dockerfile_job import build_with_engine
from poetry_ci_image.jobs.image_job import assemble
from poetry_ci_image.jobs.image_job import existing_image
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.oci import digest_of
from poetry_ci_image.oci import file_chunks
from poetry_ci_image.plumbing.workspace import run_directory
from poetry_ci_image.registry.blob_places import BlobPlaces
from poetry_ci_image.registry.layer_cache import RegistryCache
from poetry_ci_image.registry.referrers import attach
from poetry_ci_image.registry.transfer import Blob
from poetry_ci_image.registry.transfer import ManifestPut
from poetry_ci_image.registry.transfer import push_to_registry
from poetry_ci_image.tag.tagfile import check_tag_file


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.assemble import Image
    from poetry_ci_image.jobs.image_job import ImageJob
    from poetry_ci_image.plumbing.progress import Timeline
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.registry.registries import Registry
    from poetry_ci_image.registry.transfer import TransferStats
    from poetry_ci_image.run import Run
    from poetry_ci_image.tag.resolve import Resolved


@dataclass(frozen=True)
class PushOutcome:
    reference: str
    pushed: bool  # False when the registry already had it
    seconds: float
    digest: str | None = None  # what the tag points at
    transfer: TransferStats | None = None
    image: Image | None = None  # the image assembled (built-in recipe, when pushed)


def push_report(outcome: PushOutcome, timeline: Timeline) -> dict[str, Any]:
    """What `push --json` prints: the reference, what was sent, how long each step took (and
    how long the run had taken when the report was made), and the layers of each platform's
    image (when one was made)."""
    platforms = [
        {
            "platform": platform.platform,
            "digest": platform.digest,
            "config": platform.config_digest,
            "base_layers": [layer.as_dict() for layer in platform.base_layers],
            "layers": [
                {"digest": blob.digest, "size": blob.size, "comment": comment}
                for blob, comment in zip(platform.layers, platform.comments, strict=True)
            ],
        }
        for platform in (outcome.image.platforms if outcome.image else ())
    ]
    return {
        "reference": outcome.reference,
        "pushed": outcome.pushed,
        "digest": outcome.digest,
        "seconds": round(outcome.seconds, 3),
        "blobs": outcome.transfer.as_dict() if outcome.transfer else None,
        "elapsed": round(timeline.now(), 3),
        "steps": [step.as_dict() for step in timeline.steps],
        "platforms": platforms,
    }


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


def push_image(job: ImageJob, run: Run) -> PushOutcome:
    started = time.monotonic()
    resolved = job.resolved
    refuse_stale_tag_file(resolved)
    reference = resolved.reference
    registry = run.registries.open(reference.registry)
    assert reference.tag is not None
    if not job.force:
        with run.timeline.step("ask the registry for the tag"):
            present = registry.manifest_digest(reference.path, reference.tag)
        if present is not None:
            run.reporter.status(
                f"{reference} is already in the registry; nothing to build or push."
            )
            _move_extra_tags(job, registry, present, run)
            return PushOutcome(str(reference), False, time.monotonic() - started, present)

    if not resolved.recipe.builtin:
        return _push_with_engine(job, run, started)

    with run_directory() as workdir:
        with run.timeline.step("read the registry's layer cache"):
            remote = RegistryCache(registry, reference.path, run.reporter)
            remote.load()
        cache = BuildCache(run.cache_root, workdir, remote)
        image = assemble(job, run, cache, workdir)
        run.reporter.status(f"Pushing {reference} ({image.digest[:19]})")
        with run.timeline.step("send the blobs and the manifest"):
            blobs = blobs_of(image, cache, reference)
            places = BlobPlaces(None if run.cache_root is None else run.cache_root / "places")
            stats = push_to_registry(
                blobs, platform_manifests(image), reference, run.registries, run.reporter, places
            )
        with run.timeline.step("attach the SBOMs"):
            attach_sboms(image, registry, reference.path, run)
        with run.timeline.step("put the tags"):
            for put in tag_manifests(image, [resolved.fingerprint.tag, *job.extra_tags]):
                registry.put_manifest(reference.path, put.reference, put.body, put.media_type)
        with run.timeline.step("update the registry's layer cache"):
            # Only the layers this image holds: the repository has their blobs now. A layer
            # made and not used (a package's own layer, written as soon as it is installed,
            # when the package then shares a layer) would make the registry refuse the
            # cache's manifest, which names every blob of the table.
            pushed = {blob.digest for blob in blobs}
            layers = {k: v for k, v in cache.used.layers.items() if v.digest in pushed}
            remote.save(layers, cache.used.records)
    listed = registry.manifest_digest(reference.path, reference.tag)
    if listed is None:
        raise RegistryError(
            f"The registry {reference.registry} accepted the push but does not list {reference}.",
            "Check the registry's logs and storage, then push again.",
        )
    if listed != image.digest:
        run.reporter.status(
            f"Note: {reference} now names {listed[:19]}, not {image.digest[:19]}: another job "
            "pushed the same tag at the same time, with other bytes (other Poetry dependencies?)."
        )
    return PushOutcome(str(reference), True, time.monotonic() - started, listed, stats, image)


def _move_extra_tags(job: ImageJob, registry: Registry, digest: str, run: Run) -> None:
    """Point each `--tag` at the image the registry has (a moving alias, such as the default
    branch's name): one manifest put per tag that points elsewhere, none when it points there."""
    reference = job.resolved.reference
    manifest = None
    for tag in job.extra_tags:
        if registry.manifest_digest(reference.path, tag) == digest:
            continue
        manifest = manifest or registry.get_manifest(reference.path, digest)
        registry.put_manifest(reference.path, tag, manifest.body, manifest.media_type)
        run.reporter.status(f"Tagged {reference.with_tag(tag)} as {digest[:19]}")


def blobs_of(image: Image, cache: BuildCache, target: ImageReference) -> list[Blob]:
    """Every blob of `image`, each digest once: base layers, the plugin's layers, configs.

    A base layer comes from the base's repository (mounted within a registry, else copied),
    from the build cache when `image build` kept it; a layer the registry's layer cache gave is
    in `target`'s repository already."""
    found: dict[str, Blob] = {}
    for platform in image.platforms:
        base = platform.base.reference
        for number, descriptor in enumerate(platform.base_layers, start=1):
            kept = cache.blobs.use(descriptor.digest, descriptor.size)
            read = _file(kept) if kept is not None else None
            found.setdefault(
                descriptor.digest,
                Blob(descriptor.digest, descriptor.size, f"base layer {number}", read, base),
            )
        for layer in platform.layers:
            if layer.path is None:  # found in the registry's layer cache: the repository has it
                blob = Blob(layer.digest, layer.size, "layer", origin=target)
            else:
                blob = Blob(layer.digest, layer.size, "layer", _file(layer.path))
            found.setdefault(layer.digest, blob)
        what = f"config {platform.platform}"
        config = Blob(platform.config_digest, len(platform.config), what, _bytes(platform.config))
        found.setdefault(platform.config_digest, config)
    return list(found.values())


def manifests_of(image: Image, tags: Sequence[str]) -> list[ManifestPut]:
    """Each platform's manifest by digest; then the top under each tag."""
    return platform_manifests(image) + tag_manifests(image, tags)


def platform_manifests(image: Image) -> list[ManifestPut]:
    """Each platform's manifest, by its digest (what an index, and an SBOM, name)."""
    return [ManifestPut(p.digest, p.manifest, OCI_MANIFEST) for p in image.platforms]


def tag_manifests(image: Image, tags: Sequence[str]) -> list[ManifestPut]:
    """The top (the index, or the one platform's manifest) under each tag: put last."""
    return [ManifestPut(tag, image.top, image.media_type) for tag in tags]


def attach_sboms(image: Image, registry: Registry, repository: str, run: Run) -> list[str]:
    """Each platform's SBOM, attached to its manifest; how each was (referrers API or tag
    scheme)."""
    ways = []
    for platform in image.platforms:
        blobs = {digest_of(EMPTY): EMPTY, digest_of(platform.sbom): platform.sbom}
        way = attach(registry, repository, platform.sbom_artifact, blobs)
        run.reporter.detail(f"SBOM of {platform.platform}: attached ({way})")
        ways.append(way)
    return ways


def _file(path: Path) -> Callable[[], Iterable[bytes]]:
    return partial(file_chunks, path)


def _bytes(data: bytes) -> Callable[[], Iterable[bytes]]:
    return partial(list, [data])


def _push_with_engine(job: ImageJob, run: Run, started: float) -> PushOutcome:
    """Your own Dockerfile: the engine's image of it (reused or built), pushed by the engine."""
    docker = job.engine()
    reference = job.resolved.reference
    references = job.references
    if existing_image(job.resolved, docker, run) is None:
        with run_directory() as workdir:
            build_with_engine(job.project, job.resolved, docker, run, references, workdir)
    credentials = run.registries.credentials(reference.registry)
    for target in references:
        run.reporter.status(f"Pushing {target}")
        docker.push(target, credentials, run.reporter)
    return PushOutcome(str(reference), True, time.monotonic() - started)
