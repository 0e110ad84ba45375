"""Small JSON records by key, in one directory; every record read or written is noted as used,
so pruning keeps it."""

from __future__ import annotations

import contextlib
import json
import os

from typing import TYPE_CHECKING
from typing import Any

from poetry_ci_image.plumbing.atomic import write_atomically


if TYPE_CHECKING:
    from pathlib import Path


class Used:
    """The paths this run used: pruning keeps them whatever their age."""

    def __init__(self) -> None:
        self.paths: set[Path] = set()

    def touch(self, path: Path) -> None:
        self.paths.add(path)
        with contextlib.suppress(OSError):
            os.utime(path)


class Records:
    """`<directory>/<key>.json`, each a JSON object."""

    def __init__(self, directory: Path, used: Used) -> None:
        self.directory = directory
        self._used = used

    def load(self, key: str) -> dict[str, Any] | None:
        path = self.directory / f"{key}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        self._used.touch(path)
        return data

    def store(self, key: str, data: dict[str, Any]) -> None:
        path = self.directory / f"{key}.json"
        try:
            write_atomically(path, json.dumps(data, sort_keys=True))
        except OSError:  # a cache that cannot be written is only a slower run
            return
        self._used.paths.add(path)
