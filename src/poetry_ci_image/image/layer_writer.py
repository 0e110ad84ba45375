"""The layers the plugin adds to an image, written or found in the build cache.

    the venvs' skeleton (venv.py) -> Poetry's layer -> the dependencies' layers (layers.py)

A layer whose inputs did not change is taken from the cache (build_cache.py) without fetching its
wheels; the rest are installed on the host (files.py) and written (tarball.py). Layers that are
the same on several platforms (pure-Python packages) are written once. `Sources` is the seam to
where the wheels come from (Poetry's cache and credentials: poetry/fetch.py).
"""

from __future__ import annotations

import os
import threading

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from typing import Protocol
from typing import TypeVar

from poetry_ci_image.image.build_cache import cache_key
from poetry_ci_image.image.files import direct_url
from poetry_ci_image.image.files import install_wheel
from poetry_ci_image.image.layers import LayerGroup
from poetry_ci_image.image.layers import Weighed
from poetry_ci_image.image.layers import assign_layers
from poetry_ci_image.image.layers import describe_overlap
from poetry_ci_image.image.layers import resolve_overlaps
from poetry_ci_image.image.tarball import LEVEL
from poetry_ci_image.image.venv import venv_skeleton
from poetry_ci_image.oci import file_digest
from poetry_ci_image.plumbing.progress import size_text
from poetry_ci_image.tag.recipe import BUILDER_FORMAT
from poetry_ci_image.tag.recipe import POETRY_HOME
from poetry_ci_image.tag.recipe import VENV


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.build_cache import BuildCache
    from poetry_ci_image.image.files import PackageFiles
    from poetry_ci_image.image.spec import BuildSpec
    from poetry_ci_image.image.tarball import Entry
    from poetry_ci_image.image.tarball import LayerBlob
    from poetry_ci_image.image.venv import BasePython
    from poetry_ci_image.run import Run
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import PlannedPackage
    from poetry_ci_image.tag.plan import TargetPlan


T = TypeVar("T")
R = TypeVar("R")


class Sources(Protocol):
    """Where the plan's wheels come from (poetry/fetch.py: Poetry's cache and credentials)."""

    def wheels(self, packages: Sequence[PlannedPackage], target: Target) -> dict[str, Path]:
        """A wheel per package (sdists and git checkouts built on the host), by name."""
        ...

    def poetry_wheels(self, target: Target) -> list[Path]:
        """Poetry's wheels (and its dependencies') for the target."""
        ...


class LayerWriter:
    """Writes (or finds in the cache) every layer of every platform, sharing what is the same."""

    def __init__(
        self, spec: BuildSpec, sources: Sources, cache: BuildCache, run: Run, workdir: Path
    ) -> None:
        self.spec = spec
        self.sources = sources
        self.cache = cache
        self.run = run
        self.reporter = run.reporter
        self.workdir = workdir
        self._staged: dict[str, PackageFiles] = {}  # by wheel key
        self._lock = threading.Lock()

    def layers(self, build: TargetPlan, python: BasePython) -> list[tuple[LayerBlob, str]]:
        """Every layer the plugin adds for `build`, with its history comment, in image order."""
        target = build.target
        layers: list[tuple[LayerBlob, str]] = [
            (self._skeleton(python), f"the venvs' skeleton, for {python.executable}")
        ]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="poetry") as background:
            # Poetry's wheels (a download, the first time) come while the dependencies do.
            poetry = (
                background.submit(self._poetry_layers, target)
                if self.spec.poetry_version is not None
                else None
            )
            try:
                dependencies = self._dependency_layers(build, target.python_minor)
            except BaseException:
                self.run.cancelled.set()
                raise
            if poetry is not None:
                with self.run.timeline.step("wait for Poetry's layers"):
                    layers += poetry.result()
        return layers + dependencies

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

    def _poetry_layers(self, target: Target) -> list[tuple[LayerBlob, str]]:
        """Poetry's venv: its pure-Python distributions in one layer (the same on every
        platform, so written and sent once), its compiled ones in another."""
        with self.run.timeline.step("fetch Poetry's wheels for the image", track="poetry"):
            wheels = sorted(self.sources.poetry_wheels(target), key=lambda path: path.name)
        with self.run.timeline.step("write Poetry's layers", track="poetry"):
            return self._poetry_parts(wheels, target)

    def _poetry_parts(self, wheels: list[Path], target: Target) -> list[tuple[LayerBlob, str]]:
        pure = [wheel for wheel in wheels if wheel.name.endswith("-none-any.whl")]
        native = [wheel for wheel in wheels if wheel not in pure]
        installed: dict[str, list[Entry]] = {}
        layers: list[tuple[LayerBlob, str]] = []
        for part, part_wheels in (("pure-Python", pure), ("compiled", native)):
            if not part_wheels:
                continue
            key = cache_key(
                "poetry",
                BUILDER_FORMAT,
                LEVEL,
                self.spec.epoch,
                POETRY_HOME,
                target.python_minor,
                [(wheel.name, file_digest(wheel)) for wheel in part_wheels],
            )
            blob = self.cache.layer(key)
            if blob is None:
                if not installed:
                    installed = self._install_poetry(wheels, target)
                entries = [e for wheel in part_wheels for e in installed[wheel.name]]
                blob = self.cache.write_layer(key, entries, self.spec.epoch)
            self.reporter.detail(f"layer Poetry ({part}): {size_text(blob.size)}")
            comment = f"Poetry {self.spec.poetry_version} in {POETRY_HOME}: {part} distributions"
            layers.append((blob, comment))
        return layers

    def _install_poetry(self, wheels: list[Path], target: Target) -> dict[str, list[Entry]]:
        """Each of Poetry's wheels' files in its venv, by wheel; overlaps settled over all."""
        self.reporter.status(f"Writing Poetry's layers ({len(wheels)} distributions)")
        packages = self._parallel(
            lambda wheel: install_wheel(
                wheel.name,
                wheel,
                venv=POETRY_HOME,
                python=target.python_minor,
                spill=self.workdir / "spill" / "poetry" / wheel.name,
            ),
            wheels,
        )
        lost, _ = resolve_overlaps(packages)
        return {
            package.name: [e for e in package.entries if e.path not in lost.get(package.name, ())]
            for package in packages
        }

    # The dependencies ----------------------------------------------------------------------------

    def _dependency_layers(self, build: TargetPlan, minor: str) -> list[tuple[LayerBlob, str]]:
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

        with self.run.timeline.step("write the dependency layers"):
            blobs = self._parallel(layer_of, groups)
        result = []
        for group, blob in zip(groups, blobs, strict=True):
            names = ", ".join(f"{name} {packages[name].version}" for name in group.packages)
            self.reporter.detail(f"layer {group.key}: {size_text(blob.size)}: {names}")
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
        self.reporter.status(
            f"Fetching {len(needed)} locked distribution{'' if len(needed) == 1 else 's'}"
            f" for {target.describe()}"
        )
        with self.run.timeline.step("fetch the locked files"):
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

        with self.run.timeline.step("install them on the host"):
            staged = self._parallel(stage, needed)
        for package, installed in zip(needed, staged, strict=True):
            with self._lock:
                self._staged[keys[package.name]] = installed

    def _parallel(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="layers") as pool:
            try:
                return list(pool.map(work, items))
            except BaseException:
                self.run.cancelled.set()
                raise


def _workers() -> int:
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
