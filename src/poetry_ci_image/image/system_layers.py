"""The system packages' layers (`system-packages`): each package's files as its .deb gives
them, grouped by the layer rule (layers.py: own layers for the largest while `SYSTEM_LAYERS`
lasts, the smallest in shared layers by a hash of their names), then one layer of dpkg's and
apt's records of the whole set (system/database.py).

A package's layer is a function of its .deb's bytes, the base's directory links and the epoch,
so it is written once and found in the build cache by that key afterwards, on every platform
that installs the same file (Architecture: all packages are shared by amd64 and arm64). What
the records layer needs of each package (its status paragraph, alternatives, what its scripts
would have done, loader directories) is kept beside it, so a push whose package layers are all
cached downloads no .deb.
"""

from __future__ import annotations

import json

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.image.cache.keys import cache_key
from poetry_ci_image.image.layers import Weighed
from poetry_ci_image.image.layers import assign_layers
from poetry_ci_image.image.sbom import DebPackage
from poetry_ci_image.image.system.database import database_entries
from poetry_ci_image.image.system.database import info_entries
from poetry_ci_image.image.system.database import status_paragraph
from poetry_ci_image.image.system.libraries import base_view
from poetry_ci_image.image.system.libraries import cache_file
from poetry_ci_image.image.system.libraries import package_view
from poetry_ci_image.image.system.scripts import Alternative
from poetry_ci_image.image.system.scripts import chosen_alternatives
from poetry_ci_image.image.system.scripts import script_effects
from poetry_ci_image.image.tarball import LEVEL
from poetry_ci_image.image.tarball import file_entry
from poetry_ci_image.plumbing.progress import size_text
from poetry_ci_image.tag.recipe import BUILDER_FORMAT


if TYPE_CHECKING:
    from poetry_ci_image.image.layer_context import LayerContext
    from poetry_ci_image.image.layers import LayerGroup
    from poetry_ci_image.image.system.deb import DebContents
    from poetry_ci_image.image.system.index import Candidate
    from poetry_ci_image.image.system.packages import SystemPackages
    from poetry_ci_image.image.tarball import Entry
    from poetry_ci_image.image.tarball import LayerBlob


SYSTEM_LAYERS = 24  # the most layers the system packages take (their records' layer apart)
RECORD_FORMAT = 4  # 4: maintainer scripts read as scripts.py reads them now
MACHINES = {"linux/amd64": "EM_X86_64", "linux/arm64": "EM_AARCH64"}


@dataclass(frozen=True)
class SystemPart:
    """The system packages' part of one platform's image."""

    layers: list[tuple[LayerBlob, str]]
    installed: tuple[tuple[str, str], ...]  # (name, version), every package added
    debs: tuple[DebPackage, ...] = ()  # the same, with architecture and the .deb's sha256
    libraries: tuple[str, ...] = ()  # every path of a shared library's name they add
    loader_conf: tuple[tuple[str, str], ...] = ()  # (path, text) of their ld.so.conf.d files


class SystemLayers:
    def __init__(self, context: LayerContext, packages: SystemPackages) -> None:
        self.context = context
        self.packages = packages
        self._warned: set[str] = set()

    def part(self, platform: str) -> SystemPart:
        context, packages = self.context, self.packages
        resolution = packages.resolution(platform)
        chosen = list(resolution.packages)
        if not chosen:
            return SystemPart([], ())
        aliases = packages.aliases(platform)
        epoch = context.spec.epoch
        groups = assign_layers(
            [Weighed(c.name, c.installed_size * 1024, native=False) for c in chosen],
            SYSTEM_LAYERS,
        )
        by_name = {c.name: c for c in chosen}
        keys = {
            group.key: layer_key(epoch, [by_name[n].sha256 for n in group.packages], aliases)
            for group in groups
        }
        records = {c.name: self._record(c) for c in chosen}
        missing = [g for g in groups if context.cache.layers.get(keys[g.key]) is None]
        needed = {name for g in missing for name in g.packages}
        needed |= {name for name, record in records.items() if record is None}
        if needed:
            context.run.reporter.status(
                f"Fetching {len(needed)} of {len(chosen)} system packages for {platform}"
            )
        with context.run.timeline.step("fetch and read the system packages"):
            read = context.parallel(
                lambda name: (name, packages.contents(by_name[name], platform)), sorted(needed)
            )
        contents = dict(read)
        for name, deb in contents.items():
            records[name] = self._keep_record(by_name[name], deb)

        def layer_of(group: LayerGroup) -> LayerBlob:
            found = context.cache.layers.get(keys[group.key])
            if found is not None:
                return found
            entries: list[Entry] = []
            for name in group.packages:
                entries += contents[name].entries + info_entries(contents[name])
            return context.cache.layers.write(keys[group.key], entries, epoch)

        with context.run.timeline.step("write the system packages' layers"):
            blobs = context.parallel(layer_of, groups)
        complete = {name: record for name, record in records.items() if record is not None}
        layers = []
        for group, blob in sorted(
            zip(groups, blobs, strict=True), key=lambda item: (-item[1].size, item[0].key)
        ):
            names = ", ".join(f"{n} {by_name[n].version}" for n in group.packages)
            context.run.reporter.detail(f"system layer {group.key}: {size_text(blob.size)}")
            layers.append((blob, f"system packages: {names}"))
        layers.append(
            (
                self._records_layer(platform, complete, resolution.requested, aliases),
                "dpkg's and apt's records of the system packages",
            )
        )
        self._warn(complete)
        return SystemPart(
            layers,
            tuple((c.name, str(c.version)) for c in chosen),
            tuple(DebPackage(c.name, str(c.version), c.architecture, c.sha256) for c in chosen),
            tuple(
                sorted(
                    f"{directory}/{name}"
                    for record in complete.values()
                    for directory, names in record["libraries"].items()
                    for name in names
                )
            ),
            tuple(
                sorted(
                    (path, text)
                    for record in complete.values()
                    for path, text in record["loader_conf"].items()
                )
            ),
        )

    def _record(self, candidate: Candidate) -> dict[str, Any] | None:
        text = self.context.cache.facts.recall(record_key(candidate.sha256))
        return json.loads(text) if text else None

    def _keep_record(self, candidate: Candidate, deb: DebContents) -> dict[str, Any]:
        """What the records layer needs of a package, kept beside its layer."""
        effects = script_effects({candidate.name: deb.control})
        libraries, loader_conf = package_view(deb.entries)
        record = {
            "name": candidate.name,
            "status": status_paragraph(deb),
            "alternatives": [vars(a) for _, a in effects.alternatives],
            "missing": effects.missing.get(candidate.name, []),
            "libraries": libraries,
            "loader_conf": loader_conf,
        }
        self.context.cache.facts.remember(record_key(candidate.sha256), json.dumps(record))
        return record

    def _records_layer(
        self,
        platform: str,
        records: dict[str, dict[str, Any]],
        requested: frozenset[str],
        aliases: dict[str, str],
    ) -> LayerBlob:
        root = self.packages.root(platform)
        status = root.read("var/lib/dpkg/status") or b""
        extended = root.read("var/lib/apt/extended_states") or b""
        existing = _existing_alternatives(root.host_path("var/lib/dpkg/alternatives"))
        alternatives = chosen_alternatives(
            [
                (name, Alternative(**{**item, "slaves": tuple(tuple(s) for s in item["slaves"])}))
                for name, record in sorted(records.items())
                for item in record["alternatives"]
            ],
            existing,
        )
        automatic = sorted(set(records) - requested)
        architecture = platform.split("/")[1]
        base_libraries = base_view(root)
        key = cache_key(
            "system-records",
            BUILDER_FORMAT,
            LEVEL,
            RECORD_FORMAT,
            self.context.spec.epoch,
            status.decode(errors="replace"),
            extended.decode(errors="replace"),
            [records[name]["status"] for name in sorted(records)],
            automatic,
            sorted(existing),
            sorted(aliases.items()),
            base_libraries,
            [[records[n]["libraries"], records[n]["loader_conf"]] for n in sorted(records)],
        )
        found = self.context.cache.layers.get(key)
        if found is not None:
            return found
        entries = database_entries(
            status,
            extended,
            [records[name]["status"] for name in sorted(records)],
            automatic,
            architecture,
            alternatives,
            aliases,
        )
        loader_cache = cache_file(
            root,
            base_libraries,
            [(records[n]["libraries"], records[n]["loader_conf"]) for n in sorted(records)],
            MACHINES[platform],
        )
        entries.append(file_entry("etc/ld.so.cache", loader_cache))
        return self.context.cache.layers.write(key, entries, self.context.spec.epoch)

    def _warn(self, records: dict[str, dict[str, Any]]) -> None:
        for name in sorted(records):
            missing = records[name]["missing"]
            if not missing or name in self._warned:
                continue
            self._warned.add(name)
            self.context.run.reporter.status(
                f"Warning: {name}'s maintainer scripts were not run, and they would have run "
                f"{', '.join(missing)}: the image lacks what that does. If your jobs need it, "
                "run it in the job, or use your own Dockerfile."
            )


def layer_key(epoch: int, debs: list[str], aliases: dict[str, str]) -> str:
    """What a system layer's bytes depend on: its packages' .deb files (by sha256), the base's
    directory links and the epoch (the mtime of directories the layer adds)."""
    return cache_key(
        "system", BUILDER_FORMAT, LEVEL, RECORD_FORMAT, epoch, sorted(debs), sorted(aliases.items())
    )


def record_key(sha256: str) -> str:
    return cache_key("system-record", RECORD_FORMAT, sha256)


def _existing_alternatives(directory: Any) -> list[str]:
    try:
        return sorted(path.name for path in directory.iterdir())
    except OSError:
        return []
