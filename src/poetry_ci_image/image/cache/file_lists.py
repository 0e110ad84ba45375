"""The files a wheel installs, without their bytes: enough to place every package in its layer
and to settle overlapping files without opening the wheel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.image.elf import ElfFacts
from poetry_ci_image.image.files import PackageFiles
from poetry_ci_image.image.tarball import Entry


if TYPE_CHECKING:
    from poetry_ci_image.image.cache.records import Records


FORMAT = 2  # 2: with the compiled files' ELF facts


class FileLists:
    def __init__(self, records: Records) -> None:
        self._records = records

    def get(self, key: str, name: str) -> PackageFiles | None:
        """Package `name`'s installed files (for layer placement, overlaps), or None."""
        data = self._records.load(key)
        if data is None:
            return None
        if data.get("format") != FORMAT:
            return None  # kept before the compiled files were read: make it again
        try:
            entries = tuple(
                Entry(
                    path=item["path"],
                    kind=item["kind"],
                    size=item["size"],
                    digest=item["digest"],
                    executable=item["executable"],
                    target=item["target"],
                )
                for item in data["entries"]
            )
            owned = frozenset(str(item) for item in data.get("top_level", ()))
            elf = {str(path): ElfFacts.from_json(facts) for path, facts in data["elf"].items()}
        except (KeyError, TypeError, ValueError):
            return None
        return PackageFiles(name, entries, owned, elf)

    def put(self, key: str, files: PackageFiles) -> None:
        entries = [
            {
                "path": entry.path,
                "kind": entry.kind,
                "size": entry.size,
                "digest": entry.digest,
                "executable": entry.executable,
                "target": entry.target,
            }
            for entry in files.entries
        ]
        self._records.store(
            key,
            {
                "format": FORMAT,
                "entries": entries,
                "top_level": sorted(files.top_level),
                "elf": {path: facts.as_json() for path, facts in sorted(files.elf.items())},
            },
        )
