"""The files a wheel installs, without their bytes: enough to place every package in its layer
and to settle overlapping files without opening the wheel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.image.files import PackageFiles
from poetry_ci_image.image.tarball import Entry


if TYPE_CHECKING:
    from poetry_ci_image.image.cache.records import Records


class FileLists:
    def __init__(self, records: Records) -> None:
        self._records = records

    def get(self, key: str, name: str) -> PackageFiles | None:
        """Package `name`'s installed files (for layer placement, overlaps), or None."""
        data = self._records.load(key)
        if data is None:
            return None
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
        except (KeyError, TypeError):
            return None
        return PackageFiles(name, entries, owned)

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
        self._records.store(key, {"entries": entries, "top_level": sorted(files.top_level)})
