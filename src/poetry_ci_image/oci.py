"""File digests, read in chunks (wheels reach hundreds of megabytes)."""

from __future__ import annotations

import hashlib

from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from pathlib import Path


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of the file at `path`."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
