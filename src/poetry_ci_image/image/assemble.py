"""The image of the install plan, assembled on the host: no Docker engine, no container.

    plan -> files (wheels installed at their paths in the image)
         -> layers (the venvs' skeleton, Poetry, the dependencies by the layer rule)
         -> image (the base's config and layers, plus ours: config + manifest; an index
            for several platforms)

Each step is a function of the one before (files.py, layers.py, tarball.py, config.py); this
module runs them in order, for each platform, through the build cache (cache.py), so a layer
whose packages did not change is not written again, and its wheels are not even fetched.
`Sources` is the seam to where the wheels come from (Poetry's cache and credentials, in
poetry/fetch.py); `Registry` the seam to the base's registry.
"""

from __future__ import annotations

import threading

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Protocol
from typing import TypeVar

from poetry_ci_image.image.base import base_facts
from poetry_ci_image.image.base import check_base
from poetry_ci_image.image.base import resolve_base
from poetry_ci_image.image.cache import cache_key
from poetry_ci_image.image.config import OCI_INDEX
from poetry_ci_image.image.config import OCI_MANIFEST
from poetry_ci_image.image.config import AddedLayer
from poetry_ci_image.image.config import digest_of
from poetry_ci_image.image.config import image_config
from poetry_ci_image.image.config import image_index
from poetry_ci_image.image.config import image_manifest
from poetry_ci_image.image.files import direct_url
from poetry_ci_image.image.files import install_wheel
from poetry_ci_image.image.layers import LayerGroup
from poetry_ci_image.image.layers import Weighed
from poetry_ci_image.image.layers import assign_layers
from poetry_ci_image.image.layers import describe_overlap
from poetry_ci_image.image.layers import resolve_overlaps
from poetry_ci_image.image.tarball import LEVEL
from poetry_ci_image.image.venv import venv_skeleton
from poetry_ci_image.labels import BASE_DIGEST_LABEL
from poetry_ci_image.labels import TARGET_LABEL


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.base import BaseImage
    from poetry_ci_image.image.base import Descriptor
    from poetry_ci_image.image.cache import BuildCache
    from poetry_ci_image.image.files import PackageFiles
    from poetry_ci_image.image.tarball import Entry
    from poetry_ci_image.image.tarball import LayerBlob
    from poetry_ci_image.image.venv import BasePython
    from poetry_ci_image.plan import InstallPlan
    from poetry_ci_image.plan import PlannedPackage
    from poetry_ci_image.reference import ImageReference
    from poetry_ci_image.registry.registries import RegistryOpener
    from poetry_ci_image.target import Target


T = TypeVar("T")
R = TypeVar("R")
# Bump when the same inputs would give other layer bytes: it is in the fingerprint and the keys.
BUILDER_FORMAT = 1
VENV = "/opt/venv"
POETRY_HOME = "/opt/poetry"


class Reporter(Protocol):
    def status(self, message: str) -> None:
        """A line a person follows the work by."""

    def detail(self, message: str) -> None:
        """A line shown with -v only."""


class Sources(Protocol):
    """Where the plan's wheels come from (poetry/fetch.py: Poetry's cache and credentials)."""

    def wheels(self, packages: Sequence[PlannedPackage], target: Target) -> dict[str, Path]:
        """A wheel per package (sdists and git checkouts built on the host), by name."""
        ...

    def poetry_wheels(self, target: Target) -> list[Path]:
        """Poetry's wheels (and its dependencies') for the target."""
        ...


@dataclass(frozen=True)
class PlatformBuild:
    """What one platform's image is made of: its target and plan."""

    target: Target
    plan: InstallPlan


@dataclass(frozen=True)
class BuildSpec:
    """Every input of the image, as plain values (from `resolve.Resolved`)."""

    platforms: tuple[PlatformBuild, ...]
    base: ImageReference
    poetry_version: str | None  # None: Poetry stays out
    layers: int
    epoch: int
    labels: Mapping[str, str]  # the same on every platform's image


@dataclass(frozen=True)
class PlatformImage:
    platform: str
    target: Target
    base: BaseImage
    config: bytes
    manifest: bytes
    layers: tuple[LayerBlob, ...]  # ours, after the base's

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
    spec: BuildSpec,
    sources: Sources,
    registries: RegistryOpener,
    cache: BuildCache,
    reporter: Reporter,
    workdir: Path,
) -> Image:
    """The image of `spec`: every check of the base first, then the layers, then the config."""
    registry = registries.open(spec.base.registry)
    bases: list[tuple[PlatformBuild, BaseImage, BasePython]] = []
    for build in spec.platforms:
        platform = build.target.platform
        reporter.status(f"Reading the base image {spec.base} for {platform}")
        base = resolve_base(registry, spec.base, platform)
        facts = base_facts(base, registry, cache.root / "bases", reporter.detail)
        bases.append((build, base, check_base(base, facts, build.target, build.plan)))
    builder = _LayerBuilder(spec, sources, cache, reporter, workdir, registries.cancelled)
    images = [builder.platform_image(build, base, python) for build, base, python in bases]
    cache.prune()
    index = None
    if len(images) > 1:
        index = image_index([(image.manifest, image.platform) for image in images])
    return Image(tuple(images), index)


class _LayerBuilder:
    """Writes (or finds in the cache) every layer of every platform, sharing what is the same."""

    def __init__(
        self,
        spec: BuildSpec,
        sources: Sources,
        cache: BuildCache,
        reporter: Reporter,
        workdir: Path,
        cancelled: threading.Event,
    ) -> None:
        self.spec = spec
        self.sources = sources
        self.cache = cache
        self.reporter = reporter
        self.workdir = workdir
        self.cancelled = cancelled
        self._staged: dict[str, PackageFiles] = {}  # by wheel key
        self._lock = threading.Lock()

    def platform_image(
        self, build: PlatformBuild, base: BaseImage, python: BasePython
    ) -> PlatformImage:
        target = build.target
        minor = target.python_minor
        layers: list[tuple[LayerBlob, str]] = [
            (self._skeleton(python), f"the venvs' skeleton, for {python.executable}")
        ]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poetry") as background:
            # Poetry's wheels (a download, the first time) come while the dependencies do.
            poetry = (
                background.submit(self._poetry_layer, target)
                if self.spec.poetry_version is not None
                else None
            )
            try:
                dependencies = self._dependency_layers(build, minor)
            except BaseException:
                self.cancelled.set()
                raise
            if poetry is not None:
                comment = f"Poetry {self.spec.poetry_version} in {POETRY_HOME}"
                layers.append((poetry.result(), comment))
        layers += dependencies
        added = [
            AddedLayer(blob.digest, blob.diff_id, blob.size, comment) for blob, comment in layers
        ]
        labels = {
            **self.spec.labels,
            TARGET_LABEL: target.describe(),
            BASE_DIGEST_LABEL: base.digest,
        }
        path_append = [f"{POETRY_HOME}/bin"] if self.spec.poetry_version else []
        config = image_config(
            base,
            added,
            env={"VIRTUAL_ENV": VENV},
            path_prepend=[f"{VENV}/bin"],
            path_append=path_append,
            labels=labels,
            epoch=self.spec.epoch,
        )
        manifest = image_manifest(config, base.layers, added)
        return PlatformImage(
            target.platform, target, base, config, manifest, tuple(blob for blob, _ in layers)
        )

    # The skeleton and Poetry ------------------------------------------------------------------

    def _skeleton(self, python: BasePython) -> LayerBlob:
        entries = venv_skeleton(VENV, python)
        if self.spec.poetry_version is not None:
            entries += venv_skeleton(POETRY_HOME, python)
        key = cache_key(
            "skeleton",
            BUILDER_FORMAT,
            LEVEL,
            self.spec.epoch,
            VENV,
            python.executable,
            python.version,
            self.spec.poetry_version is not None,
        )
        return self.cache.layer(key) or self.cache.write_layer(key, entries, self.spec.epoch)

    def _poetry_layer(self, target: Target) -> LayerBlob:
        from poetry_ci_image.digests import file_digest

        wheels = sorted(self.sources.poetry_wheels(target), key=lambda path: path.name)
        key = cache_key(
            "poetry",
            BUILDER_FORMAT,
            LEVEL,
            self.spec.epoch,
            POETRY_HOME,
            target.python_minor,
            [(wheel.name, file_digest(wheel)) for wheel in wheels],
        )
        cached = self.cache.layer(key)
        if cached is not None:
            self.reporter.detail(f"layer Poetry: {_size(cached.size)}, from the cache")
            return cached
        self.reporter.status(f"Writing Poetry's layer ({len(wheels)} distributions)")
        installed = self._parallel(
            lambda wheel: install_wheel(
                wheel.name,
                wheel,
                venv=POETRY_HOME,
                python=target.python_minor,
                spill=self.workdir / "spill" / "poetry" / wheel.name,
            ),
            wheels,
        )
        lost, _ = resolve_overlaps(installed)
        entries = [
            entry
            for package in installed
            for entry in package.entries
            if entry.path not in lost.get(package.name, ())
        ]
        blob = self.cache.write_layer(key, entries, self.spec.epoch)
        self.reporter.detail(f"layer Poetry: {_size(blob.size)}")
        return blob

    # The dependencies ----------------------------------------------------------------------------

    def _dependency_layers(self, build: PlatformBuild, minor: str) -> list[tuple[LayerBlob, str]]:
        packages = {package.name: package for package in build.plan.packages}
        keys = {name: _wheel_key(package, minor) for name, package in packages.items()}
        lists: dict[str, PackageFiles] = {}
        for name, key in keys.items():
            known = self.cache.file_list(key, name)
            if known is not None:
                lists[name] = known
        self._stage([packages[n] for n in packages if n not in lists], build.target, keys)
        for name, key in keys.items():
            if name not in lists:
                lists[name] = self._staged[key]
        groups = assign_layers(
            [Weighed(name, lists[name].size, _native(packages[name])) for name in sorted(packages)],
            self.spec.layers,
        )
        lost, overlaps = resolve_overlaps(list(lists.values()))
        site_packages = f"{VENV}/lib/python{minor}/site-packages"
        for overlap in overlaps:
            if not overlap.identical:
                self.reporter.status(f"Warning: {describe_overlap(overlap, site_packages)}")
        layer_keys = {
            group.key: cache_key(
                "dependencies",
                BUILDER_FORMAT,
                LEVEL,
                self.spec.epoch,
                [(keys[name], sorted(lost.get(name, ()))) for name in group.packages],
            )
            for group in groups
        }
        missing = [group for group in groups if self.cache.layer(layer_keys[group.key]) is None]
        self._stage(
            [packages[name] for group in missing for name in group.packages], build.target, keys
        )
        if missing:
            self.reporter.status(
                f"Writing {len(missing)} of {len(groups)} dependency layers "
                f"({len(groups) - len(missing)} from the cache)"
            )

        def layer_of(group: LayerGroup) -> LayerBlob:
            key = layer_keys[group.key]
            cached = self.cache.layer(key)
            if cached is not None:
                return cached
            entries: list[Entry] = []
            for name in group.packages:
                staged = self._staged[keys[name]]
                dropped = lost.get(name, frozenset())
                entries += [entry for entry in staged.entries if entry.path not in dropped]
            return self.cache.write_layer(key, entries, self.spec.epoch)

        blobs = self._parallel(layer_of, groups)
        result = []
        for group, blob in zip(groups, blobs, strict=True):
            names = ", ".join(f"{name} {packages[name].version}" for name in group.packages)
            self.reporter.detail(f"layer {group.key}: {_size(blob.size)}: {names}")
            comment = names if group.key.startswith("own:") else f"{group.key}: {names}"
            result.append((blob, comment))
        return result

    def _stage(
        self, packages: Sequence[PlannedPackage], target: Target, keys: Mapping[str, str]
    ) -> None:
        """Install the wheels of `packages` (fetching them first) unless staged already."""
        needed = [p for p in packages if keys[p.name] not in self._staged]
        if not needed:
            return
        self.reporter.status(f"Fetching {len(needed)} locked distributions for {target.describe()}")
        wheels = self.sources.wheels(needed, target)

        def stage(package: PlannedPackage) -> PackageFiles:
            url = direct_url(package)
            installed = install_wheel(
                package.name,
                wheels[package.name],
                venv=VENV,
                python=target.python_minor,
                spill=self.workdir / "spill" / keys[package.name],
                metadata={"direct_url.json": url} if url else None,
            )
            self.cache.store_file_list(keys[package.name], installed)
            return installed

        for package, installed in zip(needed, self._parallel(stage, needed), strict=True):
            with self._lock:
                self._staged[keys[package.name]] = installed

    def _parallel(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="layers") as pool:
            try:
                return list(pool.map(work, items))
            except BaseException:
                self.cancelled.set()
                raise


def _workers() -> int:
    import os

    return max(2, min(8, os.cpu_count() or 2))


def _wheel_key(package: PlannedPackage, minor: str) -> str:
    """What a package's installed files depend on: its file (or commit), where it goes."""
    origin = (
        package.distribution.hash
        if package.distribution is not None
        else [package.source.url, package.source.resolved_reference, package.source.subdirectory]
    )
    url = direct_url(package)
    return cache_key(
        "files",
        BUILDER_FORMAT,
        package.name,
        package.version,
        origin,
        VENV,
        minor,
        url.decode() if url else None,
    )


def _native(package: PlannedPackage) -> bool:
    """Whether the package's file is a platform wheel (sdists and git checkouts build pure)."""
    if package.distribution is None or not package.distribution.filename.endswith(".whl"):
        return False
    return not package.distribution.filename.endswith("-none-any.whl")


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
