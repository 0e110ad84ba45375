"""The builder's cache: one root (`<cache-dir>/ci-image`, or the run's directory with
`poetry --no-cache`), the stores under it, and the pruning of all of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from poetry_ci_image.image.cache.blob_store import BlobStore
from poetry_ci_image.image.cache.facts import Facts
from poetry_ci_image.image.cache.file_lists import FileLists
from poetry_ci_image.image.cache.layer_store import LayerStore
from poetry_ci_image.image.cache.pruning import prune
from poetry_ci_image.image.cache.records import Records
from poetry_ci_image.image.cache.records import Used


if TYPE_CHECKING:
    from pathlib import Path


# The directories other parts of the plugin keep under the root (see __init__.py);
# `interpreters` is where roots were kept before `roots` (pruned as it ages).
KEPT_ELSEWHERE = ("bases", "roots", "interpreters", "poetry", "places", "apt")


class BuildCache:
    """`root=None` keeps everything in `workdir` for this run only."""

    def __init__(self, root: Path | None, workdir: Path) -> None:
        self.persistent = root is not None
        self.root = root if root is not None else workdir / "cache"
        self._used = Used()
        self.blobs = BlobStore(self.root / "blobs" / "sha256", self._used)
        self.files = FileLists(Records(self.root / "files", self._used))
        self.layers = LayerStore(Records(self.root / "layers", self._used), self.blobs)
        self.facts = Facts(Records(self.root / "facts", self._used))

    def directory(self, name: str) -> Path:
        """One of the directories other parts keep under the root (`KEPT_ELSEWHERE`)."""
        assert name in KEPT_ELSEWHERE, name
        return self.root / name

    def prune(self) -> list[Path]:
        """Forget what no run used for KEEP_DAYS days (a run directory's cache goes with it)."""
        if not self.persistent:
            return []
        kept = ["files", "layers", "facts", "blobs/sha256", *KEPT_ELSEWHERE]
        return prune([self.root / name for name in kept], self._used.paths)
