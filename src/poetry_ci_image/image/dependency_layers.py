"""The dependencies' layers: each package's files (with their bytecode), grouped by the layer
rule (layers.py), written or found in the build cache, and put in the image largest first.

The order is for pulls: dockerd's classic store (overlay2, the long-standing default) keeps no
blobs and keys a layer by the chain of layers under it, so after a bump it downloads the
changed layer and every layer above it again; with the largest lowest, what lies above a changed
layer is the packages smaller than it. containerd's store keeps blobs and downloads the changed
one only, whatever the order. The order follows from the layers' bytes, so from the lock.

A layer whose inputs did not change is taken from the cache without fetching its wheels; a
package's file list (paths, sizes, digests: no bytes) is cached too, so the rule can place every
package without fetching any. The rest are fetched (`Sources`), installed on the host (files.py)
with their pycs, and written (tarball.py). Packages that are the same on several platforms
(pure-Python ones, of one Python) are installed once.
"""

from __future__ import annotations

import threading

from typing import TYPE_CHECKING

from poetry_ci_image.image.cache.keys import cache_key
from poetry_ci_image.image.files import direct_url
from poetry_ci_image.image.files import install_wheel
from poetry_ci_image.image.layers import Weighed
from poetry_ci_image.image.layers import assign_layers
from poetry_ci_image.image.layers import describe_overlap
from poetry_ci_image.image.layers import resolve_overlaps
from poetry_ci_image.image.tarball import LEVEL
from poetry_ci_image.plumbing.progress import size_text
from poetry_ci_image.tag.recipe import BUILDER_FORMAT
from poetry_ci_image.tag.recipe import VENV


if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path

    from poetry_ci_image.image.files import PackageFiles
    from poetry_ci_image.image.layer_context import LayerContext
    from poetry_ci_image.image.layers import LayerGroup
    from poetry_ci_image.image.tarball import Entry
    from poetry_ci_image.image.tarball import LayerBlob
    from poetry_ci_image.settings.target import Target
    from poetry_ci_image.tag.plan import PlannedPackage
    from poetry_ci_image.tag.plan import TargetPlan


class DependencyLayers:
    """The dependencies' layers of every platform of one image."""

    def __init__(self, context: LayerContext) -> None:
        self.context = context
        self._staged: dict[str, PackageFiles] = {}  # by wheel key
        self._lock = threading.Lock()
        self.installed: dict[str, list[PackageFiles]] = {}  # by platform: every package's files

    def layers(self, build: TargetPlan) -> list[tuple[LayerBlob, str]]:
        """The layers of `build`'s plan, in image order, with their history comments."""
        target = build.target
        packages = {package.name: package for package in build.plan.packages}
        bytecode = self.context.bytecode_key(target)
        keys = {
            name: wheel_key(package, target.python_minor, bytecode)
            for name, package in packages.items()
        }
        lists = self._file_lists(packages, keys, target)
        self.installed[target.platform] = [lists[name] for name in sorted(lists)]
        groups = assign_layers(
            [Weighed(name, lists[name].size, native(packages[name])) for name in sorted(packages)],
            self.context.spec.layers,
        )
        lost = self._settle_overlaps(lists, target)
        layer_keys = {
            group.key: group_key(self.context.spec.epoch, group, keys, lost) for group in groups
        }
        blobs = self._write(groups, layer_keys, packages, keys, lost, target)
        return self._in_image_order(groups, blobs, packages)

    def _file_lists(
        self, packages: Mapping[str, PlannedPackage], keys: Mapping[str, str], target: Target
    ) -> dict[str, PackageFiles]:
        """Every package's installed files: from the cache, else by staging its wheel."""
        cache = self.context.cache
        lists = {name: cache.files.get(key, name) for name, key in keys.items()}
        self._stage(
            [packages[name] for name, found in lists.items() if found is None], target, keys
        )
        return {name: found or self._staged[keys[name]] for name, found in lists.items()}

    def _settle_overlaps(
        self, lists: Mapping[str, PackageFiles], target: Target
    ) -> dict[str, frozenset[str]]:
        """The paths each package gives up to another (layers.py), with a warning for each
        overlap whose bytes differ."""
        lost, overlaps = resolve_overlaps(list(lists.values()))
        site_packages = f"{VENV}/lib/python{target.python_minor}/site-packages"
        for overlap in overlaps:
            if not overlap.identical:
                self.context.run.reporter.status(
                    f"Warning: {describe_overlap(overlap, site_packages)}"
                )
        return lost

    def _write(
        self,
        groups: Sequence[LayerGroup],
        layer_keys: Mapping[str, str],
        packages: Mapping[str, PlannedPackage],
        keys: Mapping[str, str],
        lost: Mapping[str, frozenset[str]],
        target: Target,
    ) -> list[LayerBlob]:
        """Each group's layer: found in the cache, else written from its staged packages (the
        packages of every missing layer staged first), in parallel."""
        context = self.context
        cache = context.cache
        found = cache.layers.get_many(layer_keys[group.key] for group in groups)
        missing = [group for group in groups if found[layer_keys[group.key]] is None]
        self._stage([packages[name] for group in missing for name in group.packages], target, keys)
        if missing:
            context.run.reporter.status(
                f"Writing {len(missing)} of {len(groups)} dependency layers "
                f"({len(groups) - len(missing)} unchanged, found by their inputs)"
            )

        def layer_of(group: LayerGroup) -> LayerBlob:
            key = layer_keys[group.key]
            cached = found[key] or cache.layers.get(key)  # written early by _stage meanwhile?
            if cached is not None:
                return cached
            entries: list[Entry] = []
            for name in group.packages:
                dropped = lost.get(name, frozenset())
                staged = self._staged[keys[name]]
                entries += [entry for entry in staged.entries if entry.path not in dropped]
            return cache.layers.write(key, entries, context.spec.epoch)

        with context.run.timeline.step("write the dependency layers"):
            return context.parallel(layer_of, groups)

    def _in_image_order(
        self,
        groups: Sequence[LayerGroup],
        blobs: Sequence[LayerBlob],
        packages: Mapping[str, PlannedPackage],
    ) -> list[tuple[LayerBlob, str]]:
        """The largest lowest: a runner's engine that keeps no blobs (dockerd's classic store)
        downloads every layer above the one a bump changed, and those are all smaller."""
        result = []
        ordered = sorted(
            zip(groups, blobs, strict=True), key=lambda item: (-item[1].size, item[0].key)
        )
        for group, blob in ordered:
            names = ", ".join(f"{name} {packages[name].version}" for name in group.packages)
            self.context.run.reporter.detail(f"layer {group.key}: {size_text(blob.size)}: {names}")
            comment = names if group.key.startswith("own:") else f"{group.key}: {names}"
            result.append((blob, comment))
        return result

    def _stage(
        self, packages: Sequence[PlannedPackage], target: Target, keys: Mapping[str, str]
    ) -> None:
        """Install the wheels of `packages` (fetching them first) unless staged already; each
        package's own layer is written as soon as it is installed (see `own_layer_key`)."""
        needed = [p for p in packages if keys[p.name] not in self._staged]
        if not needed:
            return
        context = self.context
        context.run.reporter.status(
            f"Fetching {len(needed)} locked distribution{'' if len(needed) == 1 else 's'}"
            f" for {target.describe()}"
        )
        compiler = context.compiler(target)
        by_name = {package.name: package for package in needed}

        def stage(arrived: tuple[str, Path]) -> PackageFiles:
            name, wheel = arrived
            package = by_name[name]
            url = direct_url(package)
            installed = install_wheel(
                package.name,
                wheel,
                venv=VENV,
                python=target.python_minor,
                spill=context.workdir / "spill" / keys[package.name],
                metadata={"direct_url.json": url} if url else None,
                compiler=compiler,
            )
            context.cache.files.put(keys[package.name], installed)
            # Most packages get a layer of their own, with nothing given up to another: write it
            # now, while other wheels download and compile, rather than after the last one.
            own = own_layer_key(context.spec.epoch, keys[package.name])
            if context.cache.layers.get(own) is None:
                context.cache.layers.write(own, installed.entries, context.spec.epoch)
            return installed

        # Each wheel is installed (and compiled) as soon as it is there, while others download.
        with context.run.timeline.step("fetch and install the locked files"):
            staged = context.parallel(stage, context.sources.wheels(needed, target))
        for installed in staged:
            with self._lock:
                self._staged[keys[installed.name]] = installed


def group_key(
    epoch: int,
    group: LayerGroup,
    keys: Mapping[str, str],
    lost: Mapping[str, frozenset[str]],
) -> str:
    """The key of a group's layer: its members' wheel keys and the paths each gives up."""
    return layer_key(epoch, [(keys[name], lost.get(name, frozenset())) for name in group.packages])


def own_layer_key(epoch: int, wheel: str) -> str:
    """The key of a package's own layer when it gives up no path: by construction the key of a
    one-package group that loses nothing (`group_key`), so the layer `_stage` writes early is
    the one the group then finds in the cache."""
    return layer_key(epoch, [(wheel, frozenset())])


def layer_key(epoch: int, members: Sequence[tuple[str, frozenset[str]]]) -> str:
    """What a dependency layer's bytes depend on: each member's wheel key and the paths it
    gives up to another package."""
    keyed = [(key, sorted(lost)) for key, lost in members]
    return cache_key("dependencies", BUILDER_FORMAT, LEVEL, epoch, keyed)


def wheel_key(package: PlannedPackage, minor: str, bytecode: list[str] | None) -> str:
    """What a package's installed files depend on: its file (or commit), where it goes, and the
    interpreter that compiles its bytecode."""
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
        bytecode,
    )


def native(package: PlannedPackage) -> bool:
    """Whether the package's file is a platform wheel (sdists and git checkouts build pure)."""
    if package.distribution is None or not package.distribution.filename.endswith(".whl"):
        return False
    return not package.distribution.filename.endswith("-none-any.whl")
