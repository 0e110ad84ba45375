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

    from poetry_ci_image.image.cache.records import Remote


# The directories other parts of the plugin keep under the root (see __init__.py);
# `interpreters` is where roots were kept before `roots` (pruned as it ages).
KEPT_ELSEWHERE = ("bases", "roots", "interpreters", "poetry", "places", "apt", "builds")


class BuildCache:
    """`root=None` keeps everything in `workdir` for this run only; `remote` is the registry's
    layer cache of the repository a push goes to (None: not asked)."""

    def __init__(self, root: Path | None, workdir: Path, remote: Remote | None = None) -> None:
        self.persistent = root is not None
        self.root = root if root is not None else workdir / "cache"
        self.used = Used()
        self.blobs = BlobStore(self.root / "blobs" / "sha256", self.used)
        self.files = FileLists(Records(self.root / "files", self.used, remote))
        self.layers = LayerStore(
            Records(self.root / "layers", self.used),
            self.blobs,
            self.used,
            remote,
            Records(self.root / "groups", self.used, remote),
        )
        self.facts = Facts(Records(self.root / "facts", self.used, remote))

    def directory(self, name: str) -> Path:
        """One of the directories other parts keep under the root (`KEPT_ELSEWHERE`)."""
        assert name in KEPT_ELSEWHERE, name
        return self.root / name

    def prune(self) -> list[Path]:
        """Forget what no run used for KEEP_DAYS days (a run directory's cache goes with it)."""
        if not self.persistent:
            return []
        kept = ["files", "layers", "groups", "facts", "blobs/sha256", *KEPT_ELSEWHERE]
        return prune([self.root / name for name in kept], self.used.paths)
