"""What the builder keeps between runs, under Poetry's cache directory (`<cache-dir>/ci-image`):

- `files/<key>.json`: the file list a wheel installs (paths, sizes, digests; not the bytes), keyed
  by the wheel's hash and where it is installed: enough to place every package in its layer and
  to settle overlapping files without opening the wheel;
- `layers/<key>.json` and `blobs/sha256/<hex>`: each layer written, keyed by everything its bytes
  depend on (the builder's format, the packages' keys, the paths they give up, the epoch), so a
  runner that keeps Poetry's cache rebuilds only the layers whose packages changed;
- `blobs/sha256/<hex>` also holds base layers downloaded for `image build` and `--output`;
- `facts/<key>.json`: small facts, such as "this base ships its standard library's pycs";
- `interpreters/<base digest>/`: a base's CPython, extracted to compile bytecode (bytecode/).

A key names one content: a hit is exactly what writing would give. Files not used for
`KEEP_DAYS` days are removed after a build. With no cache (`poetry --no-cache`), everything goes
to the run directory and is gone after the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time

from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.image.files import PackageFiles
from poetry_ci_image.image.tarball import Entry
from poetry_ci_image.image.tarball import LayerBlob
from poetry_ci_image.image.tarball import write_layer
from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator
    from pathlib import Path


KEEP_DAYS = 30


def cache_key(*parts: object) -> str:
    """A key for `parts` (JSON-able values): the hex sha256 of their canonical JSON."""
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


class BuildCache:
    """The builder's cache; `root=None` keeps everything in `workdir` for this run only."""

    def __init__(self, root: Path | None, workdir: Path) -> None:
        self.persistent = root is not None
        self.root = root if root is not None else workdir / "cache"
        self.blobs = self.root / "blobs" / "sha256"
        self._used: set[Path] = set()

    # File lists ---------------------------------------------------------------------------------

    def file_list(self, key: str, name: str) -> PackageFiles | None:
        """A package's installed files without their bytes (for layer placement, overlaps)."""
        data = self._load(self.root / "files" / f"{key}.json")
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

    def store_file_list(self, key: str, files: PackageFiles) -> None:
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
        self._store(
            self.root / "files" / f"{key}.json",
            {"entries": entries, "top_level": sorted(files.top_level)},
        )

    # Layers -------------------------------------------------------------------------------------

    def layer(self, key: str) -> LayerBlob | None:
        data = self._load(self.root / "layers" / f"{key}.json")
        if data is None:
            return None
        try:
            path = self.blob_path(data["digest"])
            if not path.is_file() or path.stat().st_size != data["size"]:
                return None
            self._touch(path)
            return LayerBlob(path, data["digest"], data["diff_id"], data["size"])
        except (KeyError, TypeError, OSError):
            return None

    def write_layer(self, key: str, entries: Iterable[Entry], epoch: int) -> LayerBlob:
        """Write a layer (into the blob store, under its digest) and remember it under `key`."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        partial = self.blobs / f".{key}.{os.getpid()}.partial"
        try:
            blob = write_layer(entries, partial, epoch)
            final = self.blob_path(blob.digest)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        blob = LayerBlob(final, blob.digest, blob.diff_id, blob.size)
        self._touch(final)
        self._store(
            self.root / "layers" / f"{key}.json",
            {"digest": blob.digest, "diff_id": blob.diff_id, "size": blob.size},
        )
        return blob

    # Facts --------------------------------------------------------------------------------------

    def remember(self, key: str, value: str) -> None:
        """Keep a small fact under `key` (for example: this base needs no stdlib layer)."""
        self._store(self.root / "facts" / f"{key}.json", {"value": value})

    def recall(self, key: str) -> str | None:
        data = self._load(self.root / "facts" / f"{key}.json")
        value = data.get("value") if data else None
        return value if isinstance(value, str) else None

    # Blobs --------------------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest.partition(":")[2]

    def has_blob(self, digest: str, size: int) -> bool:
        path = self.blob_path(digest)
        return path.is_file() and path.stat().st_size == size

    def store_blob(self, digest: str, chunks: Iterator[bytes]) -> Path:
        """Keep a blob (its chunks are digest-checked by whoever gives them)."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        final = self.blob_path(digest)
        partial = self.blobs / f".{digest.partition(':')[2]}.{os.getpid()}.partial"
        try:
            with partial.open("wb") as stream:
                for chunk in chunks:
                    stream.write(chunk)
            os.replace(partial, final)
        finally:
            partial.unlink(missing_ok=True)
        self._touch(final)
        return final

    # Upkeep -------------------------------------------------------------------------------------

    def prune(self) -> None:
        """Forget what no run used for KEEP_DAYS days (keys first, then their blobs)."""
        if not self.persistent or not self.root.is_dir():
            return
        horizon = time.time() - KEEP_DAYS * 86400
        for directory in ("files", "layers", "facts", "blobs/sha256"):
            folder = self.root / directory
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                with contextlib.suppress(OSError):
                    if path not in self._used and path.stat().st_mtime < horizon:
                        path.unlink()
        # The bases' interpreters, extracted to compile bytecode (a run in use touches its own).
        runtimes = self.root / "interpreters"
        for path in runtimes.iterdir() if runtimes.is_dir() else ():
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < horizon:
                    shutil.rmtree(path)

    def _touch(self, path: Path) -> None:
        self._used.add(path)
        with contextlib.suppress(OSError):
            os.utime(path)

    def _load(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        self._touch(path)
        return data

    def _store(self, path: Path, data: dict[str, Any]) -> None:
        try:
            write_atomically(path, json.dumps(data, sort_keys=True))
        except OSError:  # a cache that cannot be written is only a slower run
            return
        self._used.add(path)
