"""Where this runner pushed each blob before: the repositories to mount it from.

A registry mounts a blob from another of its repositories without a byte crossing the network,
if the client names one that has it. Poetry's layers, the venvs' skeleton and the standard
library's bytecode are the same in every project's image on one base, so a second project's
first push mounts them from the first's repository instead of uploading them again. What was
pushed where is kept in the plugin's cache, one small JSON file per registry: a hint, never a
promise (a repository may be gone, or not readable with these credentials: the push then
uploads, as it would have).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading

from typing import TYPE_CHECKING

from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


KEEP_REPOSITORIES = 3  # per blob, the most recent first
KEEP_BLOBS = 5000  # per registry, the most recently pushed


class BlobPlaces:
    """The repositories each blob was pushed to, per registry; `directory=None` keeps none."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory
        self._read: dict[str, dict[str, list[str]]] = {}  # by registry: the file, read once
        self._lock = threading.Lock()  # blobs are sent from several threads

    def known(self, registry: str, digest: str) -> list[str]:
        """The repositories of `registry` that `digest` was pushed to, the most recent first."""
        with self._lock:
            if registry not in self._read:
                self._read[registry] = self._load(registry)
            return list(self._read[registry].get(digest, []))

    def remember(self, registry: str, repository: str, digests: Iterable[str]) -> None:
        """Note that `repository` of `registry` now has `digests` (added to the file as it is
        now: other jobs of this runner may have written it since it was read)."""
        if self._directory is None:
            return
        places = self._load(registry)
        for digest in digests:
            repositories = [repository, *(r for r in places.pop(digest, []) if r != repository)]
            places[digest] = repositories[:KEEP_REPOSITORIES]  # last in, most recent
        kept = dict(list(places.items())[-KEEP_BLOBS:])
        with contextlib.suppress(OSError):  # a hint that cannot be kept: a slower next push
            write_atomically(self._file(registry), json.dumps(kept))
        with self._lock:
            self._read[registry] = kept

    def _load(self, registry: str) -> dict[str, list[str]]:
        if self._directory is None:
            return {}
        try:
            data = json.loads(self._file(registry).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(digest): [str(r) for r in repositories]
            for digest, repositories in data.items()
            if isinstance(repositories, list)
        }

    def _file(self, registry: str) -> Path:
        assert self._directory is not None
        name = hashlib.sha256(registry.encode()).hexdigest()[:16]
        return self._directory / f"{name}.json"
