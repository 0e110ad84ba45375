"""The registry as the layer cache: a runner that keeps nothing between jobs (a hosted runner)
finds the layers and records of earlier pushes by their keys in the repository it pushes to.

Where the keys live: one manifest in the repository, under the tag `CACHE_TAG`, as BuildKit's
registry cache keeps its own. Its config blob is the table (layer key -> digest, diff_id and size;
record key -> the bundle that holds it), its layers list every blob the table names: the
registry keeps them (a registry's garbage collection keeps what a tagged manifest names) and
refuses a table that names a blob it does not have. Records (the file lists a layer rule needs,
small facts such as the system packages' resolution) travel in one gzip'd JSON bundle per push.

The keys are the build cache's own (image/cache/): a key names one content, computed on the host
from the inputs, so a hit is what writing would give. Trust: only the repository being pushed to
is read, and an entry is used only once the registry says its blob is there (HEAD), so a blob
deleted since is rebuilt, not trusted.

Writers: a push adds what its image used and leaves the rest; entries not used by the last
`KEEP_GENERATIONS` pushes go. Two pushes at once read, merge and write the table. The registry
API has no compare-and-swap for a tag, so a writer that read before another wrote can overwrite
it: each writer, after a short random pause, reads the table again and, when its entries are
not all there, merges and writes again (`SAVE_TRIES` times). A lost entry costs a rebuild,
never a wrong layer. Nothing here fails a push: a cache that cannot be read or written is said
(as detail) and the push goes on without it.
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import time

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.errors import CiImageError
from poetry_ci_image.oci import OCI_LAYER_GZIP
from poetry_ci_image.oci import OCI_MANIFEST
from poetry_ci_image.oci import canonical
from poetry_ci_image.oci import digest_of


if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Mapping

    from poetry_ci_image.plumbing.progress import Reporter
    from poetry_ci_image.registry.registries import Registry


CACHE_TAG = "ci-image-cache"
TABLE_TYPE = "application/vnd.poetry-ci-image.cache.v1+json"
BUNDLE_TYPE = "application/vnd.poetry-ci-image.records.v1+json+gzip"
TABLE_FORMAT = 1
KEEP_GENERATIONS = 30  # pushes an entry survives unused
KEEP_LAYERS = 4000
SAVE_TRIES = 4
SETTLE = (
    0.2,
    0.5,
)  # seconds, drawn at random: how long a write is left to settle before it is checked
CHECKS = 8  # blob checks in flight at once


@dataclass(frozen=True)
class CachedLayer:
    digest: str
    diff_id: str
    size: int


@dataclass
class _Table:
    generation: int = 0
    layers: dict[str, list[Any]] = field(
        default_factory=dict
    )  # key -> [digest, diff_id, size, gen]
    records: dict[str, list[Any]] = field(default_factory=dict)  # key -> [bundle, gen]
    bundles: dict[str, int] = field(default_factory=dict)  # bundle digest -> size

    @classmethod
    def read(cls, data: bytes) -> _Table:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != TABLE_FORMAT:
            return cls()
        return cls(
            int(document["generation"]),
            dict(document["layers"]),
            dict(document["records"]),
            dict(document["bundles"]),
        )

    def bytes(self) -> bytes:
        return canonical(
            {
                "format": TABLE_FORMAT,
                "generation": self.generation,
                "layers": self.layers,
                "records": self.records,
                "bundles": self.bundles,
            }
        )


class RegistryCache:
    """The cache of one repository, for one push."""

    def __init__(
        self,
        registry: Registry,
        repository: str,
        reporter: Reporter,
        settle: Callable[[], None] | None = None,
    ) -> None:
        self.registry = registry
        self._settle = settle or (lambda: time.sleep(random.uniform(*SETTLE)))
        self.repository = repository
        self.reporter = reporter
        self._table = _Table()
        self._present: dict[str, bool] = {}
        self._bundles: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._manifest = b""  # the cache manifest as last read
        self.found_layers = 0  # layers this push took from here

    def load(self) -> None:
        """Read the table (an empty one when there is none, or it cannot be read)."""
        self._table = self._read() or _Table()

    @property
    def empty(self) -> bool:
        return not self._table.layers and not self._table.records

    def layers(self, keys: Iterable[str]) -> dict[str, CachedLayer]:
        """The entries of `keys` whose blobs the repository has (checked in parallel)."""
        wanted = {key: self._table.layers[key] for key in keys if key in self._table.layers}
        digests = sorted({str(entry[0]) for entry in wanted.values()} - set(self._present))
        if digests:
            with ThreadPoolExecutor(max_workers=CHECKS, thread_name_prefix="cache") as pool:
                answers = list(pool.map(self._has, digests))
            with self._lock:
                self._present.update(zip(digests, answers, strict=True))
        found = {
            key: CachedLayer(str(entry[0]), str(entry[1]), int(entry[2]))
            for key, entry in wanted.items()
            if self._present.get(str(entry[0]))
        }
        with self._lock:
            self.found_layers += len(found)
        return found

    def record(self, key: str) -> Any:
        """The record under `key`, or None."""
        entry = self._table.records.get(key)
        if entry is None:
            return None
        bundle = self._bundle(str(entry[0]))
        return bundle.get(key) if bundle is not None else None

    def save(self, layers: Mapping[str, CachedLayer], records: Mapping[str, Any]) -> None:
        """Add what this push's image used (`layers`, `records`) to the table, merged with
        what other pushes wrote meanwhile."""
        try:
            bundle = gzip.compress(canonical(dict(sorted(records.items()))), mtime=0)
            bundle_digest = digest_of(bundle)
            if records and not self.registry.has_blob(self.repository, bundle_digest):
                self.registry.upload_blob(
                    self.repository, bundle_digest, len(bundle), lambda: [bundle]
                )
            for attempt in range(SAVE_TRIES + 1):
                current = self._read() or _Table()
                if attempt and _holds(current, layers, records):
                    return  # our write held, or another writer merged our entries in
                if attempt == SAVE_TRIES:
                    break
                table = _merged(current, layers, records, bundle_digest, len(bundle))
                read = digest_of(self._manifest) if self._manifest else None
                if self.registry.manifest_digest(self.repository, CACHE_TAG) == read:
                    self._write(table)
                # A writer that read before this write may still overwrite it: let it land,
                # then check (and merge again if it did).
                self._settle()
            self.reporter.detail(
                f"The layer cache ({self.repository}:{CACHE_TAG}) changed under every try to "
                "update it; this push's entries are not kept (a later push adds them)."
            )
        except (CiImageError, ValueError, OSError) as error:
            self.reporter.detail(
                f"The layer cache ({self.repository}:{CACHE_TAG}) could not be updated: "
                f"{getattr(error, 'message', error)}"
            )

    # Reading and writing ----------------------------------------------------------------------

    def _read(self) -> _Table | None:
        try:
            if self.registry.manifest_digest(self.repository, CACHE_TAG) is None:
                self._manifest = b""
                return None
            manifest = self.registry.get_manifest(self.repository, CACHE_TAG)
            document = json.loads(manifest.body)
            if document.get("config", {}).get("mediaType") != TABLE_TYPE:
                return None
            table = _Table.read(
                self.registry.get_blob(self.repository, document["config"]["digest"])
            )
            self._manifest = manifest.body
            return table
        except (CiImageError, ValueError, KeyError, TypeError) as error:
            self.reporter.detail(
                f"The layer cache ({self.repository}:{CACHE_TAG}) cannot be read: "
                f"{getattr(error, 'message', error)}; going on without it."
            )
            self._manifest = b""
            return None

    def _write(self, table: _Table) -> None:
        config = table.bytes()
        config_digest = digest_of(config)
        if not self.registry.has_blob(self.repository, config_digest):
            self.registry.upload_blob(self.repository, config_digest, len(config), lambda: [config])
        layers = {str(entry[0]): int(entry[2]) for entry in table.layers.values()}
        blobs = [
            {"mediaType": OCI_LAYER_GZIP, "digest": digest, "size": size}
            for digest, size in sorted(layers.items())
        ] + [
            {"mediaType": BUNDLE_TYPE, "digest": digest, "size": size}
            for digest, size in sorted(table.bundles.items())
        ]
        manifest = canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": TABLE_TYPE,
                "config": {"mediaType": TABLE_TYPE, "digest": config_digest, "size": len(config)},
                "layers": blobs,
            }
        )
        self.registry.put_manifest(self.repository, CACHE_TAG, manifest, OCI_MANIFEST)

    def _has(self, digest: str) -> bool:
        try:
            return self.registry.has_blob(self.repository, digest)
        except CiImageError:
            return False

    def _bundle(self, digest: str) -> dict[str, Any] | None:
        with self._lock:
            if digest in self._bundles:
                return self._bundles[digest]
        try:
            data = json.loads(gzip.decompress(self.registry.get_blob(self.repository, digest)))
        except (CiImageError, ValueError, OSError):
            data = None
        found = data if isinstance(data, dict) else {}
        with self._lock:
            self._bundles[digest] = found
        return found


def _holds(current: _Table, layers: Mapping[str, CachedLayer], records: Mapping[str, Any]) -> bool:
    """Whether `current` has each of this push's entries."""
    return all(
        str(current.layers.get(key, [""])[0]) == layer.digest for key, layer in layers.items()
    ) and all(key in current.records for key in records)


def _merged(
    current: _Table,
    layers: Mapping[str, CachedLayer],
    records: Mapping[str, Any],
    bundle: str,
    bundle_size: int,
) -> _Table:
    """`current` with this push's entries, one generation on; what no push used for
    KEEP_GENERATIONS pushes dropped, and the oldest beyond KEEP_LAYERS."""
    generation = current.generation + 1
    table = _Table(generation, dict(current.layers), dict(current.records), dict(current.bundles))
    for key, layer in layers.items():
        table.layers[key] = [layer.digest, layer.diff_id, layer.size, generation]
    for key in records:
        table.records[key] = [bundle, generation]
    horizon = generation - KEEP_GENERATIONS
    table.layers = dict(
        sorted(
            ((k, v) for k, v in table.layers.items() if int(v[3]) > horizon),
            key=lambda item: -int(item[1][3]),
        )[:KEEP_LAYERS]
    )
    table.records = {k: v for k, v in table.records.items() if int(v[1]) > horizon}
    if records:
        table.bundles[bundle] = bundle_size
    named = {str(v[0]) for v in table.records.values()}
    table.bundles = {digest: size for digest, size in table.bundles.items() if digest in named}
    return table
