"""Small JSON records by key, in one directory, and what a run used; every record read or
written is noted as used, so pruning keeps it and the registry's layer cache learns it."""

from __future__ import annotations

import contextlib
import json
import os

from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping
    from pathlib import Path

    from poetry_ci_image.registry.layer_cache import CachedLayer


class Used:
    """What this run used: the paths (pruning keeps them whatever their age), and the layers and
    records by key (what the registry's layer cache keeps of this push)."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.layers: dict[str, CachedLayer] = {}
        self.records: dict[str, Any] = {}

    def touch(self, path: Path) -> None:
        self.paths.add(path)
        with contextlib.suppress(OSError):
            os.utime(path)


class Remote(Protocol):
    """The registry's layer cache, as the build cache reads it (registry/layer_cache.py)."""

    def layers(self, keys: Iterable[str]) -> Mapping[str, CachedLayer]: ...

    def record(self, key: str) -> Any: ...


class Records:
    """`<directory>/<key>.json`, each a JSON object; what is missing here is looked for in the
    registry's layer cache (`remote`, under `<kind>:<key>`) and kept here. Every record read or
    written is noted in `used` (by `<kind>:<key>`), for the registry's cache."""

    def __init__(
        self, directory: Path, used: Used, remote: Remote | None = None, kind: str = ""
    ) -> None:
        self.directory = directory
        self._used = used
        self._remote = remote
        self._kind = kind or directory.name

    def load(self, key: str) -> dict[str, Any] | None:
        path = self.directory / f"{key}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = self._from_remote(key)
        if not isinstance(data, dict):
            return None
        self._used.touch(path)
        self._used.records[f"{self._kind}:{key}"] = data
        return data

    def peek(self, key: str) -> dict[str, Any] | None:
        """The record under `key` here, not noted as used and not asked of the registry."""
        try:
            data = json.loads((self.directory / f"{key}.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def store(self, key: str, data: dict[str, Any]) -> None:
        path = self.directory / f"{key}.json"
        self._used.records[f"{self._kind}:{key}"] = data
        try:
            write_atomically(path, json.dumps(data, sort_keys=True))
        except OSError:  # a cache that cannot be written is only a slower run
            return
        self._used.paths.add(path)

    def _from_remote(self, key: str) -> Any:
        if self._remote is None:
            return None
        data = self._remote.record(f"{self._kind}:{key}")
        if isinstance(data, dict):
            with contextlib.suppress(OSError):
                write_atomically(self.directory / f"{key}.json", json.dumps(data, sort_keys=True))
        return data
